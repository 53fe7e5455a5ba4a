"""Request rules Graph enforces that a kinder sandbox let through: no empty strings in a
user's properties (null clears one), assignLicense with both of its lists, no `$skip` on
directory objects, and the client's `client-request-id` echoed back. Sources in
docs/sandbox-fidelity.md ("Request rules") and beside each rule in sandbox/entra/."""

from __future__ import annotations

import json
import uuid

import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)

from tests.sandbox.entra_support import EntraDir, assert_graph_error, new_user_body, run_sdk

SPE_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # the SKU id Microsoft publishes for SPE_E3


def invalid(prop: str) -> str:
    return f"Invalid value specified for property '{prop}' of resource 'User'."


def missing(names: str) -> str:
    return (
        "One or more parameters of the operation 'assignLicense' are missing from the request "
        f"payload. The missing parameters are: {names}."
    )


@pytest.mark.parametrize("prop", ["givenName", "department", "jobTitle", "officeLocation"])
def test_an_empty_string_is_refused_where_null_clears(entra: EntraDir, prop: str) -> None:
    with entra.graph() as graph:
        refused = graph.post("/users", json=new_user_body(entra.domain, "blank", **{prop: ""}))
        assert_graph_error(refused, 400, "Request_BadRequest", invalid(prop))
        assert graph.get(f"/users/blank@{entra.domain}").status_code == 404

        value = f"kept@{entra.domain}" if prop == "mail" else "Kept"
        made = graph.post("/users", json=new_user_body(entra.domain, "kept", **{prop: value}))
        assert made.status_code == 201, made.text
        user = f"/users/{made.json()['id']}"
        assert_graph_error(graph.patch(user, json={prop: ""}), 400, "Request_BadRequest")
        assert graph.get(user, params={"$select": prop}).json()[prop] == value

        assert graph.patch(user, json={prop: None}).status_code == 204
        assert graph.get(user, params={"$select": prop}).json()[prop] is None


def test_mail_cannot_be_updated_to_null(entra: EntraDir) -> None:
    """A user's mail "Can't be updated to `null`" (agentuser-update.md; an agent user is a
    user, updated through PATCH /users/{id} too), "" neither; microsoft-graph-docs#18722: an
    error for null or "" on an update. A create without mail leaves it null, and a new
    address replaces the old one. The sandbox cleared it and emptied proxyAddresses."""
    with entra.graph() as graph:
        bare = graph.post("/users", json=new_user_body(entra.domain, "bare"))
        assert bare.status_code == 201, bare.text
        assert bare.json()["mail"] is None
        made = graph.post(
            "/users", json=new_user_body(entra.domain, "kept", mail=f"kept@{entra.domain}")
        )
        user = f"/users/{made.json()['id']}"
        for value in (None, ""):
            refused = graph.patch(user, json={"mail": value})
            assert_graph_error(refused, 400, "Request_BadRequest", invalid("mail"))
        kept = graph.get(user, params={"$select": "mail,proxyAddresses"}).json()
        assert kept["mail"] == f"kept@{entra.domain}"
        assert kept["proxyAddresses"] == [f"SMTP:kept@{entra.domain}"]
        moved = graph.patch(user, json={"mail": f"moved@{entra.domain}"})
        assert moved.status_code == 204, moved.text
        assert graph.get(user, params={"$select": "mail"}).json()["mail"] == f"moved@{entra.domain}"


def test_an_empty_string_in_a_list_is_refused(entra: EntraDir) -> None:
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "lists", otherMails=["", "a@elsewhere.example"])
        assert_graph_error(graph.post("/users", json=body), 400, "Request_BadRequest")
        body = new_user_body(entra.domain, "lists", otherMails=["a@elsewhere.example"])
        user = f"/users/{graph.post('/users', json=body).json()['id']}"
        assert graph.patch(user, json={"otherMails": None}).status_code == 204  # null clears


