"""Service principals as real tenants hold them: hundreds, paged with @odata.nextLink (100 a
page unless $top says otherwise), with app roles for users, for applications only, for
both, disabled, or none. Assigning a user an app role Graph cannot give a user (unknown,
for applications only, disabled) is a 400; the default access role (all zeros) stands only
for an app that defines no roles for users (resources/approleassignment.md, appRoleId)."""

from __future__ import annotations

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error, make_entra, run_sdk

DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
SHAPED_APPS = [
    {
        "display_name": "Daemon API",
        "app_roles": [{"value": "Read", "allowed_member_types": ["Application"]}],
    },
    {
        "display_name": "Portal",
        "app_roles": [
            {"value": "Service", "allowed_member_types": ["Application"]},
            {"value": "Old", "is_enabled": False},
            {"value": "Member", "allowed_member_types": ["User", "Application"]},
        ],
    },
    {"display_name": "Intranet", "app_roles": []},
]


@pytest.fixture
def shaped(sandbox_server) -> EntraDir:
    return make_entra(sandbox_server, service_principals=SHAPED_APPS)


def test_hundreds_of_service_principals_come_in_pages(entra: EntraDir) -> None:
    with entra.server.control() as control:
        made = control.post(
            f"/_sandbox/entra/{entra.tenant_id}/generate", json={"users": 0, "apps": 320}
        )
        assert made.status_code == 201, made.text

    async def every_page(client) -> tuple[int, list[dict]]:
        page = await client.service_principals.get()
        pages, sps = 0, []
        while page is not None:
            pages += 1
            sps += page.value
            link = page.odata_next_link
            page = await client.service_principals.with_url(link).get() if link else None
        return pages, sps

    pages, sps = run_sdk(entra, every_page)
    assert (pages, len(sps)) == (4, 321)  # Salesforce and 320 more, 100 a page
    roles = [r for sp in sps for r in sp.app_roles or []]
    assert {tuple(r.allowed_member_types) for r in roles} == {
        ("User",),
        ("Application",),
        ("User", "Application"),
    }
    assert {r.is_enabled for r in roles} == {True, False}
    assert any(not sp.app_roles for sp in sps)


def role_id(entra: EntraDir, app: str, value: str) -> str:
    return next(r["id"] for r in entra.sp(app)["appRoles"] if r["value"] == value)


def assign(entra: EntraDir, app: str, role: str):
    user = next(u for u in entra.state()["users"] if u["userPrincipalName"].startswith("existing"))
    sp = entra.sp(app)["id"]
    body = {"principalId": user["id"], "resourceId": sp, "appRoleId": role}
    with entra.graph() as graph:
        return graph.post(f"/servicePrincipals/{sp}/appRoleAssignedTo", json=body)


@pytest.mark.parametrize(
    ("app", "role"),
    [
        ("Daemon API", "Read"),  # for applications only
        ("Portal", "Service"),
        ("Portal", "Old"),  # disabled
        ("Portal", "default"),  # the app has a role for users
    ],
)
def test_roles_a_user_cannot_hold_are_refused(shaped: EntraDir, app: str, role: str) -> None:
    role = DEFAULT_ACCESS if role == "default" else role_id(shaped, app, role)
    app_id = shaped.sp(app)["appId"]
    assert_graph_error(
        assign(shaped, app, role),
        400,
        "Request_BadRequest",
        f"Permission being assigned was not found on application '{app_id}'",
    )


def test_roles_for_users_and_default_access_where_none_are_given(shaped: EntraDir) -> None:
    assert assign(shaped, "Portal", role_id(shaped, "Portal", "Member")).status_code == 201
    assert assign(shaped, "Intranet", DEFAULT_ACCESS).status_code == 201
    assert assign(shaped, "Daemon API", DEFAULT_ACCESS).status_code == 201  # no user roles


def test_an_assignment_naming_an_undeclared_property_is_refused(
    shaped: EntraDir,
) -> None:
    """A body property that approleassignment.md does not declare (a misspelt `appRoleID`, a
    `userId`) is 400 with the directory's text for an undeclared property, as on users
    (strict9), and nothing is assigned; the sandbox ignored the name and assigned."""
    role = role_id(shaped, "Portal", "Member")
    user = next(u for u in shaped.state()["users"] if u["userPrincipalName"].startswith("existing"))
    sp = shaped.sp("Portal")["id"]
    body = {"principalId": user["id"], "resourceId": sp, "appRoleId": role}
    with shaped.graph() as graph:
        for extra in ({"appRoleID": role}, {"userId": user["id"]}):
            refused = graph.post(f"/servicePrincipals/{sp}/appRoleAssignedTo", json=body | extra)
            [name] = extra
            assert_graph_error(
                refused,
                400,
                "Request_BadRequest",
                f"Property '{name}' does not exist as a declared property or extension property.",
            )
        assert graph.get(f"/users/{user['id']}/appRoleAssignments").json()["value"] == []
        typed = body | {"@odata.type": "#microsoft.graph.appRoleAssignment"}
        assert graph.post(f"/users/{user['id']}/appRoleAssignments", json=typed).status_code == 201
