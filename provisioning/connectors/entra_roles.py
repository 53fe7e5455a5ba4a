"""Entra directory roles, PIM eligibilities and administrative units for EntraConnector; and
what the connection's own app may do (its token's application permissions, its directory
roles), for Test connection.

`memberOf` lists groups, directory roles and administrative units together, each with its
`@odata.type`: only the groups are groups. Roles are read through the unified RBAC API
(active assignments and PIM eligibilities, by principal) and removed through it; units are
left through `DELETE /directory/administrativeUnits/{id}/members/{id}/$ref`.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from msgraph.generated.models.unified_role_eligibility_schedule_request import (
    UnifiedRoleEligibilityScheduleRequest,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (
    UnifiedRoleScheduleRequestActions,
)

from provisioning.connectors.base import HeldRole, Resource
from provisioning.connectors.errors import NotFoundError, PermanentError, PermissionDeniedError

GROUP = "#microsoft.graph.group"
ROLE = "#microsoft.graph.directoryRole"
UNIT = "#microsoft.graph.administrativeUnit"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"
ELIGIBILITIES = "/roleManagement/directory/roleEligibilityScheduleInstances"
# Graph's answer to removing an eligibility that is not there (any more): done already.
NO_SUCH_ASSIGNMENT = "does not exist"
UNIT_WRITE = "AdministrativeUnit.ReadWrite.All"
REFUSED = "@refused"  # a role read the app may not make: the reason, in the body's place


NOT_READ = "Only a leave reads directory roles."  # roles_unread of a read that left them out


def role_urls(user_id: str) -> list[str]:
    """The two reads of a user's roles, for the same `$batch` as the user's other reads."""
    where = quote(f"principalId eq '{user_id}'")
    return [f"{ASSIGNMENTS}?$filter={where}", f"{ELIGIBILITIES}?$filter={where}"]


def split_member_of(items: list[dict]) -> tuple[frozenset[str], frozenset[str]]:
    """(group ids, administrative unit ids) of a `memberOf` read; directory roles are left
    out (read with their definitions through `role_urls`)."""
    groups = {str(i["id"]) for i in items if i.get("id") and i.get("@odata.type", GROUP) == GROUP}
    units = {str(i["id"]) for i in items if i.get("id") and i.get("@odata.type") == UNIT}
    return frozenset(groups), frozenset(units)


def role_fields(pages: list[dict], units: frozenset[str]) -> dict:
    """AccessState's role fields from the two role reads (bodies, or a refusal's reason)."""
    refused = [page[REFUSED] for page in pages if REFUSED in page]
    held = {
        HeldRole(str(a["roleDefinitionId"]), eligible, str(a.get("directoryScopeId") or "/"))
        for page, eligible in zip(pages, (False, True), strict=True)
        for a in page.get("value") or []
        if a.get("roleDefinitionId")
    }
    return {"roles": frozenset(held), "admin_units": units, "roles_unread": "; ".join(refused)}


def refusal(error) -> str | None:
    """The reason to note when a role read is refused (no permission, no Entra ID P2 for
    PIM), None when the error must be raised as any other read's would."""
    if isinstance(error, PermanentError) and not isinstance(error, NotFoundError):
        return error.message
    return None


def password_refused(exc: PermissionDeniedError) -> PermissionDeniedError:
    """A refused password reset in words that say what to change: Graph lets an app set
    passwords only when it also holds a directory role."""
    return PermissionDeniedError(
        "The directory refused to set the password: besides User.ReadWrite.All the app needs "
        "the User Administrator role (Privileged Authentication Administrator when the person "
        f"holds an admin role or is in a role-assignable group). Directory's answer: {exc.message}",
        status=exc.status,
        request_id=exc.request_id,
    )


def sensitive_refused(exc: PermissionDeniedError, action: str) -> PermissionDeniedError:
    """A refused sensitive action (blocking or allowing sign-in, deleting) in words that say
    what to change: for a person who holds an admin role, User.ReadWrite.All is not enough
    (entra-docs, "Who can perform sensitive actions")."""
    return PermissionDeniedError(
        f"The directory refused to {action}: when the person holds an admin role (or is in a "
        "role-assignable group), the app "
        "needs a directory role that reaches it (Privileged Authentication Administrator; a "
        "User Administrator reaches only limited admins such as Helpdesk Administrators), or "
        f"the role must go first. Directory's answer: {exc.message}",
        status=exc.status,
        request_id=exc.request_id,
    )


