"""What Graph answers to a `$select` or a key it cannot take: a name that is no property of
the type is 400 (servicePrincipal.md, and memberOf's groups, directory roles and
administrative units), an object in memberOf carries only the selected properties its own
type has (no null for the others), an `id` that is no GUID in `$filter` is 400 "Invalid
object identifier", and one SKU twice in assignLicense's addLicenses is 400. Each test fails
against a sandbox that answers the kind way (null, an empty page, or 200)."""

from __future__ import annotations

from tests.sandbox.entra_support import E3, EntraDir, assert_graph_error, new_user_body
from tests.sandbox.test_entra_roles import admin_directory, user_id


def test_an_unknown_service_principal_property_in_select_is_400(entra: EntraDir) -> None:
    sp = entra.sp("Salesforce")["id"]
    with entra.graph() as graph:
        for url, params in [
            ("/servicePrincipals", {"$select": "id,appRoless"}),
            (f"/servicePrincipals/{sp}", {"$select": "id,appRoless"}),
            ("/servicePrincipals", {"$select": "appRoless", "$filter": "displayName eq 'No'"}),
        ]:
            assert_graph_error(
                graph.get(url, params=params),
                400,
                "BadRequest",
                "Could not find a property named 'appRoless' on type "
                "'microsoft.graph.servicePrincipal'.",
            )
        chosen = graph.get("/servicePrincipals", params={"$select": "id,appRoles,tags"})
    assert chosen.status_code == 200, chosen.text
    (only,) = chosen.json()["value"]
    assert set(only) == {"id", "appRoles", "tags"}  # only what was selected


def test_member_of_gives_each_object_only_the_selected_properties_of_its_type(
    sandbox_server,
) -> None:
    admins = admin_directory(sandbox_server)
    boss = user_id(admins, "boss")
    with admins.graph() as graph:
        page = graph.get(
            f"/users/{boss}/memberOf", params={"$select": "id,displayName,mailEnabled"}
        )
        assert page.status_code == 200, page.text
        by_type = {o.pop("@odata.type"): o for o in page.json()["value"]}
        for params in ({"$select": "id,mailEnabld"}, {"$select": "mailEnabld", "$top": "1"}):
            assert_graph_error(
                graph.get(f"/users/{boss}/memberOf", params=params),
                400,
                "BadRequest",
                "Could not find a property named 'mailEnabld' on type "
                "'microsoft.graph.directoryObject'.",
            )
    assert set(by_type["#microsoft.graph.group"]) == {"id", "displayName", "mailEnabled"}
    # mailEnabled is a group's property: a role and a unit leave it out rather than say null
    assert set(by_type["#microsoft.graph.directoryRole"]) == {"id", "displayName"}
    assert set(by_type["#microsoft.graph.administrativeUnit"]) == {"id", "displayName"}


def test_an_id_that_is_no_guid_in_a_filter_is_400(entra: EntraDir) -> None:
    with entra.graph() as graph:
        for url, clause in [
            ("/users", "id eq 'abc'"),
            ("/groups", "id eq 'not-a-guid'"),
            ("/servicePrincipals", "id eq '12345'"),
            ("/users", "id in ('abc')"),
        ]:
            bad = clause.split("'")[1]
            assert_graph_error(
                graph.get(url, params={"$filter": clause}),
                400,
                "Request_BadRequest",
                f"Invalid object identifier '{bad}'.",
            )
        unknown = "00000000-0000-0000-0000-0000000000aa"
        fine = graph.get("/users", params={"$filter": f"id eq '{unknown}'"})
    assert fine.status_code == 200 and fine.json()["value"] == []


def test_a_sku_twice_in_add_licenses_is_400_and_assigns_nothing(entra: EntraDir) -> None:
    with entra.graph() as graph:
        user = graph.get("/users").json()["value"][0]["id"]
        twice = graph.post(
            f"/users/{user}/assignLicense",
            json={
                "addLicenses": [{"skuId": E3, "disabledPlans": []}] * 2,
                "removeLicenses": [],
            },
        )
        held = graph.get(f"/users/{user}", params={"$select": "assignedLicenses"}).json()
    assert_graph_error(
        twice, 400, "Request_BadRequest", "Invalid value specified for property 'addLicenses'."
    )
    assert held["assignedLicenses"] == []