def test_assign_license_takes_both_lists(entra: EntraDir) -> None:
    """Without removeLicenses (or addLicenses) the whole call is refused, nothing assigned; with
    both, an empty one is fine."""
    with entra.graph() as graph:
        user = graph.post(
            "/users", json=new_user_body(entra.domain, "lic", usageLocation="GB")
        ).json()["id"]
        url = f"/users/{user}/assignLicense"
        add = [{"skuId": SPE_E3, "disabledPlans": []}]
        refused = graph.post(url, json={"addLicenses": add})
        assert_graph_error(refused, 400, "Request_BadRequest", missing("removeLicenses"))
        assert graph.get(f"/users/{user}/licenseDetails").json()["value"] == []

        refused = graph.post(url, json={"removeLicenses": [SPE_E3]})
        assert_graph_error(refused, 400, "Request_BadRequest", missing("addLicenses"))
        refused = graph.post(url, json={"addLicenses": add, "removeLicenses": None})
        assert_graph_error(refused, 400, "Request_BadRequest", missing("removeLicenses"))
        assert_graph_error(graph.post(url, json={}), 400, "Request_BadRequest", "addLicenses, re")

        assert graph.post(url, json={"addLicenses": add, "removeLicenses": []}).status_code == 200
        removed = graph.post(url, json={"addLicenses": [], "removeLicenses": [SPE_E3]})
        assert removed.status_code == 200, removed.text

        group = entra.group_id("Staff")
        refused = graph.post(f"/groups/{group}/assignLicense", json={"addLicenses": add})
        assert_graph_error(refused, 400, "Request_BadRequest", missing("removeLicenses"))


def test_the_sdk_sends_both_lists_when_both_are_set(entra: EntraDir) -> None:
    """msgraph-sdk writes what it is given: a body without remove_licenses is refused, as
    Graph refuses it (the portal's connector always sets both: entra_licences.assign_body)."""
    with entra.graph() as graph:
        user = graph.post(
            "/users", json=new_user_body(entra.domain, "sdk", usageLocation="GB")
        ).json()["id"]

    async def assign(client, **lists):
        body = AssignLicensePostRequestBody(**lists)
        await client.users.by_user_id(user).assign_license.post(body)

    from msgraph.generated.models.assigned_license import AssignedLicense

    add = [AssignedLicense(sku_id=uuid.UUID(SPE_E3), disabled_plans=[])]
    with pytest.raises(ODataError) as refused:
        run_sdk(entra, lambda client: assign(client, add_licenses=add))
    assert refused.value.response_status_code == 400
    assert "removeLicenses" in refused.value.error.message
    run_sdk(entra, lambda client: assign(client, add_licenses=add, remove_licenses=[]))


@pytest.mark.parametrize("url", ["/users", "/groups", "/servicePrincipals"])
def test_skip_is_refused_on_directory_objects(entra: EntraDir, url: str) -> None:
    with entra.graph() as graph:
        refused = graph.get(url, params={"$skip": "1"})
        assert_graph_error(
            refused, 400, "Request_BadRequest", "'$skip' is not supported by the service."
        )
        assert graph.get(url, params={"$top": "1"}).status_code == 200


def test_the_clients_request_id_is_echoed(entra: EntraDir) -> None:
    mine = str(uuid.uuid4())
    with entra.graph() as graph:
        answer = graph.get("/users/nobody@" + entra.domain, headers={"client-request-id": mine})
        assert answer.status_code == 404
        inner = answer.json()["error"]["innerError"]
        assert inner["client-request-id"] == answer.headers["client-request-id"] == mine
        assert inner["request-id"] == answer.headers["request-id"] != mine

        ok = graph.get("/users", params={"$top": "1"}, headers={"client-request-id": mine})
        assert ok.headers["client-request-id"] == mine != ok.headers["request-id"]

        anonymous = graph.get("/users/nobody@" + entra.domain)
        inner = anonymous.json()["error"]["innerError"]
        assert inner["client-request-id"] == inner["request-id"]