# Catalogues ---------------------------------------------------------------------------------


async def role_definitions(connector) -> list[Resource]:
    return await _all(connector, "/roleManagement/directory/roleDefinitions?$select=id,displayName")


async def admin_units(connector) -> list[Resource]:
    return await _all(connector, "/directory/administrativeUnits?$select=id,displayName")


async def _all(connector, url: str) -> list[Resource]:
    found: list[Resource] = []
    link = url
    while link:
        body = await connector._delta_page(link)
        found += [
            Resource(str(i["id"]), i.get("displayName") or "") for i in body.get("value") or []
        ]
        link = body.get("@odata.nextLink") or ""
    return found


# Removal ------------------------------------------------------------------------------------


async def remove_role(connector, user_id: str, role: HeldRole) -> None:
    """Take one role from a user; done when it is gone already."""
    try:
        await _remove_role(connector, user_id, role)
    except PermissionDeniedError as exc:
        raise _needs(exc, "remove directory roles", "RoleManagement.ReadWrite.Directory") from None


async def _remove_role(connector, user_id: str, role: HeldRole) -> None:
    if role.eligible:
        await _remove_eligibility(connector, user_id, role)
        return
    where = quote(f"principalId eq '{user_id}' and roleDefinitionId eq '{role.role_id}'")
    body = await connector._delta_page(f"{ASSIGNMENTS}?$filter={where}")
    assignments = connector._graph().role_management.directory.role_assignments
    for found in body.get("value") or []:
        if (found.get("directoryScopeId") or "/") != role.scope:
            continue
        try:
            async with connector._errors(user_id):
                await assignments.by_unified_role_assignment_id(found["id"]).delete()
        except NotFoundError:
            continue


async def _remove_eligibility(connector, user_id: str, role: HeldRole) -> None:
    request = UnifiedRoleEligibilityScheduleRequest(
        action=UnifiedRoleScheduleRequestActions.AdminRemove,
        principal_id=user_id,
        role_definition_id=role.role_id,
        directory_scope_id=role.scope,
        justification="Offboarding: the person has left.",
    )
    requests = connector._graph().role_management.directory.role_eligibility_schedule_requests
    try:
        async with connector._errors(user_id):
            await requests.post(request)
    except PermanentError as exc:
        if NO_SUCH_ASSIGNMENT not in exc.message:
            raise


async def leave_admin_unit(connector, user_id: str, unit_id: str) -> None:
    members = (
        connector._graph().directory.administrative_units.by_administrative_unit_id(unit_id).members
    )
    try:
        async with connector._errors(user_id):
            await members.by_directory_object_id(user_id).ref.delete()
    except NotFoundError:
        return
    except PermissionDeniedError as exc:
        raise _needs(exc, "remove members of administrative units", UNIT_WRITE) from None


def _needs(exc: PermissionDeniedError, what: str, permission: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"The directory refused to {what}: the app needs the {permission} permission. "
        f"Directory's answer: {exc.message}",
        status=exc.status,
        request_id=exc.request_id,
    )


# What the connection's own app may do -------------------------------------------------------


def token_roles(token: str) -> frozenset[str]:
    """The application permissions an app-only token carries (its `roles` claim), read
    without verifying: Graph verifies it; we only report what it says."""
    parts = token.split(".")
    if len(parts) != 3:
        return frozenset()
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return frozenset()
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset()


async def own_directory_roles(connector) -> frozenset[str]:
    """The role definitions assigned (actively) to the connection's own service principal."""
    principal = await connector._delta_page(f"/servicePrincipals(appId='{connector.client_id}')")
    where = quote(f"principalId eq '{principal['id']}'")
    body = await connector._delta_page(f"{ASSIGNMENTS}?$filter={where}")
    return frozenset(str(a["roleDefinitionId"]) for a in body.get("value") or [])
