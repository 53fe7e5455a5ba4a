"""Who can perform sensitive actions on a user: disabling or enabling, changing
businessPhones, mobilePhone, otherMails or userPrincipalName, deleting or restoring. With
app-only access the permission is enough for a user without an admin role; for a user who
holds one, the app must also hold a role that reaches it (a User Administrator reaches the
limited admins, Privileged Authentication and Global Administrators reach everyone).

Sources: entra-docs privileged-roles-permissions.md ("Who can perform sensitive actions");
microsoft-graph-docs-contrib api-reference/v1.0/api/user-update.md (the note on sensitive
properties), user-delete.md ("In app-only scenarios, the User.ReadWrite.All application
permission isn't enough privilege to delete users with privileged administrative roles"),
directory-deleteditems-restore.md (restore, likewise)."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error, tenant_body
from tests.sandbox.test_entra_roles import DENIED, admin_directory, reset, user_id

SENSITIVE = [
    {"accountEnabled": False},
    {"businessPhones": ["+44 20 7946 0000"]},
    {"mobilePhone": "+44 7700 900000"},
    {"otherMails": ["someone@elsewhere.example"]},
]


@pytest.fixture
def admins(sandbox_server) -> EntraDir:
    return admin_directory(sandbox_server)


@pytest.mark.parametrize("change", SENSITIVE, ids=lambda c: next(iter(c)))
def test_a_user_administrator_cannot_change_a_privileged_admins_sensitive_properties(
    admins: EntraDir, change: dict
) -> None:
    """boss is an eligible Global Administrator; the app holds User Administrator."""
    boss = user_id(admins, "boss")
    with admins.graph() as graph:
        before = graph.get(f"/users/{boss}", params={"$select": next(iter(change))}).json()
        refused = graph.patch(f"/users/{boss}", json=change)
        assert_graph_error(refused, 403, "Authorization_RequestDenied", DENIED)
        after = graph.get(f"/users/{boss}", params={"$select": next(iter(change))}).json()
        assert after == before
        # An ordinary property of the same person is no sensitive action.
        assert graph.patch(f"/users/{boss}", json={"jobTitle": "Boss"}).status_code == 204
        # Nor is a limited admin (Helpdesk Administrator) out of a User Administrator's reach.
        assert graph.patch(f"/users/{user_id(admins, 'helper')}", json=change).status_code == 204


def test_renaming_or_deleting_a_privileged_admin_needs_a_higher_role(admins: EntraDir) -> None:
    boss = user_id(admins, "boss")
    with admins.graph() as graph:
        renamed = graph.patch(
            f"/users/{boss}", json={"userPrincipalName": f"chief@{admins.domain}"}
        )
        assert_graph_error(renamed, 403, "Authorization_RequestDenied", DENIED)
        assert_graph_error(graph.delete(f"/users/{boss}"), 403, "Authorization_RequestDenied")
        assert graph.get(f"/users/{boss}").json()["userPrincipalName"] == f"boss@{admins.domain}"
        plain = user_id(admins, "plain")
        moved = graph.patch(f"/users/{plain}", json={"userPrincipalName": f"pl@{admins.domain}"})
        assert moved.status_code == 204
        assert graph.delete(f"/users/{plain}").status_code == 204


def test_without_any_role_the_permission_does_for_users_who_hold_none(sandbox_server) -> None:
    d = admin_directory(sandbox_server, app_roles=[])
    with d.graph() as graph:
        plain = user_id(d, "plain")
        assert graph.patch(f"/users/{plain}", json={"accountEnabled": False}).status_code == 204
        helper = graph.patch(f"/users/{user_id(d, 'helper')}", json={"accountEnabled": False})
        assert_graph_error(helper, 403, "Authorization_RequestDenied", DENIED)


def test_a_privileged_authentication_administrator_disables_deletes_and_restores_admins(
    sandbox_server,
) -> None:
    d = admin_directory(sandbox_server, app_roles=["Privileged Authentication Administrator"])
    boss = user_id(d, "boss")
    with d.graph() as graph:
        assert graph.patch(f"/users/{boss}", json={"accountEnabled": False}).status_code == 204
        assert graph.delete(f"/users/{boss}").status_code == 204
        assert graph.post(f"/directory/deletedItems/{boss}/restore").status_code == 200


def test_restoring_a_deleted_privileged_admin_needs_a_higher_role(sandbox_server) -> None:
    """Two apps in one tenant: a Privileged Authentication Administrator deletes boss, a User
    Administrator may not bring them back."""
    probe = str(uuid.uuid4())
    domain = f"t{probe[:8]}.example"
    strong, weak = str(uuid.uuid4()), str(uuid.uuid4())
    body = tenant_body(
        probe,
        domain,
        strong,
        apps=[
            {
                "client_id": strong,
                "client_secret": "right-secret",
                "directory_roles": ["Privileged Authentication Administrator"],
            },
            {"client_id": weak, "client_secret": "right-secret"},
        ],
        users=[{"userPrincipalName": f"boss@{domain}", "displayName": "Boss"}],
        directory_roles=[{"role": "Global Administrator", "members": [f"boss@{domain}"]}],
    )
    with sandbox_server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    deleting = EntraDir(sandbox_server, probe, domain, strong, "right-secret", created.json())
    restoring = EntraDir(sandbox_server, probe, domain, weak, "right-secret", created.json())
    boss = user_id(deleting, "boss")
    with deleting.graph() as graph:
        assert graph.delete(f"/users/{boss}").status_code == 204
    with restoring.graph() as graph:
        refused = graph.post(f"/directory/deletedItems/{boss}/restore")
        assert_graph_error(refused, 403, "Authorization_RequestDenied", DENIED)
        assert graph.get(f"/users/{boss}").status_code == 404


def test_a_sensitive_change_inside_a_batch_is_refused_on_its_own(admins: EntraDir) -> None:
    boss, plain = user_id(admins, "boss"), user_id(admins, "plain")
    requests = [
        {
            "id": str(n),
            "method": "PATCH",
            "url": f"/users/{who}",
            "headers": {"Content-Type": "application/json"},
            "body": {"accountEnabled": False},
        }
        for n, who in enumerate((boss, plain), start=1)
    ]
    with admins.graph() as graph:
        answered = graph.post("/$batch", json={"requests": requests})
    statuses = {r["id"]: r["status"] for r in answered.json()["responses"]}
    assert statuses == {"1": 403, "2": 204}


def test_a_user_administrator_reaches_a_groups_administrator(sandbox_server) -> None:
    """Both tables give the User Administrator column a tick on the Groups Admin row: the
    sandbox refused the reset."""
    probe = str(uuid.uuid4())
    domain = f"t{probe[:8]}.example"
    client = str(uuid.uuid4())
    body = tenant_body(
        probe,
        domain,
        client,
        apps=[{"client_id": client, "client_secret": "right-secret"}],
        users=[{"userPrincipalName": f"groupie@{domain}", "displayName": "Groupie"}],
        directory_roles=[{"role": "Groups Administrator", "members": [f"groupie@{domain}"]}],
    )
    with sandbox_server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    d = EntraDir(sandbox_server, probe, domain, client, "right-secret", created.json())
    groupie = user_id(d, "groupie")
    assert reset(d, groupie) is None
    with d.graph() as graph:
        assert graph.patch(f"/users/{groupie}", json={"accountEnabled": False}).status_code == 204


def role_assignable_directory(server, permissions=None) -> EntraDir:
    """pim@ is a member of "Helpdesk (PIM)", a role-assignable group, and holds no role."""
    probe = str(uuid.uuid4())
    domain = f"t{probe[:8]}.example"
    client = str(uuid.uuid4())
    app: dict = {"client_id": client, "client_secret": "right-secret"}
    if permissions is not None:
        app["permissions"] = permissions
    body = tenant_body(
        probe,
        domain,
        client,
        apps=[app],
        users=[
            {"userPrincipalName": f"{name}@{domain}", "displayName": name.title()}
            for name in ("pim", "plain")
        ],
        groups=[
            {
                "display_name": "Helpdesk (PIM)",
                "assignable_to_role": True,
                "members": [f"pim@{domain}"],
            },
            {"display_name": "Staff"},
        ],
    )
    with server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    return EntraDir(server, probe, domain, client, "right-secret", created.json())


def test_members_of_a_role_assignable_group_need_role_management_to_change(
    sandbox_server,
) -> None:
    """group-post-members.md / group-delete-members.md: RoleManagement.ReadWrite.Directory
    besides the group permissions."""
    d = role_assignable_directory(
        sandbox_server, permissions=["User.ReadWrite.All", "GroupMember.ReadWrite.All"]
    )
    group = d.group_id("Helpdesk (PIM)")
    pim, plain = user_id(d, "pim"), user_id(d, "plain")
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{plain}"}
    with d.graph() as graph:
        added = graph.post(f"/groups/{group}/members/$ref", json=ref)
        assert_graph_error(added, 403, "Authorization_RequestDenied", DENIED)
        removed = graph.delete(f"/groups/{group}/members/{pim}/$ref")
        assert_graph_error(removed, 403, "Authorization_RequestDenied", DENIED)
        members = graph.get(f"/groups/{group}/members", params={"$select": "id"}).json()
        assert [m["id"] for m in members["value"]] == [pim]
        # group.md: isAssignableToRole is "Returned by default" (null for other groups).
        assert graph.get(f"/groups/{group}").json()["isAssignableToRole"] is True
        listed = {
            g["displayName"]: g["isAssignableToRole"] for g in graph.get("/groups").json()["value"]
        }
        assert listed["Helpdesk (PIM)"] is True and listed["Staff"] is None


def test_a_member_of_a_role_assignable_group_is_out_of_a_user_administrators_reach(
    sandbox_server,
) -> None:
    """The tables' row "User (no admin role, but member or owner of a role-assignable
    group)": only Privileged Authentication and Global Administrators are ticked."""
    d = role_assignable_directory(sandbox_server)
    pim = user_id(d, "pim")
    error = reset(d, pim)
    assert error is not None and error.response_status_code == 403
    with d.graph() as graph:
        disabled = graph.patch(f"/users/{pim}", json={"accountEnabled": False})
        assert_graph_error(disabled, 403, "Authorization_RequestDenied", DENIED)
        group = d.group_id("Helpdesk (PIM)")
        assert graph.delete(f"/groups/{group}/members/{pim}/$ref").status_code == 204
        assert graph.patch(f"/users/{pim}", json={"accountEnabled": False}).status_code == 204
    assert reset(d, pim) is None


