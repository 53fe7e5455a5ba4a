"""Work that belongs to another system, found when planning.

A step Graph would refuse because another system is the object's source of authority is set
aside as a checklist item (`Plan.checklist`: shown at dry run, kept on the job), never left
as a step: a job neither fails on it nor plans it again each round, and its read-back
verifies what the portal can change.

- A user synced from on-premises AD (`onPremisesSyncEnabled`, the connector's `synced`
  attribute): AD masters the profile, the manager, the sign-in state and the password, and a
  delete in the cloud alone is undone by the next sync. Its usage location, cloud group
  memberships, licences, apps and sessions stay the portal's. A leaver's direct report who
  is synced gets the new manager in AD too (read only where the connector says users may
  be synced: `on_premises_sync`).
- A mail-enabled security group or a distribution list (mail-enabled, not "Unified"):
  Exchange Online owns its members.
- A group synced from on-premises AD: AD owns its members.
"""

from __future__ import annotations

from dataclasses import replace

from provisioning.connectors.base import DirectoryUser, Resource
from provisioning.engine import planner
from provisioning.engine.parking import LeaseLost, held
from provisioning.models import Job, Step

Action = Step.Action

SYNCED_USER, EXCHANGE_GROUP, SYNCED_GROUP = "synced_user", "mail_enabled_group", "synced_group"
ON_PREMISES = "on-premises Active Directory"
SYNCED_WHY = "synced from on-premises AD (onPremisesSyncEnabled): Graph refuses the change"
SYNCED_DELETE_WHY = (
    "synced from on-premises AD (onPremisesSyncEnabled): deleted in Entra alone, the account "
    "comes back with the next sync"
)
EXCHANGE_WHY = (
    "a mail-enabled group that is not a Microsoft 365 group: Exchange Online owns its "
    "members, and Graph refuses the change"
)
SYNCED_GROUP_WHY = (
    "a group synced from on-premises AD (onPremisesSyncEnabled): AD owns its members, and "
    "Graph refuses the change"
)
CLOUD_ATTRIBUTES = frozenset({"usage_location"})  # what Graph still writes on a synced user
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "display_name": "display name",
    "job_title": "job title",
}
# What AD masters on a synced user, as the checklist words it ({user} is the UPN).
_USER_WORK = {
    Action.ENABLE_USER: "Enable {user} in on-premises Active Directory",
    Action.DISABLE_USER: "Disable {user} in on-premises Active Directory",
    Action.RESET_PASSWORD: "Reset the password of {user} in on-premises Active Directory",
    Action.DELETE_USER: (
        "Delete {user} in on-premises Active Directory (or take it out of the sync scope)"
    ),
    Action.SET_MANAGER: "Set the manager of {user} to {target} in on-premises Active Directory",
}
_GROUP_ACTIONS = {Action.ADD_GROUP: ("Add", "to"), Action.REMOVE_GROUP: ("Remove", "from")}


def is_synced(user: DirectoryUser | None) -> bool:
    return bool(user and user.attributes.get("synced"))


def owner_of(group: Resource | None) -> str:
    """Who owns the group's members if not the directory's API: "" when Graph does."""
    if group is None:
        return ""
    if group.detail.get("synced"):
        return SYNCED_GROUP
    if group.detail.get("mail_enabled") and not group.detail.get("unified"):
        return EXCHANGE_GROUP
    return ""


async def set_aside(connector, plan: planner.Plan, username: str) -> None:
    """Move the steps another system owns from `plan.steps` to `plan.checklist`."""
    if not plan.steps:
        return
    groups = []
    if any(step.action in _GROUP_ACTIONS for step in plan.steps):
        groups = await connector.groups()
    synced = is_synced(plan.user)
    synced_reports = await _synced_reports(connector, plan.steps)
    kept: list[planner.PlannedStep] = []
    for step in plan.steps:
        if synced and step.action == Action.UPDATE_USER:
            kept += _split_update(plan, step, username)
        elif synced and step.action in _USER_WORK:
            plan.checklist.append(_user_item(step, username))
        elif synced and step.action == Action.PURGE_USER:
            continue  # the delete's checklist item says it all
        elif step.action in _GROUP_ACTIONS and (item := _group_item(step, groups, username)):
            plan.checklist.append(item)
        elif step.action == Action.REASSIGN_REPORT and step.params["report_id"] in synced_reports:
            report = synced_reports[step.params["report_id"]]
            work = _USER_WORK[Action.SET_MANAGER].format(
                user=report, target=step.params["manager"].get("username") or step.target_name
            )
            plan.checklist.append(planner.ChecklistItem(SYNCED_USER, work, SYNCED_WHY))
        else:
            kept.append(step)
    plan.steps = kept


