"""Access that comes through a group the portal does not hold the key to, found at planning.

- An imported group (Resource.detail "imported", e.g. Okta's APP_GROUP from Active Directory)
  takes its members from its source: the directory refuses to add or remove them. Such a step
  becomes a checklist item for the source (`Plan.checklist`), never a step, so the job
  neither fails on it nor plans it again each round.
- An app a group grants (the connector's `groups_granting`) is held through the group: the
  directory refuses to unassign it from the member (Okta: E0000046). It goes when the plan
  takes the user out of every group that grants it; while one of them stays (kept by the
  leave, built in, imported), it stays too, and the plan says why. Either way it is no step,
  and no exception of the leave: a restore gives it back with the group.
"""

from __future__ import annotations

from provisioning.connectors.base import Resource
from provisioning.engine import planner  # the planner calls settle: attributes at call time
from provisioning.models import Step

IMPORTED_GROUP = "imported_group"
APP_THROUGH_GROUP = "app_through_group"
ADD_GROUP, REMOVE_GROUP = Step.Action.ADD_GROUP, Step.Action.REMOVE_GROUP
UNASSIGN_APP = Step.Action.UNASSIGN_APP
_GROUP_STEPS = {ADD_GROUP: ("Add", "to"), REMOVE_GROUP: ("Remove", "from")}


async def settle(connector, plan: planner.Plan, username: str) -> None:
    """Imported groups' steps to the checklist; group-granted apps left to their groups."""
    if not any(s.action in _GROUP_STEPS or s.action == UNASSIGN_APP for s in plan.steps):
        return
    groups = await connector.groups()
    _set_aside_imported(plan, groups, username)
    await _leave_apps_to_their_groups(connector, plan, groups)


def _by_id(groups: list[Resource], group_id: str) -> Resource | None:
    return next((g for g in groups if g.id == group_id), None)


def _set_aside_imported(plan: planner.Plan, groups: list[Resource], username: str) -> None:
    kept = []
    for step in plan.steps:
        group = (
            _by_id(groups, step.params.get("group_id", "")) if step.action in _GROUP_STEPS else None
        )
        if group is None or not group.detail.get("imported"):
            kept.append(step)
            continue
        verb, preposition = _GROUP_STEPS[step.action]
        source = group.detail.get("imported_from") or "its source"
        plan.checklist.append(
            planner.ChecklistItem(
                IMPORTED_GROUP,
                f"{verb} {username} {preposition} {group.name} in {source}",
                f"“{group.name}” is imported from {source}: the directory takes its members "
                "from there and refuses to change them itself",
            )
        )
    plan.steps = kept


async def _leave_apps_to_their_groups(
    connector, plan: planner.Plan, groups: list[Resource]
) -> None:
    unassigns = [s for s in plan.steps if s.action == UNASSIGN_APP]
    granting_of = getattr(connector, "groups_granting", None)
    if not unassigns or granting_of is None:
        return
    granting = await granting_of([s.params["app_id"] for s in unassigns])
    leaving = {s.params["group_id"] for s in plan.steps if s.action == REMOVE_GROUP}
    through_group = set()
    for step in unassigns:
        held_through = granting.get(step.params["app_id"], frozenset()) & plan.access.groups
        if held_through:
            through_group.add(step.params["app_id"])
            plan.problems.append(
                _note(step.target_name, held_through - leaving, held_through, groups)
            )
    plan.steps = [
        s
        for s in plan.steps
        if not (s.action == UNASSIGN_APP and s.params["app_id"] in through_group)
    ]
    if plan.exceptions.get("apps"):
        plan.exceptions["apps"] = [
            r for r in plan.exceptions["apps"] if r["id"] not in through_group
        ]


def _note(app: str, staying: set[str], held_through, groups: list[Resource]) -> planner.Problem:
    if not staying:
        names = _names(held_through, groups)
        return planner.Problem(
            APP_THROUGH_GROUP, f"{app} comes through {names}: it goes with the group.", app, False
        )
    reasons = "; ".join(f"{_name(g, groups)} {_why_it_stays(g, groups)}" for g in sorted(staying))
    return planner.Problem(
        APP_THROUGH_GROUP,
        f"{app} stays: it comes through a group the user stays in ({reasons}). Remove the "
        "user from that group, or the app from the group, to take it away.",
        app,
        blocking=False,
    )


def _why_it_stays(group_id: str, groups: list[Resource]) -> str:
    group = _by_id(groups, group_id)
    detail = group.detail if group else {}
    if detail.get("builtin"):
        return "is built in: every user is in it"
    if detail.get("imported"):
        return f"is imported from {detail.get('imported_from') or 'its source'} (see the checklist)"
    if detail.get("dynamic"):
        return "is rule-based"
    return "is kept"


def _name(group_id: str, groups: list[Resource]) -> str:
    group = _by_id(groups, group_id)
    return f"“{group.name}”" if group else group_id


def _names(group_ids, groups: list[Resource]) -> str:
    return ", ".join(_name(g, groups) for g in sorted(group_ids))