@pytest.mark.parametrize("prop", ["createdDateTime", "assignedLicenses", "onPremisesSyncEnabled"])
def test_a_read_only_property_cannot_be_set(entra: EntraDir, prop: str) -> None:
    value = {"assignedLicenses": [], "onPremisesSyncEnabled": True}.get(
        prop, "2020-01-01T00:00:00Z"
    )
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "ro")).json()["id"]
        refused = graph.patch(f"/users/{user}", json={prop: value, "jobTitle": "Analyst"})
        message = f"Property '{prop}' is read-only and cannot be set."
        assert_graph_error(refused, 400, "Request_BadRequest", message)
        assert (
            graph.get(f"/users/{user}", params={"$select": "jobTitle"}).json()["jobTitle"] is None
        )
        made = graph.post("/users", json=new_user_body(entra.domain, "ro2", **{prop: value}))
        assert_graph_error(made, 400, "Request_BadRequest", message)


def test_proxy_addresses_are_not_the_apps_to_set(entra: EntraDir) -> None:
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "px")).json()["id"]
        refused = graph.patch(f"/users/{user}", json={"proxyAddresses": ["SMTP:px@x.example"]})
        assert_graph_error(refused, 403, "Authorization_RequestDenied", "Insufficient privileges")


def test_a_json_body_needs_a_json_content_type(entra: EntraDir) -> None:
    """Graph reads a body only when Content-Type says JSON (microsoft-graph-docs-contrib#6337:
    400 "Unable to read JSON request payload. Please ensure Content-Type header is set …");
    the sandbox read any body as JSON, so a raw call that forgot the header passed."""
    unreadable = "Unable to read JSON request payload. Please ensure Content-Type header is set"
    with entra.graph() as graph:
        made = graph.post("/users", json=new_user_body(entra.domain, "typed"))
        user = f"/users/{made.json()['id']}"
        change = json.dumps({"jobTitle": "Changed"})
        for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}):
            refused = graph.patch(user, content=change, headers=headers)
            assert_graph_error(refused, 400, "BadRequest", unreadable)
        assert graph.get(user, params={"$select": "jobTitle"}).json()["jobTitle"] is None

        body = json.dumps(new_user_body(entra.domain, "untyped"))
        assert_graph_error(graph.post("/users", content=body), 400, "BadRequest", unreadable)
        assert graph.get(f"/users/untyped@{entra.domain}").status_code == 404
        batch = json.dumps({"requests": [{"id": "1", "method": "GET", "url": "/users"}]})
        assert_graph_error(graph.post("/$batch", content=batch), 400, "BadRequest", unreadable)

        with_charset = {"Content-Type": "application/json; charset=utf-8"}
        assert graph.patch(user, content=change, headers=with_charset).status_code == 204
        assert graph.get(user, params={"$select": "jobTitle"}).json()["jobTitle"] == "Changed"
        assert graph.post(f"{user}/revokeSignInSessions").status_code == 200  # no body at all


def group_body(nickname: str) -> dict:
    return {
        "displayName": "Night Shift",
        "mailEnabled": False,
        "mailNickname": nickname,
        "securityEnabled": True,
    }


