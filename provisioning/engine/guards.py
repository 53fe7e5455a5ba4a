"""Accounts the portal must leave alone, asked before the engine plans a change to one.

The engine knows no feature: the inventory (a tenant's scope rules) registers its check here
when its app is ready (`provisioning.inventory.apps`), as the features register what follows
a job in outcomes.py. A check answers why an account is protected, or "" when the portal may
change it. A protected account gets no read and no step; the job says why it was left alone
(a warning beside the other directories' steps, and its verification), so it neither fails
nor retries forever. An account a join finds by username is not linked when it is protected.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db.models import QuerySet

from portal import kept_sql
from provisioning.engine import memo
from provisioning.engine.planner import Plan, Problem
from provisioning.models import DirectoryAccount

Check = Callable[[int, str], str]
# The rows a check judges an account by (connection id, remote id): none, and the check
# answers "" (the portal may change it).
Judged = Callable[[int, str], QuerySet]

_checks: list[Check] = []
_judged: list[Judged | None] = []


def register(check: Check, *, judged: Judged | None = None) -> Check:
    """Ask `check(connection_id, remote_id)` before the engine changes an account. With
    `judged`, a statement the engine sends anyway about the account may ask whether any of
    its rows exist (`judged_exists_sql`): none, and the check is not asked."""
    if check not in _checks:
        _checks.append(check)
        _judged.append(judged)
    return check


def judged_exists_sql(connection_id: int, remote_id: str) -> tuple[str, list] | None:
    """`EXISTS` of the rows every check judges the account by, as one SQL condition with its
    parameters, for a statement sent anyway (`accounts.record_of`); None when a check names
    no rows (it must be asked)."""
    if not remote_id or None in _judged:
        return None
    parts, params = [], []
    for judged in _judged:
        # The same text for every account (its statement kept per check, not compiled for
        # each): only the two values change.
        built = kept_sql.kept(
            ("judged rows exist", judged), partial(_one_judged, judged), connection_id, remote_id
        )
        parts.append(f"EXISTS ({built.sql})")
        params += built.params
    return "(" + " OR ".join(parts or ["FALSE"]) + ")", params


def _one_judged(judged: Judged, connection_id: int, remote_id: str) -> kept_sql.Built:
    sql, params = judged(connection_id, remote_id).values("pk")[:1].query.sql_with_params()
    return kept_sql.Built(sql, list(params))


def none_judged(connection_id: int, remote_id: str) -> None:
    """A statement of this run found no row any check judges the account by: its next plan
    in this run asks no check (`protected`), as each would have answered "". Kept for the
    run, taken once: a later plan, or another run, asks again."""
    memo.keep(("none judged", connection_id, remote_id), True)


def protected(connection_id: int, remote_id: str) -> str:
    """Why the account must be left alone; "" when the portal may change it."""
    if not remote_id or memo.take(("none judged", connection_id, remote_id)):
        return ""
    for check in _checks:
        reason = check(connection_id, remote_id)
        if reason:
            return reason
    return ""


def left_alone(connection, remote_id: str, reason: str) -> Plan:
    """The plan of a protected account: nothing to do, and why."""
    plan = Plan(connection.pk, connection.kind, left_alone=reason, remote_id=remote_id)
    message = f"Left account {remote_id} alone. {reason}."
    plan.problems.append(Problem("protected", message, remote_id, blocking=False))
    return plan


def refuse_found(plan: Plan, stored_remote_id: str) -> bool:
    """An account the read found by username (not by the stored id) that is protected: the
    plan stops before linking or changing it. True when refused."""
    user = plan.user
    if user is None or user.id == stored_remote_id:
        return False
    reason = protected(plan.connection_id, user.id)
    if not reason:
        return False
    plan.steps.clear()
    plan.problems = [p for p in plan.problems if p.kind != "conflict"]
    plan.problems.append(
        Problem(
            "protected",
            f"{user.username} already exists in this directory and the portal may not manage "
            f"it ({reason}). Choose another username, or change the tenant's scope rules.",
            user.username,
        )
    )
    return True


def refuse_someone_elses(plan: Plan, identity_id: int, stored_remote_id: str) -> bool:
    """An account the read found by username (or e-mail) that another person of the portal
    is linked to: never linked to this one too. One account would be two people's, each
    job giving it their access and a leave of one blocking the other's sign-in (an account
    renamed behind the portal's back to a joiner's username, with linking allowed). A
    conflict, nothing sent. True when refused."""
    user = plan.user
    if user is None or not user.id or user.id == stored_remote_id:
        return False
    holder = (
        DirectoryAccount.objects.filter(connection_id=plan.connection_id, remote_id=user.id)
        .exclude(identity_id=identity_id)
        .values_list("identity__display_name", "identity__username")
        .first()
    )
    if holder is None:
        return False
    plan.steps.clear()
    plan.problems = [p for p in plan.problems if p.kind != "conflict"]
    plan.problems.append(
        Problem(
            "conflict",
            f"{user.username} already exists in this directory and is the account of "
            f"{holder[0]} ({holder[1]}), whom the portal manages. Choose another username.",
            user.username,
        )
    )
    return True
