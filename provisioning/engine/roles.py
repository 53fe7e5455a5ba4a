"""Directory roles and administrative units in a plan: a leaver loses every admin role they
hold (active or PIM-eligible) and every administrative unit they are in, each as its own
step; a joiner or a mover keeps what they hold (the portal does not hand out admin roles).

Removals come first in the plan, before a password reset: a directory refuses to reset an
administrator's password (or block their sign-in) to an app that is only a User
Administrator, and an administrator whose roles are gone is a user like any other. The same
holds for a member of a role-assignable group, so leaving those groups comes first too. The
read-back verifies them like the rest: a role still held next round is planned again.
"""

from __future__ import annotations

from provisioning.connectors.base import HeldRole, Resource
from provisioning.connectors.errors import ConnectorError
from provisioning.engine import planner
from provisioning.engine.desired import DesiredState

REMOVE_ROLE, REMOVE_ADMIN_UNIT = "remove_role", "remove_admin_unit"


def has_roles(connector) -> bool:
    """Whether the directory has admin roles and units to read (a capability, not a kind)."""
    return bool(getattr(connector, "has_directory_roles", False))


async def plan_roles(connector, plan, desired: DesiredState) -> None:
    """Removal steps for a leaver's roles and units (none for anyone else)."""
    if not (desired.leaving and plan.user is not None and has_roles(connector)):
        return
    access = plan.access
    if access.roles_unread:
        plan.problems.append(
            planner.Problem(
                "roles_unread",
                "Could not read the directory roles this person holds, so none will be removed: "
                f"{access.roles_unread} Give the app RoleManagement.ReadWrite.Directory (and "
                "Microsoft Entra ID P2 for eligible roles).",
                desired.username,
                blocking=False,
            )
        )
    names = await _names(connector, "roles")
    steps = [
        planner.PlannedStep(REMOVE_ROLE, role_label(role, names), role_params(role))
        for role in sorted(access.roles, key=lambda r: (r.eligible, r.role_id, r.scope))
    ]
    if access.admin_units:
        units = await _names(connector, "admin_units")
        steps += [
            planner.PlannedStep(REMOVE_ADMIN_UNIT, units.get(unit, unit), {"unit_id": unit})
            for unit in sorted(access.admin_units)
        ]
    steps += await _role_group_removals(connector, plan)
    at = next((i for i, s in enumerate(plan.steps) if s.action == planner.RESET_PASSWORD), None)
    at = len(plan.steps) if at is None else at
    plan.steps[at:at] = steps


async def _role_group_removals(connector, plan) -> list:
    """The removals from role-assignable groups, taken out of their place: a member of one is
    out of a User Administrator's reach as an admin is (no password reset, no block of
    sign-in), so they go first, with the roles."""
    removals = [s for s in plan.steps if s.action == planner.REMOVE_GROUP]
    if not removals:
        return []
    assignable = {r.id for r in await connector.groups() if r.detail.get("role_assignable")}
    moved = [s for s in removals if s.params["group_id"] in assignable]
    plan.steps[:] = [s for s in plan.steps if not any(s is m for m in moved)]
    return moved


async def _names(connector, catalogue: str) -> dict[str, str]:
    """Id -> name; ids stand for names where the catalogue cannot be read."""
    try:
        resources: list[Resource] = await getattr(connector, catalogue)()
    except ConnectorError:  # names only: the ids do
        return {}
    return {r.id: r.name for r in resources}


def role_label(role: HeldRole, names: dict[str, str]) -> str:
    label = names.get(role.role_id, role.role_id)
    if role.scope != "/":
        label += f" (scope {role.scope})"
    return label + (" (eligible)" if role.eligible else "")


def role_params(role: HeldRole) -> dict:
    return {"role_id": role.role_id, "eligible": role.eligible, "scope": role.scope}


def held_role(params: dict) -> HeldRole:
    return HeldRole(params["role_id"], bool(params.get("eligible")), params.get("scope") or "/")
