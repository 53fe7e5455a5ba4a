"""Directory roles, PIM eligibilities and administrative units, through the real msgraph-sdk:
`memberOf` lists all three kinds with their own `@odata.type`; a role is not a group; role
writes need RoleManagement.ReadWrite.Directory; an app resets passwords only with a directory
role (Privileged Authentication Administrator for a target holding an admin role)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.administrative_unit import AdministrativeUnit
from msgraph.generated.models.directory_role import DirectoryRole
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.unified_role_eligibility_schedule_request import (
    UnifiedRoleEligibilityScheduleRequest,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (
    UnifiedRoleScheduleRequestActions,
)
from msgraph.generated.models.user import User
from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
    RoleAssignmentsRequestBuilder,
)
from msgraph.generated.role_management.directory.role_eligibility_schedule_instances.role_eligibility_schedule_instances_request_builder import (  # noqa: E501
    RoleEligibilityScheduleInstancesRequestBuilder,
)

from tests.sandbox.entra_support import EntraDir, assert_graph_error, run_sdk, tenant_body

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
DENIED = "Insufficient privileges to complete the operation."


def admin_directory(server, *, app_roles=None, permissions=None) -> EntraDir:
    """A directory where boss@ is an active User Administrator, eligible Global
    Administrator, member of Staff and of the Paris administrative unit."""
    probe = str(uuid.uuid4())
    domain = f"t{probe[:8]}.example"
    app: dict = {"client_id": str(uuid.uuid4()), "client_secret": "right-secret"}
    if app_roles is not None:
        app["directory_roles"] = app_roles
    if permissions is not None:
        app["permissions"] = permissions
    users = [
        {"userPrincipalName": f"{name}@{domain}", "displayName": name.title()}
        for name in ("boss", "helper", "plain")
    ]
    body = tenant_body(
        probe,
        domain,
        app["client_id"],
        apps=[app],
        users=users,
        groups=[{"display_name": "Staff", "members": [f"boss@{domain}"]}],
        directory_roles=[
            {"role": "User Administrator", "members": [f"boss@{domain}"]},
            {"role": "Helpdesk Administrator", "members": [f"helper@{domain}"]},
        ],
        eligible_roles=[{"role": "Global Administrator", "members": [f"boss@{domain}"]}],
        administrative_units=[{"display_name": "Paris", "members": [f"boss@{domain}"]}],
    )
    with server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    d = EntraDir(server, probe, domain, app["client_id"], "right-secret", created.json())
    return d


def user_id(d: EntraDir, name: str) -> str:
    return next(u["id"] for u in d.state()["users"] if u["userPrincipalName"].startswith(name))


@pytest.fixture
def admins(sandbox_server) -> EntraDir:
    return admin_directory(sandbox_server)


def test_member_of_lists_groups_roles_and_units_with_their_types(admins):
    boss = user_id(admins, "boss")

    async def work(client):
        page = await client.users.by_user_id(boss).member_of.get()
        return page.value

    found = run_sdk(admins, work)
    by_type = {type(o): o for o in found}
    assert set(by_type) == {Group, DirectoryRole, AdministrativeUnit}
    assert by_type[Group].display_name == "Staff"
    assert by_type[DirectoryRole].role_template_id == USER_ADMIN
    assert by_type[DirectoryRole].display_name == "User Administrator"
    assert by_type[AdministrativeUnit].display_name == "Paris"
    # Eligible (PIM) roles are not memberships: Global Administrator does not show.
    assert len(found) == 3
    with admins.graph() as graph:
        raw = graph.get(f"/users/{boss}/memberOf", params={"$select": "id"}).json()["value"]
    assert sorted(o["@odata.type"] for o in raw) == [
        "#microsoft.graph.administrativeUnit",
        "#microsoft.graph.directoryRole",
        "#microsoft.graph.group",
    ]


def test_a_role_is_not_a_group_removing_it_as_one_is_404_and_changes_nothing(admins):
    boss = user_id(admins, "boss")
    with admins.graph() as graph:
        role = next(
            o
            for o in graph.get(f"/users/{boss}/memberOf").json()["value"]
            if o["@odata.type"] == "#microsoft.graph.directoryRole"
        )
        response = graph.delete(f"/groups/{role['id']}/members/{boss}/$ref")
    assert_graph_error(response, 404, "Request_ResourceNotFound", role["id"])
    assert [
        a["role"] for a in admins.state()["roleAssignments"] if a["principal"].startswith("boss")
    ] == ["User Administrator"]


def test_role_assignments_by_principal_and_their_removal(admins):
    boss = user_id(admins, "boss")

    async def work(client):
        assignments = client.role_management.directory.role_assignments
        query = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
            filter=f"principalId eq '{boss}'"
        )
        held = (await assignments.get(RequestConfiguration(query_parameters=query))).value
        for assignment in held:
            await assignments.by_unified_role_assignment_id(assignment.id).delete()
        try:
            await assignments.by_unified_role_assignment_id(held[0].id).delete()
        except ODataError as exc:
            return held, exc.response_status_code
        return held, None

    held, again = run_sdk(admins, work)
    assert [(a.role_definition_id, a.directory_scope_id) for a in held] == [(USER_ADMIN, "/")]
    assert again == 404
    with admins.graph() as graph:
        types = [o["@odata.type"] for o in graph.get(f"/users/{boss}/memberOf").json()["value"]]
    assert "#microsoft.graph.directoryRole" not in types


def test_a_role_assignment_needs_a_scope(admins):
    """rbacapplication-post-roleassignments.md: "The request must have either a scope ...
    specified by directoryScopeId, or an application-specific scope specified by the
    appScopeId"; the sandbox read a missing scope as "/" and assigned the role tenant-wide."""
    plain = user_id(admins, "plain")
    url = "/roleManagement/directory/roleAssignments"
    body = {"principalId": plain, "roleDefinitionId": HELPDESK_ADMIN}
    with admins.graph() as graph:
        unscoped = graph.post(url, json=body)
        null_scope = graph.post(url, json=body | {"directoryScopeId": None})
        held = graph.get(url, params={"$filter": f"principalId eq '{plain}'"}).json()["value"]
        scoped = graph.post(url, json=body | {"directoryScopeId": "/"})
    for answer in (unscoped, null_scope):
        assert_graph_error(answer, 400, "InvalidRequest", "directoryScopeId or appScopeId")
    assert held == []
    assert scoped.status_code == 201, scoped.text
    assert scoped.json()["directoryScopeId"] == "/"