@pytest.mark.parametrize(
    "nickname", ["night shift", "night@shift", "night(shift)", "n;s", "x" * 65]
)
def test_a_group_mail_nickname_outside_graphs_characters_is_refused(
    entra: EntraDir, nickname: str
) -> None:
    """group.md: "Maximum length is 64 characters. This property can contain only characters
    in the ASCII character set 0 - 127 except the following characters: @ () \\ [] " ; : <> ,
    SPACE", on create and update; the sandbox stored a space."""
    invalid_group = "Invalid value specified for property 'mailNickname' of resource 'Group'."
    with entra.graph() as graph:
        refused = graph.post("/groups", json=group_body(nickname))
        assert_graph_error(refused, 400, "Request_BadRequest", invalid_group)
        made = graph.post("/groups", json=group_body("night-shift.team"))
        assert made.status_code == 201, made.text
        group_id = made.json()["id"]
        renamed = graph.patch(f"/groups/{group_id}", json={"mailNickname": nickname})
        assert_graph_error(renamed, 400, "Request_BadRequest", invalid_group)
        kept = graph.get(f"/groups/{group_id}", params={"$select": "mailNickname"})
        assert kept.json()["mailNickname"] == "night-shift.team"


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-01-05", "2026-01-05T09:00:00", "2026-02-30T00:00:00Z"]
)
def test_employee_hire_date_is_a_date_time_offset(entra: EntraDir, value: object) -> None:
    """user.md: employeeHireDate is a DateTimeOffset ("ISO 8601 format and is always in UTC
    time", e.g. 2014-01-01T00:00:00Z); OData refuses a literal that is none (no offset
    included: odata.net#2113). The sandbox stored any string."""
    cannot = "to the expected type 'Edm.DateTimeOffset'"
    with entra.graph() as graph:
        refused = graph.post(
            "/users", json=new_user_body(entra.domain, "hired", employeeHireDate=value)
        )
        assert_graph_error(refused, 400, "BadRequest", cannot)
        assert graph.get(f"/users/hired@{entra.domain}").status_code == 404

        made = graph.post(
            "/users",
            json=new_user_body(entra.domain, "hired", employeeHireDate="2026-01-05T09:00:00Z"),
        )
        assert made.status_code == 201, made.text
        changed = graph.patch(f"/users/{made.json()['id']}", json={"employeeHireDate": value})
        assert_graph_error(changed, 400, "BadRequest", cannot)
        for taken in ("2026-02-01T00:00:00+01:00", "2026-02-01T08:30:00.5Z", None):
            ok = graph.patch(f"/users/{made.json()['id']}", json={"employeeHireDate": taken})
            assert ok.status_code == 204, ok.text


def test_a_group_display_name_over_256_characters_is_refused(entra: EntraDir) -> None:
    """group.md: displayName "Maximum length is 256 characters", on create and update, as
    a user's; the sandbox took any length. Graph's text for it is not published: its usual
    invalid-value 400."""
    invalid_group = "Invalid value specified for property 'displayName' of resource 'Group'."
    with entra.graph() as graph:
        long_body = {**group_body("long"), "displayName": "L" * 257}
        assert_graph_error(
            graph.post("/groups", json=long_body), 400, "Request_BadRequest", invalid_group
        )
        made = graph.post("/groups", json={**group_body("long"), "displayName": "L" * 256})
        assert made.status_code == 201, made.text
        renamed = graph.patch(f"/groups/{made.json()['id']}", json={"displayName": "M" * 257})
        assert_graph_error(renamed, 400, "Request_BadRequest", invalid_group)
        kept = graph.get(f"/groups/{made.json()['id']}", params={"$select": "displayName"})
        assert kept.json()["displayName"] == "L" * 256


def test_an_app_role_assignment_names_principal_resource_and_role(entra: EntraDir) -> None:
    """approleassignment.md: principalId and resourceId are each "Required on create", as
    appRoleId (serviceprincipal-post-approleassignedto.md: "you need three identifiers"), on
    both routes, whatever the URL names already. The sandbox took the id missing from the
    body from the URL and made the assignment."""
    sp = entra.sp("Salesforce")
    role = next(r["id"] for r in sp["appRoles"] if r["value"] == "User")
    by_sp = f"/servicePrincipals/{sp['id']}/appRoleAssignedTo"
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "roles")).json()["id"]
        by_user = f"/users/{user}/appRoleAssignments"
        full = {"principalId": user, "resourceId": sp["id"], "appRoleId": role}
        for url, missing_name in ((by_sp, "resourceId"), (by_user, "principalId")):
            body = {k: v for k, v in full.items() if k != missing_name}
            refused = graph.post(url, json=body)
            assert_graph_error(
                refused,
                400,
                "Request_BadRequest",
                f"Invalid value specified for property '{missing_name}' of resource "
                "'AppRoleAssignment'.",
            )
        assert graph.get(by_user).json()["value"] == []
        assert graph.post(by_sp, json=full).status_code == 201