async def _synced_reports(connector, steps) -> dict[str, str]:
    """Report id -> username, of the direct reports a leave hands over who are synced."""
    if not getattr(connector, "on_premises_sync", False):
        return {}
    found = {}
    for step in steps:
        if step.action == Action.REASSIGN_REPORT:
            report = await connector.get_user(step.params["report_id"])
            if is_synced(report):
                found[report.id] = report.username
    return found


def _user_item(step: planner.PlannedStep, username: str) -> planner.ChecklistItem:
    why = SYNCED_DELETE_WHY if step.action == Action.DELETE_USER else SYNCED_WHY
    work = _USER_WORK[step.action].format(user=username, target=step.target_name)
    return planner.ChecklistItem(SYNCED_USER, work, why)


def _split_update(plan: planner.Plan, step, username: str) -> list[planner.PlannedStep]:
    """The cloud-side attributes stay a step; the rest is AD's."""
    attributes = step.params.get("attributes", {})
    cloud = {k: v for k, v in attributes.items() if k in CLOUD_ATTRIBUTES}
    on_premises = {k: v for k, v in attributes.items() if k not in CLOUD_ATTRIBUTES}
    if on_premises:
        changes = ", ".join(
            f"{LABELS.get(name, name.replace('_', ' '))} to “{value}”"
            if value is not None
            else f"{LABELS.get(name, name.replace('_', ' '))} to nothing (clear it)"
            for name, value in on_premises.items()
        )
        plan.checklist.append(
            planner.ChecklistItem(
                SYNCED_USER, f"Set {changes} for {username} in {ON_PREMISES}", SYNCED_WHY
            )
        )
    if not cloud:
        return []
    return [
        replace(
            step,
            target_name=planner.update_label(cloud),
            params={**step.params, "attributes": cloud},
        )
    ]


def _group_item(step, groups: list[Resource], username: str) -> planner.ChecklistItem | None:
    group = next((g for g in groups if g.id == step.params.get("group_id")), None)
    owner = owner_of(group)
    if not owner:
        return None
    verb, preposition = _GROUP_ACTIONS[step.action]
    if owner == SYNCED_GROUP:
        work = f"{verb} {username} {preposition} {group.name} in {ON_PREMISES}"
        return planner.ChecklistItem(SYNCED_GROUP, work, SYNCED_GROUP_WHY)
    noun = (
        "mail-enabled security group"
        if group.detail.get("security_enabled")
        else ("distribution list")
    )
    work = f"{verb} {username} {preposition} the {noun} {group.name} in Exchange"
    return planner.ChecklistItem(EXCHANGE_GROUP, work, EXCHANGE_WHY)


def checklist_rows(plans) -> list[dict]:
    """The plans' checklists as `Job.checklist` rows."""
    return [
        {"connection": plan.connection_id, "kind": c.kind, "item": c.item, "reason": c.reason}
        for plan in plans
        for c in plan.checklist
    ]


def merged(saved: list[dict], rows: list[dict]) -> list[dict]:
    """`saved` and then the new `rows`, each once: a later round finds the same work again."""
    seen = {(r.get("connection"), r.get("item")) for r in saved}
    fresh = []
    for row in rows:
        key = (row["connection"], row["item"])
        if key not in seen:
            seen.add(key)
            fresh.append(row)
    return [*saved, *fresh]


def keep(job, plans) -> None:
    """Add the round's checklists to `job.checklist` (each item once across rounds), only
    while this run holds the job (parking.held): a stale run's list would drop the items the
    run that took over has added since."""
    checklist = merged(list(job.checklist or []), checklist_rows(plans))
    if checklist != (job.checklist or []):
        if not Job.objects.filter(held(job)).update(checklist=checklist):
            raise LeaseLost
        job.checklist = checklist