def test_directory_role_member_removal_through_directory_roles(admins):
    boss = user_id(admins, "boss")

    async def work(client):
        roles = (await client.directory_roles.get()).value
        user_admin = next(r for r in roles if r.role_template_id == USER_ADMIN)
        members = client.directory_roles.by_directory_role_id(user_admin.id).members
        before = [m.id for m in (await members.get()).value]
        await members.by_directory_object_id(boss).ref.delete()
        after = [m.id for m in (await members.get()).value]
        return before, after

    before, after = run_sdk(admins, work)
    assert boss in before and boss not in after


def test_pim_eligibility_listed_and_removed_with_admin_remove(admins):
    boss = user_id(admins, "boss")

    async def work(client):
        rbac = client.role_management.directory
        query = RoleEligibilityScheduleInstancesRequestBuilder.RoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters(  # noqa: E501
            filter=f"principalId eq '{boss}'"
        )
        config = RequestConfiguration(query_parameters=query)
        eligible = (await rbac.role_eligibility_schedule_instances.get(config)).value
        request = UnifiedRoleEligibilityScheduleRequest(
            action=UnifiedRoleScheduleRequestActions.AdminRemove,
            principal_id=boss,
            role_definition_id=GLOBAL_ADMIN,
            directory_scope_id="/",
        )
        answer = await rbac.role_eligibility_schedule_requests.post(request)
        left = (await rbac.role_eligibility_schedule_instances.get(config)).value
        try:
            await rbac.role_eligibility_schedule_requests.post(request)
        except ODataError as exc:
            return eligible, answer, left, exc
        return eligible, answer, left, None

    eligible, answer, left, again = run_sdk(admins, work)
    assert [e.role_definition_id for e in eligible] == [GLOBAL_ADMIN]
    assert answer.status == "Revoked"
    assert left == []
    assert again.response_status_code == 400
    assert again.error.code == "RoleAssignmentDoesNotExist"