def test_a_group_or_service_principal_key_that_is_no_guid_is_400(entra: EntraDir) -> None:
    """Groups and service principals are keyed by their GUID only (a user also by its UPN, so
    /users/abc stays 404): Graph answers 400 "Invalid object identifier" where the sandbox
    said 404, which a caller reads as "deleted" (AzureAD/microsoft-authentication-library-
    for-dotnet#1321: GET /groups/{id}/members with a non-GUID id)."""
    with entra.graph() as graph:
        for url in ["/groups/abc", "/groups/Staff/members", "/servicePrincipals/Salesforce"]:
            bad = url.split("/")[2]
            assert_graph_error(
                graph.get(url), 400, "Request_BadRequest", f"Invalid object identifier '{bad}'."
            )
        missing = "00000000-0000-0000-0000-0000000000aa"
        assert graph.get(f"/groups/{missing}").status_code == 404
        assert graph.get("/users/abc").status_code == 404


def test_users_listed_as_directory_objects_take_only_user_properties_in_select(
    entra: EntraDir,
) -> None:
    """A group's members, a manager and direct reports are directoryObject collections: a
    `$select` name that is no property of any listed type is 400, as on memberOf (the sandbox
    answered it with null, so a misspelt name read as "not set")."""
    with entra.graph() as graph:
        boss = graph.get("/users").json()["value"][0]["id"]
        report = graph.post("/users", json=new_user_body(entra.domain, "rita")).json()["id"]
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{boss}"}
        assert graph.put(f"/users/{report}/manager/$ref", json=ref).status_code == 204
        staff = entra.group_id("Staff")
        for url in [f"/groups/{staff}/members", f"/users/{report}/manager"]:
            assert_graph_error(
                graph.get(url, params={"$select": "id,jobTitel"}),
                400,
                "BadRequest",
                "Could not find a property named 'jobTitel' on type "
                "'microsoft.graph.directoryObject'.",
            )
        assert_graph_error(
            graph.get(f"/users/{boss}/directReports", params={"$select": "jobTitel"}),
            400,
            "BadRequest",
            "Could not find a property named 'jobTitel'",
        )
        reports = graph.get(f"/users/{boss}/directReports", params={"$select": "id,jobTitle"})
    assert reports.json()["value"] == [
        {"id": report, "jobTitle": None, "@odata.type": "#microsoft.graph.user"}
    ]


def test_an_unknown_property_in_select_on_the_apps_own_principal_is_400(entra: EntraDir) -> None:
    url = f"/servicePrincipals(appId='{entra.client_id}')"
    with entra.graph() as graph:
        unknown = graph.get(url, params={"$select": "id,appRoless"})
        documented = graph.get(url, params={"$select": "id,tags"})
    assert_graph_error(
        unknown,
        400,
        "BadRequest",
        "Could not find a property named 'appRoless' on type 'microsoft.graph.servicePrincipal'.",
    )
    assert documented.status_code == 200, documented.text
    assert documented.json() == {"id": documented.json()["id"], "tags": None}


def test_an_unknown_property_in_select_on_deleted_users_is_400(entra: EntraDir) -> None:
    """Deleted users are users (`/directory/deletedItems/microsoft.graph.user`) or directory
    objects (`/directory/deletedItems/{id}`): a $select name that is no user property is 400
    as on /users; the sandbox answered it with null."""
    with entra.graph() as graph:
        made = graph.post("/users", json=new_user_body(entra.domain, "gone"))
        gone = made.json()["id"]
        assert graph.delete(f"/users/{gone}").status_code == 204
        listed = "/directory/deletedItems/microsoft.graph.user"
        for url, type_name in [
            (listed, "microsoft.graph.user"),
            (f"/directory/deletedItems/{gone}", "microsoft.graph.directoryObject"),
        ]:
            refused = graph.get(url, params={"$select": "id,deletedDate"})
            assert_graph_error(
                refused,
                400,
                "BadRequest",
                f"Could not find a property named 'deletedDate' on type '{type_name}'.",
            )
        page = graph.get(listed, params={"$select": "id,deletedDateTime"}).json()["value"]
        assert [(u["id"], bool(u["deletedDateTime"])) for u in page] == [(gone, True)]
        one = graph.get(f"/directory/deletedItems/{gone}", params={"$select": "displayName"})
        assert one.json()["displayName"] == "Gone"