def test_an_authentication_administrator_reaches_what_its_column_ticks(sandbox_server) -> None:
    """The Auth Admin column of "Who can perform sensitive actions" ticks Password Admin (and
    users without a role) but not Helpdesk Admin or User Admin; it resets no passwords for an
    app (that takes at least the User Administrator role)."""
    probe = str(uuid.uuid4())
    domain = f"t{probe[:8]}.example"
    client = str(uuid.uuid4())
    body = tenant_body(
        probe,
        domain,
        client,
        apps=[
            {
                "client_id": client,
                "client_secret": "right-secret",
                "directory_roles": ["Authentication Administrator"],
            }
        ],
        users=[
            {"userPrincipalName": f"{name}@{domain}", "displayName": name.title()}
            for name in ("passwords", "helpdesk")
        ],
        directory_roles=[
            {"role": "Password Administrator", "members": [f"passwords@{domain}"]},
            {"role": "Helpdesk Administrator", "members": [f"helpdesk@{domain}"]},
        ],
    )
    with sandbox_server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    d = EntraDir(sandbox_server, probe, domain, client, "right-secret", created.json())
    with d.graph() as graph:
        reached = graph.patch(f"/users/{user_id(d, 'passwords')}", json={"accountEnabled": False})
        assert reached.status_code == 204
        beyond = graph.patch(f"/users/{user_id(d, 'helpdesk')}", json={"accountEnabled": False})
        assert_graph_error(beyond, 403, "Authorization_RequestDenied", DENIED)
    assert reset(d, user_id(d, "passwords")) is not None
