"""Graph users/delta and groups/delta in the sandbox: a full read, then incremental reads after
changes made behind the reader's back (Graph writes and the control API), through the real
msgraph-sdk where it has the call and raw httpx for the details."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.delta.delta_request_builder import (
    DeltaRequestBuilder as GroupsDelta,
)
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder as UsersDelta

from tests.sandbox.entra_support import (
    EntraDir,
    assert_graph_error,
    make_entra,
    new_user_body,
    run_sdk,
)


def read_round(graph: httpx.Client, first: str, **params: str) -> tuple[list[dict], str, int]:
    """Every object of one round, its deltaLink and how many pages it took."""
    response = graph.get(first, params=params or None)
    objects, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        objects.extend(body["value"])
        assert not ("@odata.nextLink" in body and "@odata.deltaLink" in body)
        if "@odata.deltaLink" in body:
            return objects, body["@odata.deltaLink"], pages
        response = graph.get(body["@odata.nextLink"])


def by_id(objects: list[dict]) -> dict[str, dict]:
    return {o["id"]: o for o in objects}


def members(objects: list[dict]) -> dict[str, dict[str, bool]]:
    """Per group, the members@delta merged over the pages: user id -> added."""
    merged: dict[str, dict[str, bool]] = {}
    for obj in objects:
        for ref in obj.get("members@delta", []):
            merged.setdefault(obj["id"], {})[ref["id"]] = "@removed" not in ref
    return merged


def create(graph: httpx.Client, domain: str, nickname: str, **extra: Any) -> dict:
    response = graph.post("/users", json=new_user_body(domain, nickname, **extra))
    assert response.status_code == 201, response.text
    return response.json()


def add(graph: httpx.Client, group_id: str, user_id: str) -> None:
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"}
    response = graph.post(f"/groups/{group_id}/members/$ref", json=ref)
    assert response.status_code == 204, response.text


# Users ----------------------------------------------------------------------------------------


def test_sdk_full_read_then_only_what_changed_behind_its_back(entra: EntraDir) -> None:
    select = ["id", "displayName", "accountEnabled", "department", "assignedLicenses"]

    async def first_round(client) -> tuple[list, str]:
        config = RequestConfiguration(
            query_parameters=UsersDelta.DeltaRequestBuilderGetQueryParameters(select=select)
        )
        page = await client.users.delta.get(request_configuration=config)
        found = list(page.value)
        while page.odata_next_link:
            page = await client.users.delta.with_url(page.odata_next_link).get()
            found.extend(page.value)
        return found, page.odata_delta_link

    found, delta_link = run_sdk(entra, first_round)
    assert [u.display_name for u in found] == ["Existing Person"]
    assert found[0].account_enabled is True

    with entra.graph() as graph:
        newcomer = create(graph, entra.domain, "newcomer", usageLocation="GB")
        existing = graph.get(f"/users/existing@{entra.domain}").json()
        mover = create(graph, entra.domain, "mover")
        graph.patch(f"/users/{mover['id']}", json={"department": "Finance"})
        gone = create(graph, entra.domain, "gone")
        licence = {
            "addLicenses": [{"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965"}],
            "removeLicenses": [],
        }
        assert graph.post(f"/users/{newcomer['id']}/assignLicense", json=licence).is_success
        graph.patch(f"/users/{existing['id']}", json={"accountEnabled": False})
        graph.delete(f"/users/{gone['id']}")

    async def next_round(client) -> list:
        page = await client.users.delta.with_url(delta_link).get()
        found = list(page.value)
        while page.odata_next_link:
            page = await client.users.delta.with_url(page.odata_next_link).get()
            found.extend(page.value)
        assert page.odata_delta_link
        return found

    changed = {u.id: u for u in run_sdk(entra, next_round)}
    assert set(changed) == {newcomer["id"], existing["id"], mover["id"], gone["id"]}
    assert changed[existing["id"]].account_enabled is False
    assert changed[mover["id"]].department == "Finance"
    assert [str(lic.sku_id) for lic in changed[newcomer["id"]].assigned_licenses] == [
        "05e9a617-0261-4cee-bb44-138d3ef5d965"
    ]
    assert changed[gone["id"]].additional_data["@removed"] == {"reason": "changed"}


def test_pages_carry_only_state_tokens_and_every_user_comes_once(entra: EntraDir) -> None:
    with entra.graph() as graph:
        made = {create(graph, entra.domain, f"pager{n}")["id"] for n in range(6)}
        objects, delta_link, pages = read_round(
            graph, "/users/delta", **{"$select": "displayName", "$top": "2"}
        )
        assert pages == 4
        assert sorted(o["id"] for o in objects) == sorted(made | {entra.state()["users"][0]["id"]})
        first = graph.get("/users/delta", params={"$select": "displayName", "$top": "2"}).json()
        assert set(parse_qs(urlsplit(first["@odata.nextLink"]).query)) == {"$skiptoken"}
        assert set(parse_qs(urlsplit(delta_link).query)) == {"$deltatoken"}
        # The round's $select travels in the tokens: later pages keep it.
        assert all(set(o) == {"id", "displayName"} for o in objects)
        again, _, _ = read_round(graph, delta_link)
        assert again == []


def test_only_changes_of_selected_properties_bring_a_user_back(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _, delta_link, _ = read_round(graph, "/users/delta", **{"$select": "displayName"})
        existing = graph.get(f"/users/existing@{entra.domain}").json()
        graph.patch(f"/users/{existing['id']}", json={"jobTitle": "Unseen"})
        quiet, delta_link, _ = read_round(graph, delta_link)
        assert quiet == []
        graph.patch(f"/users/{existing['id']}", json={"displayName": "Seen Person"})
        seen, _, _ = read_round(graph, delta_link)
        assert seen == [{"id": existing["id"], "displayName": "Seen Person"}]


def test_minimal_responses_hold_only_the_changed_properties(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _, delta_link, _ = read_round(
            graph, "/users/delta", **{"$select": "displayName,jobTitle,department"}
        )
        existing = graph.get(f"/users/existing@{entra.domain}").json()
        graph.patch(f"/users/{existing['id']}", json={"jobTitle": None})
        full = graph.get(delta_link).json()["value"]
        minimal = graph.get(delta_link, headers={"Prefer": "return=minimal"}).json()["value"]
    assert full == [
        {
            "id": existing["id"],
            "displayName": "Existing Person",
            "jobTitle": None,
            "department": "Sales",
        }
    ]
    assert minimal == [{"id": existing["id"], "jobTitle": None}]


def test_deleted_restored_and_purged_users(entra: EntraDir) -> None:
    with entra.graph() as graph:
        soft = create(graph, entra.domain, "soft")
        hard = create(graph, entra.domain, "hard")
        graph.delete(f"/users/{soft['id']}")
        graph.delete(f"/users/{hard['id']}")
        first, delta_link, _ = read_round(graph, "/users/delta")
        # Soft-deleted users may come as @removed in a first round too (Graph documents it).
        assert by_id(first)[soft["id"]] == {"id": soft["id"], "@removed": {"reason": "changed"}}
        assert graph.post(f"/directory/deletedItems/{soft['id']}/restore").is_success
        assert graph.delete(f"/directory/deletedItems/{hard['id']}").status_code == 204
        changed, _, _ = read_round(graph, delta_link)
    changed_by_id = by_id(changed)
    assert changed_by_id[hard["id"]] == {"id": hard["id"], "@removed": {"reason": "deleted"}}
    assert changed_by_id[soft["id"]]["userPrincipalName"] == f"soft@{entra.domain}"
    assert "@removed" not in changed_by_id[soft["id"]]


def test_latest_token_skips_the_full_read(entra: EntraDir) -> None:
    with entra.graph() as graph:
        now = graph.get("/users/delta", params={"$deltatoken": "latest"}).json()
        assert now["value"] == [] and "@odata.nextLink" not in now
        user = create(graph, entra.domain, "after")
        changed, _, _ = read_round(graph, now["@odata.deltaLink"])
    assert [u["id"] for u in changed] == [user["id"]]


def test_filter_by_id_only(entra: EntraDir) -> None:
    with entra.graph() as graph:
        one = create(graph, entra.domain, "one")
        create(graph, entra.domain, "two")
        found, _, _ = read_round(graph, "/users/delta", **{"$filter": f"id eq '{one['id']}'"})
        assert [u["id"] for u in found] == [one["id"]]
        wrong = graph.get("/users/delta", params={"$filter": "department eq 'Sales'"})
        assert_graph_error(wrong, 400, "Request_UnsupportedQuery")
        sign_ins = graph.get("/users/delta", params={"$select": "id,signInActivity"})
        assert_graph_error(sign_ins, 400, "BadRequest", "signInActivity")


def test_unknown_expired_and_reset_tokens(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _, delta_link, _ = read_round(graph, "/users/delta", **{"$select": "displayName"})
        forged = delta_link[: delta_link.index("$deltatoken=") + 12] + "eyJrIjoidXNlcnMifQ.AAAA"
        assert_graph_error(graph.get(forged), 400, "syncStateNotFound")
        other = make_entra(entra.server)
        with other.graph() as theirs:
            assert_graph_error(theirs.get(delta_link), 400, "syncStateNotFound")
        groups_token = delta_link.replace("/users/delta", "/groups/delta")
        assert_graph_error(graph.get(groups_token), 400, "syncStateNotFound")

        with entra.server.control() as control:
            reset = control.post(f"/_sandbox/entra/{entra.tenant_id}/delta-reset", json={})
            assert reset.status_code == 200, reset.text
        expired = graph.get(delta_link)
        assert_graph_error(expired, 400, "syncStateNotFound", "synchronized again")

        _, delta_link, _ = read_round(graph, "/users/delta", **{"$select": "displayName"})
        with entra.server.control() as control:
            body = {"mode": "resync"}
            control.post(f"/_sandbox/entra/{entra.tenant_id}/delta-reset", json=body)
        gone = graph.get(delta_link)
        assert_graph_error(gone, 410, "resyncRequired")
        again, _, _ = read_round(graph, gone.headers["Location"])
        assert [set(u) for u in again] == [{"id", "displayName"}]


def test_a_user_created_during_replication_lag_comes_in_the_next_round(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _, delta_link, _ = read_round(graph, "/users/delta", **{"$select": "displayName"})
        entra.behave(replication_lag_ms=400)
        user = create(graph, entra.domain, "lagging")
        early, delta_link, _ = read_round(graph, delta_link)
        assert early == []
        time.sleep(0.5)
        late, _, _ = read_round(graph, delta_link)
    assert [u["id"] for u in late] == [user["id"]]


# Groups ---------------------------------------------------------------------------------------


def test_sdk_groups_delta_with_membership_changes(entra: EntraDir) -> None:
    with entra.graph() as graph:
        ann = create(graph, entra.domain, "ann", department="Finance")
        bob = create(graph, entra.domain, "bob")
        add(graph, entra.group_id("Staff"), ann["id"])
        add(graph, entra.group_id("Staff"), bob["id"])

    async def first_round(client) -> tuple[list, str]:
        config = RequestConfiguration(
            query_parameters=GroupsDelta.DeltaRequestBuilderGetQueryParameters(
                select=["displayName", "members"]
            )
        )
        page = await client.groups.delta.get(request_configuration=config)
        found = list(page.value)
        while page.odata_next_link:
            page = await client.groups.delta.with_url(page.odata_next_link).get()
            found.extend(page.value)
        return found, page.odata_delta_link

    found, delta_link = run_sdk(entra, first_round)
    staff = next(g for g in found if g.display_name == "Staff")
    assert {str(m["id"]) for m in staff.additional_data["members@delta"]} == {ann["id"], bob["id"]}
    sales = next(g for g in found if g.display_name == "Sales (dynamic)")
    existing = entra.state()["users"][0]["id"]
    assert [str(m["id"]) for m in sales.additional_data["members@delta"]] == [existing]

    with entra.graph() as graph:
        graph.delete(f"/groups/{entra.group_id('Staff')}/members/{bob['id']}/$ref")
        add(graph, entra.group_id("Finance"), bob["id"])
        graph.patch(f"/users/{ann['id']}", json={"department": "Sales"})  # the rule takes her
        graph.delete(f"/users/{existing}")  # leaves the dynamic group

    async def next_round(client) -> list:
        page = await client.groups.delta.with_url(delta_link).get()
        assert page.odata_delta_link
        return list(page.value)

    def plain(refs: list[dict]) -> list[dict]:  # the SDK reads ids into UUIDs
        return [{**ref, "id": str(ref["id"])} for ref in refs]

    changed = {
        g.display_name: plain(g.additional_data.get("members@delta", []))
        for g in run_sdk(entra, next_round)
    }
    assert changed == {
        "Staff": [
            {
                "@odata.type": "#microsoft.graph.user",
                "id": bob["id"],
                "@removed": {"reason": "deleted"},
            }
        ],
        "Finance": [{"@odata.type": "#microsoft.graph.user", "id": bob["id"]}],
        "Sales (dynamic)": [
            {"@odata.type": "#microsoft.graph.user", "id": ann["id"]},
            {
                "@odata.type": "#microsoft.graph.user",
                "id": existing,
                "@removed": {"reason": "deleted"},
            },
        ],
    }


def test_group_updates_deletes_and_what_select_tracks(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _, with_members, _ = read_round(graph, "/groups/delta")
        _, names_only, _ = read_round(graph, "/groups/delta", **{"$select": "displayName"})
        user = create(graph, entra.domain, "joiner")
        add(graph, entra.group_id("Staff"), user["id"])
        renamed = graph.patch(f"/groups/{entra.group_id('Finance')}", json={"displayName": "Money"})
        assert renamed.status_code == 204
        made = graph.post(
            "/groups",
            json={
                "displayName": "Temp",
                "mailNickname": "temp",
                "mailEnabled": False,
                "securityEnabled": True,
            },
        ).json()
        assert graph.delete(f"/groups/{made['id']}").status_code == 204
        assert graph.get(f"/groups/{made['id']}").status_code == 404

        everything, _, _ = read_round(graph, with_members)
        names, _, _ = read_round(graph, names_only)
    assert members(everything) == {entra.group_id("Staff"): {user["id"]: True}}
    assert by_id(everything)[entra.group_id("Finance")]["displayName"] == "Money"
    assert by_id(everything)[made["id"]] == {"id": made["id"], "@removed": {"reason": "deleted"}}
    # Without members in $select a membership change does not bring the group back.
    assert by_id(names) == {
        entra.group_id("Finance"): {
            "id": entra.group_id("Finance"),
            "displayName": "Money",
            "@odata.type": "#microsoft.graph.group",
        },
        made["id"]: {"id": made["id"], "@removed": {"reason": "deleted"}},
    }


def test_a_large_group_is_split_over_pages_and_merges_whole(entra: EntraDir) -> None:
    with entra.server.control() as control:
        body = {"users": 1300, "groups": 0, "prefix": "big", "app_share": 0}
        made = control.post(f"/_sandbox/entra/{entra.tenant_id}/generate", json=body)
        assert made.status_code == 201, made.text
    state = entra.state()
    everyone = next(g for g in state["groups"] if g["displayName"] == "All big")
    with entra.graph() as graph:
        objects, delta_link, pages = read_round(graph, "/groups/delta", **{"$select": "members"})
        merged = members(objects)
        assert len(merged[everyone["id"]]) == 1300
        pieces = [len(o["members@delta"]) for o in objects if o["id"] == everyone["id"]]
        assert len(pieces) >= 3 and max(pieces) <= 500  # the group comes again on each page
        assert pages >= len(pieces)
        # The control API's generator wrote through the directory: a later round sees it too.
        with entra.server.control() as control:
            body = {"users": 5, "groups": 0, "prefix": "late", "app_share": 0}
            control.post(f"/_sandbox/entra/{entra.tenant_id}/generate", json=body)
        later, _, _ = read_round(graph, delta_link)
    late_group = next(g["id"] for g in entra.state()["groups"] if g["displayName"] == "All late")
    assert len(members(later)[late_group]) == 5


def test_bad_group_delta_queries(entra: EntraDir) -> None:
    with entra.graph() as graph:
        assert_graph_error(
            graph.get("/groups/delta", params={"$select": "displayName,nonsense"}),
            400,
            "BadRequest",
        )
        assert_graph_error(
            graph.get("/groups/delta", params={"$orderby": "displayName"}),
            400,
            "Request_UnsupportedQuery",
        )
        assert_graph_error(
            graph.get("/groups/delta", params={"$skiptoken": "junk"}), 400, "syncStateNotFound"
        )


@pytest.mark.parametrize("path", ["/users/delta()", "/groups/delta()"])
def test_the_sdk_spelling_of_the_function_answers(entra: EntraDir, path: str) -> None:
    with entra.graph() as graph:
        response = graph.get(path, params={"$deltatoken": "latest"})
    assert response.status_code == 200, response.text
    assert "@odata.deltaLink" in response.json()


def test_delta_links_and_membership_changes_survive_a_restart(tmp_path) -> None:
    from tests.sandbox.server import running_sandbox

    state_file = str(tmp_path / "state.json")
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        d = make_entra(server)
        with d.graph() as graph:
            _, users_link, _ = read_round(graph, "/users/delta", **{"$select": "displayName"})
            _, groups_link, _ = read_round(graph, "/groups/delta", **{"$select": "members"})
            user = create(graph, d.domain, "before.restart")
            add(graph, d.group_id("Staff"), user["id"])
        old_url = server.url
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        d.server = server
        with d.graph() as graph:
            users, _, _ = read_round(graph, users_link.replace(old_url, server.url))
            groups, _, _ = read_round(graph, groups_link.replace(old_url, server.url))
    assert [u["id"] for u in users] == [user["id"]]
    assert members(groups) == {d.group_id("Staff"): {user["id"]: True}}