def test_administrative_unit_members_and_removal(admins):
    boss = user_id(admins, "boss")

    async def work(client):
        units = client.directory.administrative_units
        paris = next(u for u in (await units.get()).value if u.display_name == "Paris")
        members = units.by_administrative_unit_id(paris.id).members
        before = [m.id for m in (await members.get()).value]
        await members.by_directory_object_id(boss).ref.delete()
        try:
            await members.by_directory_object_id(boss).ref.delete()
        except ODataError as exc:
            return before, exc.response_status_code
        return before, None

    before, again = run_sdk(admins, work)
    assert before == [boss] and again == 404
    assert admins.state()["administrativeUnits"][0]["members"] == []


@pytest.mark.parametrize(
    "permissions",
    [
        ["User.ReadWrite.All", "Directory.ReadWrite.All", "AdministrativeUnit.Read.All"],
        ["RoleManagement.Read.Directory", "AdministrativeUnit.Read.All"],
    ],
)
def test_role_and_unit_writes_need_their_own_permissions(sandbox_server, permissions):
    d = admin_directory(sandbox_server, permissions=permissions)
    boss = user_id(d, "boss")
    with d.graph() as graph:
        assignments = graph.get(
            "/roleManagement/directory/roleAssignments",
            params={"$filter": f"principalId eq '{boss}'"},
        )
        assert assignments.status_code == 200  # reading is allowed by either set
        unit = graph.get("/directory/administrativeUnits").json()["value"][0]
        writes = [
            graph.delete(
                f"/roleManagement/directory/roleAssignments/{assignments.json()['value'][0]['id']}"
            ),
            graph.delete(f"/directory/administrativeUnits/{unit['id']}/members/{boss}/$ref"),
            graph.post(
                "/roleManagement/directory/roleEligibilityScheduleRequests",
                json={
                    "action": "adminRemove",
                    "principalId": boss,
                    "roleDefinitionId": GLOBAL_ADMIN,
                    "directoryScopeId": "/",
                },
            ),
        ]
    for response in writes:
        assert_graph_error(response, 403, "Authorization_RequestDenied", DENIED)
    assert len(d.state()["roleAssignments"]) == 3  # two people's and the app's own


def reset(d: EntraDir, target: str):
    async def work(client):
        body = User(
            password_profile=PasswordProfile(
                password="Fresh-Pa55word!", force_change_password_next_sign_in=True
            )
        )
        try:
            await client.users.by_user_id(target).patch(body)
        except ODataError as exc:
            return exc
        return None

    return run_sdk(d, work)


def test_a_password_reset_needs_a_directory_role_not_only_the_permission(sandbox_server):
    d = admin_directory(sandbox_server, app_roles=[])
    error = reset(d, user_id(d, "plain"))
    assert error.response_status_code == 403
    assert (error.error.code, error.error.message) == ("Authorization_RequestDenied", DENIED)
    # Other updates still work with User.ReadWrite.All alone.
    with d.graph() as graph:
        assert (
            graph.patch(f"/users/{user_id(d, 'plain')}", json={"jobTitle": "X"}).status_code == 204
        )


def test_a_user_administrator_resets_users_and_limited_admins_but_not_privileged_ones(admins):
    # The app holds User Administrator (the default); boss is eligible Global Administrator.
    assert reset(admins, user_id(admins, "plain")) is None
    assert reset(admins, user_id(admins, "helper")) is None  # Helpdesk Administrator: allowed
    error = reset(admins, user_id(admins, "boss"))
    assert error is not None and error.response_status_code == 403


def test_a_privileged_authentication_administrator_resets_admins(sandbox_server):
    d = admin_directory(sandbox_server, app_roles=["Privileged Authentication Administrator"])
    assert reset(d, user_id(d, "boss")) is None


def test_the_token_is_a_jwt_naming_the_app_permissions_and_its_own_principal(admins):
    token = admins.token()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["appid"] == admins.client_id and claims["tid"] == admins.tenant_id
    assert "User.ReadWrite.All" in claims["roles"] and claims["idtyp"] == "app"
    with admins.graph() as graph:
        own = graph.get(f"/servicePrincipals(appId='{admins.client_id}')").json()
        assert own["id"] == claims["oid"]
        held = graph.get(
            "/roleManagement/directory/roleAssignments",
            params={"$filter": f"principalId eq '{own['id']}'"},
        ).json()["value"]
    assert [a["roleDefinitionId"] for a in held] == [USER_ADMIN]
