"""Deleted groups: a Microsoft 365 group goes to the directory's deleted items for 30 days and
can be restored, with its members; a security group is deleted for good (group-delete.md:
"Microsoft 365 groups are moved to a temporary container and can be restored within 30 days
… This isn't applicable to Security groups and Distribution groups which are permanently
deleted immediately"; directory-deleteditems-list.md, -get.md, -restore.md, -delete.md)."""

from __future__ import annotations

from tests.sandbox.entra_support import EntraDir, assert_graph_error, new_user_body

LIST = "/directory/deletedItems/microsoft.graph.group"


def microsoft_365(nickname: str) -> dict:
    return {
        "displayName": nickname.title(),
        "mailEnabled": True,
        "mailNickname": nickname,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
    }


def ref(entra: EntraDir, object_id: str) -> dict:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{object_id}"}


def test_a_microsoft_365_group_is_kept_in_deleted_items_and_restored_with_its_members(entra):
    with entra.graph() as graph:
        ann = graph.post("/users", json=new_user_body(entra.domain, "ann")).json()
        made = graph.post("/groups", json=microsoft_365("projects"))
        assert made.status_code == 201, made.text
        group = made.json()
        assert (
            graph.post(
                f"/groups/{group['id']}/members/$ref", json=ref(entra, ann["id"])
            ).status_code
            == 204
        )
        assert graph.get(LIST).json()["value"] == []

        assert graph.delete(f"/groups/{group['id']}").status_code == 204
        assert_graph_error(graph.get(f"/groups/{group['id']}"), 404, "Request_ResourceNotFound")
        memberships = graph.get(f"/users/{ann['id']}/memberOf").json()["value"]
        assert group["id"] not in {m["id"] for m in memberships}
        [deleted] = graph.get(LIST).json()["value"]
        assert (deleted["id"], deleted["@odata.type"]) == (group["id"], "#microsoft.graph.group")
        assert deleted["displayName"] == "Projects" and deleted["deletedDateTime"]
        one = graph.get(f"/directory/deletedItems/{group['id']}").json()
        assert one["@odata.type"] == "#microsoft.graph.group"
        picked = graph.get(LIST, params={"$select": "id,mailNickname"}).json()["value"]
        assert picked == [
            {"id": group["id"], "mailNickname": "projects", "@odata.type": "#microsoft.graph.group"}
        ]
        assert_graph_error(
            graph.get(LIST, params={"$select": "userPrincipalName"}), 400, "BadRequest"
        )

        restored = graph.post(f"/directory/deletedItems/{group['id']}/restore")
        assert restored.status_code == 200, restored.text
        assert restored.json()["@odata.type"] == "#microsoft.graph.group"
        assert graph.get(f"/groups/{group['id']}").status_code == 200
        members = graph.get(f"/groups/{group['id']}/members").json()["value"]
        assert [m["id"] for m in members] == [ann["id"]]
        assert graph.get(LIST).json()["value"] == []
        assert_graph_error(
            graph.post(f"/directory/deletedItems/{group['id']}/restore"),
            404,
            "Request_ResourceNotFound",
        )


def test_a_security_group_is_deleted_for_good(entra):
    staff = entra.group_id("Staff")
    with entra.graph() as graph:
        assert graph.delete(f"/groups/{staff}").status_code == 204
        assert graph.get(LIST).json()["value"] == []
        assert_graph_error(
            graph.get(f"/directory/deletedItems/{staff}"), 404, "Request_ResourceNotFound"
        )
        assert_graph_error(
            graph.post(f"/directory/deletedItems/{staff}/restore"), 404, "Request_ResourceNotFound"
        )


def test_a_deleted_group_purged_is_gone(entra):
    with entra.graph() as graph:
        group = graph.post("/groups", json=microsoft_365("projects")).json()
        graph.delete(f"/groups/{group['id']}")
        assert graph.delete(f"/directory/deletedItems/{group['id']}").status_code == 204
        assert graph.get(LIST).json()["value"] == []
        assert_graph_error(
            graph.post(f"/directory/deletedItems/{group['id']}/restore"),
            404,
            "Request_ResourceNotFound",
        )


def test_a_group_restored_onto_a_taken_address_is_refused(entra):
    """Its mail is free while it is deleted; a restore onto an address taken since is Graph's
    ObjectConflict on proxyAddresses, as a user's restore is (the strict rows above)."""
    with entra.graph() as graph:
        group = graph.post("/groups", json=microsoft_365("projects")).json()
        graph.delete(f"/groups/{group['id']}")
        again = graph.post("/groups", json=microsoft_365("projects"))
        assert again.status_code == 201, again.text
        refused = graph.post(f"/directory/deletedItems/{group['id']}/restore")
        assert refused.status_code == 400, refused.text
        assert "proxyAddresses" in refused.json()["error"]["message"]
        assert [g["id"] for g in graph.get(LIST).json()["value"]] == [group["id"]]


def test_groups_delta_says_a_deleted_microsoft_365_group_may_come_back(entra):
    """Delta: `@removed` "changed" for an object deleted that can be restored, "deleted" once
    it is gone for good (delta-query-overview.md, "Resource representation in the delta query
    response"); a restored group comes back with its members."""
    with entra.graph() as graph:
        ann = graph.post("/users", json=new_user_body(entra.domain, "ann")).json()
        group = graph.post("/groups", json=microsoft_365("projects")).json()
        graph.post(f"/groups/{group['id']}/members/$ref", json=ref(entra, ann["id"]))

        def changes(link: str) -> tuple[dict, str]:
            page = graph.get(link).json()
            while "@odata.nextLink" in page:
                page = graph.get(page["@odata.nextLink"]).json()
            seen = {g["id"]: g for g in page["value"]}
            return seen.get(group["id"], {}), page["@odata.deltaLink"]

        _, delta = changes("/groups/delta?$select=displayName,members")
        graph.delete(f"/groups/{group['id']}")
        entry, delta = changes(delta)
        assert entry["@removed"] == {"reason": "changed"}
        graph.post(f"/directory/deletedItems/{group['id']}/restore")
        entry, delta = changes(delta)
        assert "@removed" not in entry
        assert [m["id"] for m in entry["members@delta"]] == [ann["id"]]
        graph.delete(f"/groups/{group['id']}")
        graph.delete(f"/directory/deletedItems/{group['id']}")
        entry, _ = changes(delta)
        assert entry["@removed"] == {"reason": "deleted"}
