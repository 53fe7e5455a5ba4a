"""Graph's system query options as the published API takes them: `/$count` as a URL segment
(text/plain with ConsistencyLevel: eventual, 400 without), `@odata.count` on the first page
only, an unknown `$` option refused, and `$expand` on users and groups (one navigation
property, at most 20 objects, 400 for a name that is none, ExpandNotSupported for one the
schema does not expand). Each test fails against a sandbox that answers the kind way (404,
a count on every page, or the option silently ignored)."""

from __future__ import annotations

from tests.sandbox.entra_support import EntraDir, assert_graph_error, new_user_body, run_sdk

EVENTUAL = {"ConsistencyLevel": "eventual"}


def _add_users(entra: EntraDir, graph, names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        made = graph.post("/users", json=new_user_body(entra.domain, name))
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
    return ids


def test_count_segment_answers_text_with_consistency_level_and_400_without(
    entra: EntraDir,
) -> None:
    with entra.graph() as graph:
        _add_users(entra, graph, ["ann", "bob"])
        users = graph.get("/users/$count", headers=EVENTUAL)
        filtered = graph.get(
            "/users/$count",
            params={"$filter": f"endsWith(userPrincipalName,'@{entra.domain}')"},
            headers=EVENTUAL,
        )
        groups = graph.get("/groups/$count", headers=EVENTUAL)
        principals = graph.get("/servicePrincipals/$count", headers=EVENTUAL)
        for url in ("/users/$count", "/groups/$count", "/servicePrincipals/$count"):
            assert_graph_error(
                graph.get(url), 400, "Request_BadRequest", "$count is not currently supported."
            )
    assert users.status_code == 200, users.text
    assert users.headers["content-type"].startswith("text/plain")
    assert users.text == "3"  # existing@, ann@, bob@
    assert filtered.text == "3"  # endsWith: an advanced query, which the segment makes
    assert groups.text == "3"
    assert principals.text == "1"


def test_count_segment_through_the_sdk(entra: EntraDir) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    async def work(client):
        config = RequestConfiguration()
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.users.count.get(config)

    assert run_sdk(entra, work) == 1


def test_odata_count_is_on_the_first_page_only(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _add_users(entra, graph, ["ann", "bob"])
        params = {"$count": "true", "$top": "2"}
        first = graph.get("/users", params=params, headers=EVENTUAL)
        assert first.status_code == 200, first.text
        second = graph.get(first.json()["@odata.nextLink"], headers=EVENTUAL)
    assert first.json()["@odata.count"] == 3
    assert second.status_code == 200, second.text
    assert "@odata.count" not in second.json()
    assert len(second.json()["value"]) == 1


def test_an_unknown_system_query_option_is_400(entra: EntraDir) -> None:
    user = entra.state()["users"][0]["id"]
    with entra.graph() as graph:
        for url in ("/users", f"/users/{user}", "/groups", "/servicePrincipals"):
            assert_graph_error(
                graph.get(url, params={"$selct": "id"}),
                400,
                "Request_BadRequest",
                "Unrecognized query argument specified: '$selct'.",
            )
        # The names of the options themselves are not case-sensitive.
        upper = graph.get("/users", params={"$SELECT": "id", "$Top": "1"})
    assert upper.status_code == 200, upper.text
    assert set(upper.json()["value"][0]) == {"id"}


def test_expand_on_users_gives_the_manager_reports_and_memberships(entra: EntraDir) -> None:
    staff = entra.group_id("Staff")
    with entra.graph() as graph:
        ids = _add_users(entra, graph, ["boss", "ann"])
        ref = {"@odata.id": f"{entra.server.url}/v1.0/users/{ids['boss']}"}
        assert graph.put(f"/users/{ids['ann']}/manager/$ref", json=ref).status_code == 204
        ann_ref = {"@odata.id": f"{entra.server.url}/v1.0/directoryObjects/{ids['ann']}"}
        assert graph.post(f"/groups/{staff}/members/$ref", json=ann_ref).status_code == 204
        ann = graph.get(f"/users/{ids['ann']}", params={"$expand": "manager"})
        listed = graph.get(
            "/users",
            params={
                "$filter": f"id eq '{ids['ann']}'",
                "$select": "displayName",
                "$expand": "manager",
            },
        )
        reports = graph.get(f"/users/{ids['boss']}", params={"$expand": "directReports"})
        groups = graph.get(f"/users/{ids['ann']}", params={"$expand": "memberOf"})
        members = graph.get(f"/groups/{staff}", params={"$expand": "members"})
    assert ann.status_code == 200, ann.text
    assert ann.json()["manager"]["id"] == ids["boss"]
    assert ann.json()["manager"]["@odata.type"] == "#microsoft.graph.user"
    (row,) = listed.json()["value"]
    assert row["displayName"] == "Ann" and row["manager"]["id"] == ids["boss"]
    assert [r["id"] for r in reports.json()["directReports"]] == [ids["ann"]]
    assert [g["id"] for g in groups.json()["memberOf"]] == [staff]
    assert [m["id"] for m in members.json()["members"]] == [ids["ann"]]


def test_an_expanded_collection_holds_twenty_objects_at_most(entra: EntraDir) -> None:
    staff = entra.group_id("Staff")
    with entra.graph() as graph:
        ids = _add_users(entra, graph, [f"member{n}" for n in range(22)])
        for user_id in ids.values():
            ref = {"@odata.id": f"{entra.server.url}/v1.0/directoryObjects/{user_id}"}
            assert graph.post(f"/groups/{staff}/members/$ref", json=ref).status_code == 204
        group = graph.get(f"/groups/{staff}", params={"$expand": "members"})
    assert group.status_code == 200, group.text
    assert len(group.json()["members"]) == 20
    assert "members@odata.nextLink" not in group.json()


def test_expand_refuses_what_graph_refuses(entra: EntraDir) -> None:
    user = entra.state()["users"][0]["id"]
    staff = entra.group_id("Staff")
    with entra.graph() as graph:
        unknown = graph.get(f"/users/{user}", params={"$expand": "managr"})
        unknown_on_groups = graph.get("/groups", params={"$expand": "memberz"})
        two = graph.get("/users", params={"$expand": "manager,memberOf"})
        photo = graph.get(f"/users/{user}", params={"$expand": "photo"})
        structural = graph.get(f"/groups/{staff}", params={"$expand": "displayName"})
        advanced = graph.get(
            "/users", params={"$expand": "manager", "$count": "true"}, headers=EVENTUAL
        )
    assert_graph_error(
        unknown,
        400,
        "BadRequest",
        "Could not find a property named 'managr' on type 'microsoft.graph.user'.",
    )
    assert_graph_error(
        unknown_on_groups,
        400,
        "BadRequest",
        "Could not find a property named 'memberz' on type 'microsoft.graph.group'.",
    )
    assert_graph_error(
        two,
        400,
        "BadRequest",
        "The result of parsing $expand contained at least 2 items, but the maximum allowed is 1.",
    )
    assert_graph_error(
        photo,
        400,
        "ExpandNotSupported",
        "Expand is not allowed for property 'photo' according to the entity schema.",
    )
    assert_graph_error(
        structural,
        400,
        "BadRequest",
        "Property 'displayName' on type 'microsoft.graph.group' is not a navigation property",
    )
    assert_graph_error(advanced, 400, "Request_UnsupportedQuery", "$expand")


def test_expand_where_the_sandbox_does_not_model_it_is_refused_not_ignored(
    entra: EntraDir,
) -> None:
    sp = entra.sp("Salesforce")["id"]
    user = entra.state()["users"][0]["id"]
    with entra.graph() as graph:
        for url, expand in [
            (f"/servicePrincipals/{sp}", "appRoleAssignedTo"),
            (f"/users/{user}", "ownedObjects"),
            ("/organization", "extensions"),
        ]:
            refused = graph.get(url, params={"$expand": expand})
            assert_graph_error(refused, 501, "NotImplemented", "$expand")


def test_a_page_with_an_expansion_holds_a_hundred_objects_at_most(entra: EntraDir) -> None:
    with entra.server.control() as control:
        made = control.post(f"/_sandbox/entra/{entra.tenant_id}/generate", json={"users": 150})
        assert made.status_code == 201, made.text
    with entra.graph() as graph:
        params = {"$top": "999", "$select": "id"}
        plain = graph.get("/users", params=params)
        expanded = graph.get("/users", params={**params, "$expand": "manager"})
        assert expanded.status_code == 200, expanded.text
        rest = graph.get(expanded.json()["@odata.nextLink"])
    assert len(plain.json()["value"]) == 151
    assert len(expanded.json()["value"]) == 100
    assert "manager" in rest.json()["value"][0]  # the next link keeps the expansion


def test_filter_orderby_and_search_the_sandbox_does_not_apply_are_refused_not_ignored(
    entra: EntraDir,
) -> None:
    """A group's members, a user's memberOf, /groups sorted, deleted users sorted: Graph
    filters, sorts or searches these (or refuses the query); the sandbox answered every
    object in its own order, so a connector trusting the option read the wrong people."""
    with entra.graph() as graph:
        ids = _add_users(entra, graph, ["ann", "bob"])
        group = graph.post(
            "/groups",
            json={
                "displayName": "Sales",
                "mailNickname": "sales",
                "mailEnabled": False,
                "securityEnabled": True,
            },
        ).json()["id"]
        for user in ids.values():
            ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user}"}
            assert graph.post(f"/groups/{group}/members/$ref", json=ref).status_code == 204
        assert graph.delete(f"/users/{ids['bob']}").status_code == 204
        members = f"/groups/{group}/members"
        for url, params in [
            (members, {"$filter": "displayName eq 'Ann'"}),
            (members, {"$orderby": "displayName"}),
            (members, {"$search": '"displayName:ann"'}),
            (f"/users/{ids['ann']}/memberOf", {"$filter": "displayName eq 'Nobody'"}),
            ("/groups", {"$orderby": "displayName"}),
            ("/directory/deletedItems/microsoft.graph.user", {"$orderby": "deletedDateTime"}),
            ("/servicePrincipals", {"$orderby": "displayName"}),
        ]:
            for headers in ({}, EVENTUAL):
                refused = graph.get(url, params=params, headers=headers)
                assert_graph_error(refused, 501, "NotImplemented", next(iter(params)))

        # Where the sandbox applies them, they still work.
        users = graph.get("/users", params={"$filter": "displayName eq 'Ann'"}).json()["value"]
        assert [u["id"] for u in users] == [ids["ann"]]
        ordered = graph.get("/users", params={"$orderby": "displayName"})
        assert ordered.status_code == 200, ordered.text
        groups = graph.get("/groups", params={"$filter": "displayName eq 'Sales'"})
        assert [g["id"] for g in groups.json()["value"]] == [group]


def test_select_and_top_the_sandbox_does_not_apply_are_refused_not_ignored(
    entra: EntraDir,
) -> None:
    """subscribedSkus, organization, a user's licenseDetails or mailboxSettings: the sandbox
    answered every property and every object whatever `$select` and `$top` asked, so code
    reading a property it had not selected passed here and read null at Graph."""
    user = entra.state()["users"][0]["id"]
    with entra.graph() as graph:
        for url, params in [
            ("/subscribedSkus", {"$select": "skuId"}),
            ("/organization", {"$select": "id"}),
            (f"/users/{user}/licenseDetails", {"$top": "1"}),
            (f"/users/{user}/licenseDetails", {"$select": "skuId"}),
        ]:
            refused = graph.get(url, params=params)
            assert_graph_error(refused, 501, "NotImplemented", next(iter(params)))
        assert graph.get("/subscribedSkus").status_code == 200
        users = graph.get("/users", params={"$select": "id", "$top": "1"})
        assert [list(u) for u in users.json()["value"]] == [["id"]]
        # The role definitions the connector reads with $select=id,displayName apply it.
        roles = graph.get(
            "/roleManagement/directory/roleDefinitions", params={"$select": "id,displayName"}
        )
        assert roles.status_code == 200, roles.text
        assert {tuple(r) for r in roles.json()["value"]} == {("id", "displayName")}
