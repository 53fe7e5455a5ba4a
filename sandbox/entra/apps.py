"""Graph apps: servicePrincipals and app role assignments, from either side."""

from __future__ import annotations

from typing import Any

from sandbox.entra.errors import bad_request, not_found, undeclared_directory_property
from sandbox.entra.model import (
    DEFAULT_ACCESS_ROLE,
    AppRoleAssignment,
    ServicePrincipal,
    new_id,
    now_iso,
)
from sandbox.entra.odata import (
    Known,
    check_guid_literal,
    check_object_id,
    check_select,
    paged,
    select,
)
from sandbox.entra.router import (
    APP_ASSIGN,
    APP_READ,
    GraphRequest,
    GraphResponse,
    count_response,
    router,
)
from sandbox.entra.users import find_user

SP_SELECT = (
    "id",
    "appId",
    "displayName",
    "servicePrincipalType",
    "accountEnabled",
    "appRoleAssignmentRequired",
    "appRoles",
)
# What $select may name on a service principal: servicePrincipal.md's properties
# (api-reference/v1.0/resources/serviceprincipal.md, "Properties"); any other name is 400 as
# on /users and /groups (the sandbox answered it with null). Those it does not hold are null.
SP_KNOWN: Known = (
    frozenset(
        n.lower()
        for n in (
            *SP_SELECT,
            "addIns",
            "alternativeNames",
            "appDescription",
            "appDisplayName",
            "applicationTemplateId",
            "appOwnerOrganizationId",
            "deletedDateTime",
            "description",
            "disabledByMicrosoftStatus",
            "homepage",
            "info",
            "keyCredentials",
            "loginUrl",
            "logoutUrl",
            "notes",
            "notificationEmailAddresses",
            "oauth2PermissionScopes",
            "passwordCredentials",
            "preferredSingleSignOnMode",
            "preferredTokenSigningKeyThumbprint",
            "replyUrls",
            "resourceSpecificApplicationPermissions",
            "samlSingleSignOnSettings",
            "servicePrincipalNames",
            "signInAudience",
            "tags",
            "tokenEncryptionKeyId",
            "verifiedPublisher",
        )
    ),
    "microsoft.graph.servicePrincipal",
)
SP_FILTERABLE = {n: n for n in ("id", "appId", "displayName")}
ASSIGNMENT_READ = (*APP_ASSIGN, *APP_READ)


def find_sp(req: GraphRequest, key: str) -> ServicePrincipal:
    check_object_id(key)  # keyed by its GUID only (appId through servicePrincipals(appId=…))
    sp = req.tenant.service_principals.get(key)
    if sp is None:
        raise not_found(key)
    return sp


def user_roles(sp: ServicePrincipal) -> list[dict]:
    """The app roles a user may be given: enabled, with "User" among allowedMemberTypes."""
    return [
        r
        for r in sp.app_roles
        if r.get("isEnabled", True) and "User" in (r.get("allowedMemberTypes") or [])
    ]


def assignable_to_users(sp: ServicePrincipal, role_id: str) -> bool:
    """Graph checks a user's appRoleId against the app's roles for users; the default access
    role (all zeros) stands only for an app that declares none."""
    if role_id == DEFAULT_ACCESS_ROLE:
        return not user_roles(sp)
    return any(r["id"] == role_id for r in user_roles(sp))


def assignment_view(req: GraphRequest, a: AppRoleAssignment) -> dict[str, Any]:
    user = req.tenant.users.get(a.principal_id)
    sp = req.tenant.service_principals.get(a.resource_id)
    return {
        "id": a.id,
        "appRoleId": a.app_role_id,
        "createdDateTime": a.created,
        "deletedDateTime": None,
        "principalId": a.principal_id,
        "principalDisplayName": user.props.get("displayName") if user else None,
        "principalType": "User",
        "resourceId": a.resource_id,
        "resourceDisplayName": sp.display_name if sp else None,
    }


def matching_sps(req: GraphRequest) -> list[dict[str, Any]]:
    sps = [sp.to_graph() for sp in req.tenant.service_principals.values()]
    predicate = req.filter(SP_FILTERABLE, "ServicePrincipal")
    if predicate is not None:
        sps = [sp for sp in sps if predicate(sp)]
    return sps


@router.add("GET", "/servicePrincipals", APP_READ)
def list_sps(req: GraphRequest) -> GraphResponse:
    check_select(req.query, SP_KNOWN)
    items = [select(sp, req.query, SP_SELECT, SP_KNOWN) for sp in matching_sps(req)]
    return GraphResponse(
        200,
        paged(
            items,
            req.query,
            f"{req.base_url}/servicePrincipals",
            f"{req.base_url}/$metadata#servicePrincipals",
        ),
    )


@router.add("GET", "/servicePrincipals/$count", APP_READ)
def count_sps(req: GraphRequest) -> GraphResponse:
    return count_response(req, matching_sps(req))


@router.add("GET", "/servicePrincipals/{id}", APP_READ)
def get_sp(req: GraphRequest) -> GraphResponse:
    sp = find_sp(req, req.params["id"])
    return GraphResponse(200, select(sp.to_graph(), req.query, SP_SELECT, SP_KNOWN))


