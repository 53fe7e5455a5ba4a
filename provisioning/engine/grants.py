"""Plans of access requests: add one group or app, or take it away again."""

from __future__ import annotations

from provisioning.engine.planner import (
    ADD_GROUP,
    ASSIGN_APP,
    REMOVE_GROUP,
    UNASSIGN_APP,
    Plan,
    PlannedStep,
    Problem,
    _current_user,
)

ACTIONS = {  # resource kind -> (grant action, removal action, param)
    "group": (ADD_GROUP, REMOVE_GROUP, "group_id"),
    "app": (ASSIGN_APP, UNASSIGN_APP, "app_id"),
}


async def plan_grant(
    connector, connection_id: int, username: str, remote_id: str, resource: dict, grant: bool
) -> Plan:
    """`resource`: {"kind", "id", "name"}. Nothing to do when the directory already agrees
    (a grant of access they hold; a removal of access they no longer have)."""
    plan = Plan(connection_id, connector.kind)
    user = await _current_user(connector, username, remote_id)
    if user is None:
        if grant:
            plan.problems.append(
                Problem("no_account", f"{username} has no account in this directory yet.")
            )
        return plan
    plan.user = user
    access = await connector.access_of(user.id)
    held = access.groups if resource["kind"] == "group" else access.apps
    add, remove, param = ACTIONS[resource["kind"]]
    if grant and resource["id"] not in held:
        plan.steps.append(PlannedStep(add, resource["name"], {param: resource["id"]}))
    elif not grant and resource["id"] in held:
        plan.steps.append(PlannedStep(remove, resource["name"], {param: resource["id"]}))
    return plan


async def kept(connection_id: int, kind: str, name: str) -> Plan:
    """A grant ends, but the person holds the access by other means: nothing is removed."""
    plan = Plan(connection_id, kind)
    plan.problems.append(
        Problem(
            "kept",
            f"{name} stays: it was theirs before the grant, or a role or another grant gives it.",
            name,
            blocking=False,
        )
    )
    return plan
