"""Groups of the sandbox's SCIM apps: members, the users' read-only `groups`, uniqueness,
PATCH of members, and deletes that clean up memberships."""

from __future__ import annotations

from scim2_models import Error, Group, GroupMember, PatchOp, PatchOperation, SearchRequest, User

from tests.sandbox.scim_support import App

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def members_patch(*operations: dict) -> PatchOp[Group]:
    return PatchOp[Group](operations=[PatchOperation(**o) for o in operations])


def test_membership_shows_on_the_users_groups(scim_app: App) -> None:
    client = scim_app.client()
    ann = client.create(User(user_name="ann@contoso.example", display_name="Ann"))
    ben = client.create(User(user_name="ben@contoso.example"))
    group = client.create(
        Group(
            display_name="Engineering",
            members=[GroupMember(value=ann.id, type="User", display="Ann")],
        )
    )
    assert [(m.value, m.display) for m in group.members] == [(ann.id, "Ann")]
    assert str(group.members[0].ref) == f"{scim_app.base_url}/Users/{ann.id}"
    seen = client.query(User, ann.id)
    assert [(g.value, g.display) for g in seen.groups] == [(group.id, "Engineering")]
    assert client.query(User, ben.id).groups is None


def test_members_are_added_and_removed_by_patch(scim_app: App) -> None:
    client = scim_app.client()
    ann = client.create(User(user_name="ann@contoso.example"))
    ben = client.create(User(user_name="ben@contoso.example"))
    group = client.create(Group(display_name="Sales"))
    client.modify(
        Group,
        group.id,
        members_patch(
            {"op": "add", "path": "members", "value": [{"value": ann.id}, {"value": ben.id}]}
        ),
    )
    client.modify(
        Group, group.id, members_patch({"op": "remove", "path": f'members[value eq "{ann.id}"]'})
    )
    held = scim_app.state()["groups"][0]["members"]
    assert [m["value"] for m in held] == [ben.id]
    assert client.query(User, ann.id).groups is None


def test_an_unknown_member_is_400_invalid_value_and_changes_nothing(scim_app: App) -> None:
    client = scim_app.client()
    ann = client.create(User(user_name="ann@contoso.example"))
    group = client.create(Group(display_name="Ops", members=[GroupMember(value=ann.id)]))
    answer = client.modify(
        Group,
        group.id,
        members_patch({"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}),
        raise_scim_errors=False,
    )
    assert isinstance(answer, Error)
    assert (answer.status, answer.scim_type) == (400, "invalidValue")
    created = client.create(
        Group(display_name="Ops 2", members=[GroupMember(value="nobody")]), raise_scim_errors=False
    )
    assert (created.status, created.scim_type) == (400, "invalidValue")
    assert [g["displayName"] for g in scim_app.state()["groups"]] == ["Ops"]


def test_a_duplicate_display_name_is_409_uniqueness(scim_app: App) -> None:
    client = scim_app.client()
    client.create(Group(display_name="All Hands"))
    answer = client.create(Group(display_name="all hands"), raise_scim_errors=False)
    assert (answer.status, answer.scim_type) == (409, "uniqueness")


def test_deleting_a_user_removes_its_memberships(scim_app: App) -> None:
    client = scim_app.client()
    ann = client.create(User(user_name="ann@contoso.example"))
    group = client.create(Group(display_name="Finance", members=[GroupMember(value=ann.id)]))
    client.delete(User, ann.id)
    assert client.query(Group, group.id).members is None


def test_replace_a_group_and_filter_groups(scim_app: App) -> None:
    client = scim_app.client()
    ann = client.create(User(user_name="ann@contoso.example"))
    group = client.create(Group(display_name="Legal"))
    # The client's Group model is built from the app's /Schemas: a copy takes its members.
    changed = {**group.model_dump(), "displayName": "Legal & Compliance"}
    replaced = client.replace(
        type(group).model_validate({**changed, "members": [{"value": ann.id}]})
    )
    assert [m.value for m in replaced.members] == [ann.id]
    found = client.query(
        Group, query_parameters=SearchRequest(filter=f'members[value eq "{ann.id}"]')
    )
    assert [g.display_name for g in found.resources] == ["Legal & Compliance"]
    by_user = client.query(
        User, query_parameters=SearchRequest(filter=f'groups.value eq "{group.id}"')
    )
    assert [u.id for u in by_user.resources] == [ann.id]


def test_the_id_of_a_resource_cannot_be_changed_by_put(scim_app: App) -> None:
    group = scim_app.client().create(Group(display_name="Design"))
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "another-id",
        "displayName": "Design",
    }
    with scim_app.raw() as raw:
        response = raw.put(f"/Groups/{group.id}", json=body)
    assert (response.status_code, response.json()["scimType"]) == (400, "mutability")
