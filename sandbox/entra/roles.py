"""Graph directory roles: activated `directoryRoles` and their members, the unified RBAC API
(`roleManagement/directory`: role definitions, role assignments, PIM eligibilities), the
calling app's own service principal, and the directory-role rule for password resets.

Sources: api-reference/v1.0/api/directoryrole-*.md, rbacapplication-list-roleassignments.md,
unifiedroleassignment-delete.md, rbacapplication-post-roleeligibilityschedulerequests.md,
rbacapplication-list-roleeligibilityscheduleinstances.md, resources/user.md (passwordProfile).
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.entra.errors import GraphError, bad_request, not_found
from sandbox.entra.model import EntraTenant, User, now_iso
from sandbox.entra.odata import paged, select
from sandbox.entra.role_state import (
    AUTH_ADMIN,
    AUTH_ADMIN_REACHES,
    BUILT_IN_ROLES,
    RESETS_ANYONE,
    RESETS_SOME,
    USER_ADMIN,
    USER_ADMIN_MAY_RESET,
    Assignment,
    role_template,
)
from sandbox.entra.router import GraphRequest, GraphResponse, router

ROLE_READ = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
ROLE_WRITE = ("RoleManagement.ReadWrite.Directory",)
ELIGIBILITY_READ = (
    "RoleEligibilitySchedule.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
)
ELIGIBILITY_WRITE = (
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
)
ROLE_SELECT = ("id", "displayName", "description", "roleTemplateId", "deletedDateTime")
ASSIGNMENT_FILTERABLE = {
    n: n for n in ("principalId", "roleDefinitionId", "directoryScopeId", "id")
}
DENIED = "Insufficient privileges to complete the operation."


# Views --------------------------------------------------------------------------------------


def role_object(tenant: EntraTenant, template: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": tenant.roles.activate(template),
        "displayName": BUILT_IN_ROLES.get(template, template),
        "description": BUILT_IN_ROLES.get(template, template),
        "roleTemplateId": template,
        "deletedDateTime": None,
    }


def assignment_view(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_id,
        "directoryScopeId": a.scope,
        "resourceScope": a.scope,
        "appScopeId": None,
    }


def eligibility_view(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_id,
        "directoryScopeId": a.scope,
        "appScopeId": None,
        "startDateTime": a.created,
        "endDateTime": None,
        "memberType": "Direct",
        "roleEligibilityScheduleId": a.id,
    }


def directory_objects_of(req: GraphRequest, user: User) -> list[dict[str, Any]]:
    """The directory roles (active, tenant-wide) and administrative units a user is in, as
    `memberOf` lists them beside the groups."""
    tenant = req.tenant
    roles = [
        select(role_object(tenant, a.role_id), req.query, ROLE_SELECT, own=ROLE_PROPERTIES)
        for a in tenant.roles.roles_of(user.id)
        if a.scope == "/"
    ]
    units = [
        select(unit_object(u), req.query, UNIT_SELECT, own=UNIT_PROPERTIES)
        for u in tenant.roles.units_of(user.id)
    ]
    return roles + units


UNIT_SELECT = ("id", "displayName", "description", "visibility", "deletedDateTime")
# The properties of each type memberOf lists beside groups (resources/directoryrole.md,
# resources/administrativeunit.md, "Properties"): a $select name of another type is left out.
ROLE_PROPERTIES = frozenset(n.lower() for n in ROLE_SELECT)
UNIT_PROPERTIES = frozenset(
    n.lower()
    for n in (
        *UNIT_SELECT,
        "isMemberManagementRestricted",
        "membershipRule",
        "membershipRuleProcessingState",
        "membershipType",
    )
)


def unit_object(unit) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.administrativeUnit",
        "id": unit.id,
        "displayName": unit.display_name,
        "description": unit.description,
        "visibility": None,
        "deletedDateTime": None,
    }


# directoryRoles -----------------------------------------------------------------------------


def find_role(req: GraphRequest) -> str:
    """The template of the activated directoryRole in the URL; 404 otherwise."""
    template = req.tenant.roles.template_of(req.params["id"])
    if template is None:
        raise not_found(req.params["id"])
    return template


@router.add("GET", "/directoryRoles", ROLE_READ)
def list_roles(req: GraphRequest) -> GraphResponse:
    tenant = req.tenant
    items = [
        select(role_object(tenant, t), req.query, ROLE_SELECT) for t in tenant.roles.role_objects
    ]
    url = f"{req.base_url}/directoryRoles"
    return GraphResponse(
        200, paged(items, req.query, url, f"{req.base_url}/$metadata#directoryRoles")
    )


@router.add("GET", "/directoryRoles/{id}", ROLE_READ)
def get_role(req: GraphRequest) -> GraphResponse:
    return GraphResponse(
        200, select(role_object(req.tenant, find_role(req)), req.query, ROLE_SELECT)
    )


@router.add("GET", "/directoryRoles/{id}/members", ROLE_READ)
def list_role_members(req: GraphRequest) -> GraphResponse:
    template = find_role(req)
    tenant = req.tenant
    members = [
        {"@odata.type": "#microsoft.graph.user", **u.props}
        for a in tenant.roles.active.values()
        if a.role_id == template and a.scope == "/"
        for u in [tenant.live_user(a.principal_id)]
        if u is not None
    ]
    items = [select(m, req.query, ("id", "displayName", "userPrincipalName")) for m in members]
    url = f"{req.base_url}/directoryRoles/{req.params['id']}/members"
    return GraphResponse(
        200, paged(items, req.query, url, f"{req.base_url}/$metadata#directoryObjects")
    )


@router.add("DELETE", "/directoryRoles/{id}/members/{member}/$ref", ROLE_WRITE)
def remove_role_member(req: GraphRequest) -> GraphResponse:
    template = find_role(req)
    held = req.tenant.roles.find(req.tenant.roles.active, req.params["member"], template)
    if held is None:
        raise not_found(req.params["member"])
    del req.tenant.roles.active[held.id]
    return GraphResponse(204)


# roleManagement/directory -------------------------------------------------------------------


@router.add("GET", "/roleManagement/directory/roleDefinitions", ROLE_READ)
def list_definitions(req: GraphRequest) -> GraphResponse:
    items = [
        {
            "id": template,
            "displayName": name,
            "description": name,
            "isBuiltIn": True,
            "isEnabled": True,
            "templateId": template,
        }
        for template, name in BUILT_IN_ROLES.items()
    ]
    predicate = req.filter({n: n for n in ("id", "displayName", "templateId")}, "RoleDefinition")
    if predicate is not None:
        items = [i for i in items if predicate(i)]
    # Only the $select'ed properties come back (concepts/query-parameters.md); the sandbox
    # holds these of unifiedRoleDefinition's, a documented one it does not hold is null.
    items = [select(i, req.query, tuple(i)) for i in items]
    url = f"{req.base_url}/roleManagement/directory/roleDefinitions"
    return GraphResponse(
        200,
        paged(
            items,
            req.query,
            url,
            f"{req.base_url}/$metadata#roleManagement/directory/roleDefinitions",
        ),
    )


def _filtered(req: GraphRequest, held: dict[str, Assignment], resource: str) -> list[Assignment]:
    found = list(held.values())
    predicate = req.filter(ASSIGNMENT_FILTERABLE, resource)
    if predicate is not None:
        found = [a for a in found if predicate(assignment_view(a))]
    return found


@router.add("GET", "/roleManagement/directory/roleAssignments", ROLE_READ)
def list_assignments(req: GraphRequest) -> GraphResponse:
    found = _filtered(req, req.tenant.roles.active, "UnifiedRoleAssignment")
    url = f"{req.base_url}/roleManagement/directory/roleAssignments"
    context = f"{req.base_url}/$metadata#roleManagement/directory/roleAssignments"
    page = paged(found, req.query, url, context)
    page["value"] = [assignment_view(a) for a in page["value"]]
    return GraphResponse(200, page)


@router.add("POST", "/roleManagement/directory/roleAssignments", ROLE_WRITE)
def create_assignment(req: GraphRequest) -> GraphResponse:
    data = req.json()
    principal, definition = data.get("principalId"), data.get("roleDefinitionId")
    for name, value in (("principalId", principal), ("roleDefinitionId", definition)):
        if not isinstance(value, str) or not value:
            raise bad_request(
                f"Invalid value specified for property '{name}' of resource "
                "'UnifiedRoleAssignment'."
            )
    # "The request must have either a scope defined in [Entra ID] specified by
    # directoryScopeId, or an application-specific scope specified by the appScopeId"
    # (rbacapplication-post-roleassignments.md); the sandbox read a missing one as "/". The
    # text is not published: the sandbox's is its eligibility requests' (below).
    if data.get("directoryScopeId") is None and data.get("appScopeId") is None:
        raise bad_request("Either directoryScopeId or appScopeId is required.", "InvalidRequest")
    if data.get("directoryScopeId") != "/" or data.get("appScopeId") is not None:
        raise bad_request("Only tenant-wide assignments (directoryScopeId '/') are emulated.")
    if definition not in BUILT_IN_ROLES:
        raise not_found(definition)
    roles = req.tenant.roles
    if req.tenant.live_user(principal) is None and principal not in roles.app_principals.values():
        raise not_found(principal)
    if roles.find(roles.active, principal, definition) is not None:
        raise GraphError(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "A conflicting object with one or more of the specified property values is present "
            "in the directory.",
        )
    created = roles.assign(principal, definition, now_iso())
    body = {
        "@odata.context": f"{req.base_url}/$metadata#roleManagement/directory/roleAssignments"
        "/$entity",
        **assignment_view(created),
    }
    return GraphResponse(201, body)


@router.add("GET", "/roleManagement/directory/roleAssignments/{id}", ROLE_READ)
def get_assignment(req: GraphRequest) -> GraphResponse:
    found = req.tenant.roles.active.get(req.params["id"])
    if found is None:
        raise not_found(req.params["id"])
    return GraphResponse(200, assignment_view(found))


@router.add("DELETE", "/roleManagement/directory/roleAssignments/{id}", ROLE_WRITE)
def delete_assignment(req: GraphRequest) -> GraphResponse:
    if req.tenant.roles.active.pop(req.params["id"], None) is None:
        raise not_found(req.params["id"])
    return GraphResponse(204)


@router.add("GET", "/roleManagement/directory/roleEligibilityScheduleInstances", ELIGIBILITY_READ)
def list_eligibilities(req: GraphRequest) -> GraphResponse:
    found = _filtered(req, req.tenant.roles.eligible, "UnifiedRoleEligibilityScheduleInstance")
    url = f"{req.base_url}/roleManagement/directory/roleEligibilityScheduleInstances"
    context = f"{req.base_url}/$metadata#roleManagement/directory/roleEligibilityScheduleInstances"
    page = paged(found, req.query, url, context)
    page["value"] = [eligibility_view(a) for a in page["value"]]
    return GraphResponse(200, page)


@router.add("POST", "/roleManagement/directory/roleEligibilityScheduleRequests", ELIGIBILITY_WRITE)
def eligibility_request(req: GraphRequest) -> GraphResponse:
    data = req.json()
    action = data.get("action")
    principal, definition = data.get("principalId"), data.get("roleDefinitionId")
    scope = data.get("directoryScopeId")
    for name, value in (("principalId", principal), ("roleDefinitionId", definition)):
        if not isinstance(value, str) or not value:
            raise bad_request(
                f"The request is missing a required property: {name}.", "InvalidRequest"
            )
    if not scope and not data.get("appScopeId"):
        raise bad_request("Either directoryScopeId or appScopeId is required.", "InvalidRequest")
    if definition not in BUILT_IN_ROLES:
        raise not_found(definition)
    roles = req.tenant.roles
    held = roles.find(roles.eligible, principal, definition) if scope == "/" else None
    if action == "adminRemove":
        if held is None:
            raise bad_request("The Role assignment does not exist.", "RoleAssignmentDoesNotExist")
        del roles.eligible[held.id]
        status = "Revoked"
    elif action == "adminAssign":
        if held is not None:
            raise bad_request("The Role assignment already exists.", "RoleAssignmentExists")
        if req.tenant.live_user(principal) is None:
            raise not_found(principal)
        roles.assign(principal, definition, now_iso(), eligible=True)
        status = "Provisioned"
    else:
        raise bad_request(f"The action '{action}' is not supported here.", "InvalidRequest")
    body = {
        "@odata.context": f"{req.base_url}/$metadata#roleManagement/directory/"
        "roleEligibilityScheduleRequests/$entity",
        "id": str(uuid.uuid4()),
        "status": status,
        "action": action,
        "principalId": principal,
        "roleDefinitionId": definition,
        "directoryScopeId": scope,
        "appScopeId": data.get("appScopeId"),
        "createdDateTime": now_iso(),
        "justification": data.get("justification"),
    }
    return GraphResponse(201, body)


# Password resets and other sensitive actions need a directory role ---------------------------

# "Who can perform sensitive actions" (entra-docs privileged-roles-permissions.md): disabling
# or enabling, these properties, deleting and restoring. user-update.md: "In app-only
# scenarios, the app must be assigned a higher privileged administrator role" for a user with
# privileged administrator roles; user-delete.md and directory-deleteditems-restore.md say the
# same of User.ReadWrite.All for deleting and restoring them.
SENSITIVE_PROPERTIES = frozenset(
    name.lower()
    for name in (
        "accountEnabled",
        "businessPhones",
        "mobilePhone",
        "onPremisesImmutableId",
        "otherMails",
        "passwordProfile",
        "userPrincipalName",
    )
)


def _app_roles(req: GraphRequest) -> set[str]:
    roles = req.tenant.roles
    principal = roles.app_principal(req.client_id)
    return {a.role_id for a in roles.roles_of(principal) if a.scope == "/"}


# The tables' row "User (no admin role, but member or owner of a role-assignable group)":
# only a Privileged Authentication or Global Administrator reaches them (owners not modelled).
ROLE_ASSIGNABLE_MEMBER = "member of a role-assignable group"


def _roles_held(req: GraphRequest, user: User) -> set[str]:
    roles = req.tenant.roles
    held = {a.role_id for a in roles.roles_of(user.id)}
    held |= {a.role_id for a in roles.roles_of(user.id, eligible=True)}
    if any(g.props.get("isAssignableToRole") is True for g in req.tenant.groups_of(user)):
        held.add(ROLE_ASSIGNABLE_MEMBER)
    return held


def _reaches(caller: set[str], target: set[str]) -> bool:
    return bool(caller & RESETS_ANYONE) or bool(
        caller & RESETS_SOME and target <= USER_ADMIN_MAY_RESET
    )


def check_sensitive_action(req: GraphRequest, user: User) -> None:
    """A sensitive action on a user who holds an admin role (active or eligible) needs an app
    role that reaches every role they hold; on anyone else the permission is enough."""
    target = _roles_held(req, user)
    if not target:
        return
    caller = _app_roles(req)
    if not (_reaches(caller, target) or (AUTH_ADMIN in caller and target <= AUTH_ADMIN_REACHES)):
        raise GraphError(403, "Authorization_RequestDenied", DENIED)


def check_user_update(req: GraphRequest, user: User, data: dict) -> None:
    """A PATCH that sets a sensitive property; a password always needs a directory role."""
    names = {str(name).lower() for name in data}
    if "passwordprofile" in names:
        check_password_reset(req, user)
    elif names & SENSITIVE_PROPERTIES:
        check_sensitive_action(req, user)


def check_password_reset(req: GraphRequest, user: User) -> None:
    """An app sets a password only with at least the User Administrator role, and a
    Privileged Authentication Administrator (or Global Administrator) role for a target
    holding any role a User Administrator may not reset (active or eligible)."""
    caller = _app_roles(req)
    if not _reaches(caller, _roles_held(req, user)):
        raise GraphError(403, "Authorization_RequestDenied", DENIED)


# Seeding (control API and demo) -------------------------------------------------------------


def seed_roles(tenant: EntraTenant, body: dict) -> None:
    """Roles and units from a control-API body:

    "apps": [{..., "directory_roles": ["User Administrator"]}]   # the default
    "directory_roles": [{"role": "Global Administrator", "members": ["<upn>"]}]
    "eligible_roles": [{"role": "Global Administrator", "members": ["<upn>"]}]
    "administrative_units": [{"display_name": "Paris", "members": ["<upn>"], "id"?}]
    """
    from sandbox.entra.admin_units import seed_units

    now = now_iso()
    apps = body.get("apps") or ([body["app"]] if isinstance(body.get("app"), dict) else [])
    for item in apps:
        client_id = str(item.get("client_id") or "").lower()
        app = next((a for a in tenant.apps.values() if a.client_id.lower() == client_id), None)
        if app is None:
            continue
        principal = tenant.roles.app_principal(app.client_id)
        for role in item.get("directory_roles", ["User Administrator"]):
            tenant.roles.assign(principal, role_template(role), now)
    for key, eligible in (("directory_roles", False), ("eligible_roles", True)):
        for entry in body.get(key) or []:
            if not isinstance(entry, dict):
                raise ValueError(f"{key} entries are objects: {{role, members}}")
            template = role_template(entry.get("role", ""))
            for member in entry.get("members") or []:
                user = tenant.live_user(str(member))
                if user is None:
                    raise ValueError(f"{key}: unknown member {member!r}")
                tenant.roles.assign(user.id, template, now, eligible=eligible)
    seed_units(tenant, body.get("administrative_units") or [])


__all__ = [
    "USER_ADMIN",
    "check_password_reset",
    "check_sensitive_action",
    "check_user_update",
    "directory_objects_of",
    "seed_roles",
]
