"""Who a person reports to, planned like everything else: the manager named on the person
(`DesiredState.manager`, a name or username) must resolve to exactly one account in the
directory, and the account's manager is read back and set only when it differs. A leave can
give the leaver's direct reports to the leaver's own manager: one step per report, until
the read finds none left.

Directories without a manager relationship (no `set_manager` on the connector) are skipped.
"""

from __future__ import annotations

from provisioning.connectors.base import DirectoryUser
from provisioning.engine import planner

SET_MANAGER = "set_manager"
REASSIGN_REPORT = "reassign_report"
CANDIDATES_NAMED = 5


def supported(connector) -> bool:
    return hasattr(connector, "set_manager") and hasattr(connector, "people_named")


def reads_for(connector, desired, user_id: str) -> list[tuple]:
    """What `plan_manager` reads: the account's manager (for an account known by `user_id`)
    and the people the named manager may be."""
    if not desired.manager or desired.leaving or not supported(connector):
        return []
    named = [("people_named", desired.manager)]
    return [("manager_of", user_id), *named] if user_id else named


async def plan_manager(connector, plan, desired) -> None:
    """A SET_MANAGER step when the account's manager is not the one the person names."""
    if not desired.manager or desired.leaving or not supported(connector):
        return
    current = await connector.manager_of(plan.user.id) if plan.user is not None else None
    candidates = await connector.people_named(desired.manager)
    if current is not None and any(c.id == current.id for c in candidates):
        return  # already theirs, however many others share the name
    if plan.user is not None:
        candidates = [c for c in candidates if c.id != plan.user.id]
    if len(candidates) != 1:
        # Blocks the join that would create or link the account (its dry run names the
        # candidates); for an account the portal already runs it is a note, so that a name
        # gone ambiguous later never stops the person's other changes.
        joining = plan.user is None or any(s.action == planner.LINK_USER for s in plan.steps)
        plan.problems.append(_unresolved(desired.manager, candidates, blocking=joining))
        return
    boss = candidates[0]
    plan.steps.append(planner.PlannedStep(SET_MANAGER, _label(boss), {"manager": as_params(boss)}))


async def plan_reports(connector, plan, desired, boss: DirectoryUser | None) -> None:
    """A leaver's direct reports go to the leaver's manager (`boss`), one step each; with no
    manager to take them, a note names them (never a blocking problem: the leave goes on)."""
    if not desired.handover.get("reassign_reports") or not supported(connector):
        return
    reports = await connector.direct_reports(plan.user.id)
    if not reports:
        return
    if boss is None:
        names = ", ".join(_label(r) for r in reports)
        plan.problems.append(
            planner.Problem(
                "reports_without_manager",
                f"{plan.user.username} has no manager to take their direct reports ({names}): "
                "they keep reporting to the leaver until someone sets a new manager.",
                plan.user.username,
                blocking=False,
            )
        )
        return
    for report in reports:
        plan.steps.append(
            planner.PlannedStep(
                REASSIGN_REPORT,
                f"{_label(report)} → {_label(boss)}",
                {"report_id": report.id, "manager": as_params(boss)},
            )
        )


def as_params(user: DirectoryUser) -> dict:
    """A manager as a step keeps it: enough to write the reference (Entra: id) or the profile
    fields (Okta: id and display name), and to address mail to them."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.attributes.get("display_name", ""),
        "email": user.attributes.get("email", ""),
    }


def from_params(params: dict) -> DirectoryUser:
    return DirectoryUser(
        id=params["id"],
        username=params.get("username", ""),
        enabled=True,
        attributes={k: v for k in ("display_name", "email") if (v := params.get(k))},
    )


def _label(user: DirectoryUser) -> str:
    name = user.attributes.get("display_name")
    return f"{name} ({user.username})" if name and name != user.username else user.username


def _unresolved(name: str, candidates: list[DirectoryUser], *, blocking: bool) -> planner.Problem:
    if not candidates:
        message = (
            f"The manager “{name}” matches nobody in this directory: give their username, "
            "or leave the manager blank."
        )
    else:
        shown = ", ".join(_label(c) for c in candidates[:CANDIDATES_NAMED])
        more = " and more" if len(candidates) > CANDIDATES_NAMED else ""
        message = (
            f"The manager “{name}” could be any of {shown}{more}: give the manager's username "
            "so the portal does not guess."
        )
    return planner.Problem(
        "manager",
        message,
        name,
        blocking=blocking,
        alternatives=tuple(c.username for c in candidates[:CANDIDATES_NAMED]),
    )


async def apply(connector, action: str, params: dict, user_id: str) -> dict:
    """Run a SET_MANAGER (on the person) or REASSIGN_REPORT (on one of their reports)."""
    boss = from_params(params["manager"])
    subject = params["report_id"] if action == REASSIGN_REPORT else user_id
    await connector.set_manager(subject, boss)
    return {}