@router.add("GET", "/servicePrincipals(appId='{appId}')", APP_READ)
def own_principal(req: GraphRequest) -> GraphResponse:
    """The calling app's own service principal (not listed in GET /servicePrincipals here)."""
    client_id = req.params["appId"]
    app = req.tenant.apps.get(client_id)
    if app is None:
        raise not_found(f"appId='{client_id}'")
    body = {
        "@odata.context": f"{req.base_url}/$metadata#servicePrincipals/$entity",
        "id": req.tenant.roles.app_principal(client_id),
        "appId": client_id,
        "displayName": app.display_name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appRoles": [],
    }
    held = tuple(k for k in body if k[0] != "@")
    return GraphResponse(200, select(body, req.query, held, SP_KNOWN))


# approleassignment.md, Properties.
ASSIGNMENT_PROPERTIES = frozenset(
    {
        "appRoleId",
        "createdDateTime",
        "deletedDateTime",
        "id",
        "principalDisplayName",
        "principalId",
        "principalType",
        "resourceDisplayName",
        "resourceId",
    }
)


def _assign(req: GraphRequest, principal_id: str | None, resource_id: str | None) -> GraphResponse:
    data = req.json()
    # A name approleassignment.md does not declare is refused, with the directory's text for
    # an undeclared property (users.py); the sandbox ignored it, so a misspelt `appRoleID`
    # passed here beside a right one.
    for key in data:
        if key not in ASSIGNMENT_PROPERTIES and not key.startswith("@odata."):
            raise undeclared_directory_property(key)
    # All three in the body on either route, whatever the URL names: principalId and
    # resourceId are "Required on create" (approleassignment.md); the sandbox took the one
    # the URL gave.
    principal = data.get("principalId")
    resource = data.get("resourceId")
    role_id = data.get("appRoleId")
    for name, value in (
        ("principalId", principal),
        ("resourceId", resource),
        ("appRoleId", role_id),
    ):
        if not isinstance(value, str) or not value:
            raise bad_request(
                f"Invalid value specified for property '{name}' of resource 'AppRoleAssignment'."
            )
        check_guid_literal(value)  # the three are Edm.Guid (approleassignment.md)
    if principal_id and principal != principal_id:
        raise bad_request("principalId in the body does not match the user in the URL.")
    if resource_id and resource != resource_id:
        raise bad_request("resourceId in the body does not match the service principal in the URL.")
    user = find_user(req, principal)
    sp = find_sp(req, resource)
    if not assignable_to_users(sp, role_id):
        raise bad_request(f"Permission being assigned was not found on application '{sp.app_id}'.")
    for existing in req.tenant.assignments_of_user(user.id):
        if existing.resource_id == sp.id and existing.app_role_id == role_id:
            raise bad_request("Permission being assigned already exists on the object")
    assignment = AppRoleAssignment(new_id(), role_id, user.id, sp.id, now_iso())
    req.tenant.assignments[assignment.id] = assignment
    return GraphResponse(201, assignment_view(req, assignment))


@router.add("POST", "/servicePrincipals/{id}/appRoleAssignedTo", APP_ASSIGN)
def assign_via_sp(req: GraphRequest) -> GraphResponse:
    return _assign(req, None, find_sp(req, req.params["id"]).id)


@router.add("POST", "/users/{id}/appRoleAssignments", APP_ASSIGN)
def assign_via_user(req: GraphRequest) -> GraphResponse:
    return _assign(req, find_user(req, req.params["id"]).id, None)


@router.add("GET", "/servicePrincipals/{id}/appRoleAssignedTo", ASSIGNMENT_READ)
def list_assigned_to(req: GraphRequest) -> GraphResponse:
    sp = find_sp(req, req.params["id"])
    live = {u.id for u in req.tenant.live_users()}
    items = [
        assignment_view(req, a) for a in req.tenant.assignments_to(sp.id) if a.principal_id in live
    ]
    return GraphResponse(
        200,
        paged(
            items,
            req.query,
            f"{req.base_url}/servicePrincipals/{sp.id}/appRoleAssignedTo",
            f"{req.base_url}/$metadata#appRoleAssignments",
        ),
    )


@router.add("GET", "/users/{id}/appRoleAssignments", ASSIGNMENT_READ)
def list_user_assignments(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    items = [assignment_view(req, a) for a in req.tenant.assignments_of_user(user.id)]
    return GraphResponse(
        200,
        paged(
            items,
            req.query,
            f"{req.base_url}/users/{user.id}/appRoleAssignments",
            f"{req.base_url}/$metadata#appRoleAssignments",
        ),
    )


def _remove(req: GraphRequest, *, user_id: str | None, sp_id: str | None) -> GraphResponse:
    key = req.params["assignment"]
    assignment = req.tenant.assignments.get(key)
    if (
        assignment is None
        or (user_id and assignment.principal_id != user_id)
        or (sp_id and assignment.resource_id != sp_id)
    ):
        raise not_found(key)
    del req.tenant.assignments[key]
    return GraphResponse(204)


@router.add("DELETE", "/servicePrincipals/{id}/appRoleAssignedTo/{assignment}", APP_ASSIGN)
def remove_via_sp(req: GraphRequest) -> GraphResponse:
    return _remove(req, user_id=None, sp_id=find_sp(req, req.params["id"]).id)


@router.add("DELETE", "/users/{id}/appRoleAssignments/{assignment}", APP_ASSIGN)
def remove_via_user(req: GraphRequest) -> GraphResponse:
    return _remove(req, user_id=find_user(req, req.params["id"]).id, sp_id=None)
