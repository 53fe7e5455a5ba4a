"""A joiner's first sign-in (a Temporary Access Pass, an activation link, a temporary
password), as the engine plans and runs it.

A one-shot of the join, like a leave's password reset: planned in the round that creates the
account (or once an account the portal made exists), never again once it was issued. Whether
it is due, for whom and how it is delivered belong to a feature (provisioning/first_sign_in/)
that registers a handler here when its app is ready: the engine imports no feature.

The secret goes from the connector's answer straight to the handler's `deliver`, inside the
step's handling; the step's result is what `deliver` returns, which holds none. A retry after
a crash between the directory's call and that record issues a new pass, which replaces the
first in the directory (acceptable: the first was never delivered). A crash after the record
is recognised (`delivered`) and the directory is not called again. A call that may still be on
its way from a run that lost the job (its worker frozen, or killed with the request sent) is
waited out before the next is sent (`steps.on_its_way`): arriving after it, it would replace
the pass that was kept and mailed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction

from provisioning.connectors.errors import PermanentError
from provisioning.connectors.sign_in import IssuedSignIn
from provisioning.engine import planner
from provisioning.engine.desired import DesiredState
from provisioning.engine.parking import hold_until_commit
from provisioning.engine.planner import AccountView, Plan, PlannedStep, Problem
from provisioning.models import DirectoryAccount, Step

FIRST_SIGN_IN = "first_sign_in"  # provisioning.models.Step.Action.FIRST_SIGN_IN


@dataclass(frozen=True)
class Joiner:
    """Whom a first sign-in would be for, in one directory."""

    tenant: object  # tenants.models.Tenant
    connection: object  # tenants.models.DirectoryConnection
    manager: str = ""  # as the person's record names them (a name, username or address)
    identity_id: int | None = None  # None: an onboarding form's preview
    account: DirectoryAccount | None = None


class Handler(Protocol):
    def wanted(self, joiner: Joiner) -> PlannedStep | Problem | None:
        """The first sign-in step due for `joiner` (params: method, activates, ...), a
        problem that stops it (shown, never blocking), or None."""

    def delivered(self, step: Step) -> dict | None:
        """The result of this step's delivery when it was recorded already, else None."""

    def deliver(self, step: Step, issued: IssuedSignIn) -> dict:
        """Keep `issued` for its recipient (encrypted) and say so; the step's result."""


_handlers: list[Handler] = []


def register(handler: Handler) -> Handler:
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def wanted(joiner: Joiner) -> PlannedStep | Problem | None:
    for handler in _handlers:
        found = handler.wanted(joiner)
        if found is not None:
            return found
    return None


async def planned(
    planning: Callable[[], Awaitable[Plan]],
    desired: DesiredState,
    account: AccountView,
    due: PlannedStep | Problem | None,
) -> Plan:
    """The plan of `planning()`, with the first sign-in `due` added where it belongs."""
    plan = await planning()
    add_to(plan, desired, account, due)
    return plan


def add_to(
    plan: Plan, desired: DesiredState, account: AccountView, due: PlannedStep | Problem | None
) -> None:
    """After everything else of the round, for an account this round creates or one the
    portal made (the handler checked that), and only while the person may sign in. A method
    that activates the account (Okta's activation link) has it created without a password and
    inactive, and stands in for an "allow sign-in" step: activating is what allows it."""
    if due is None or not desired.present or desired.leaving or plan.blocked:
        return
    creating = next((s for s in plan.steps if s.action == planner.CREATE_USER), None)
    if creating is None and not (plan.user is not None and account.remote_id):
        return
    if isinstance(due, Problem):
        if desired.enabled is True:
            plan.problems.append(due)
        return
    activates = bool(due.params.get("activates"))
    if creating is not None and activates:
        creating.params.update(passwordless=True, enabled=False)
    if desired.enabled is not True:
        return
    if activates:
        plan.steps[:] = [s for s in plan.steps if s.action != planner.ENABLE_USER]
    plan.steps.append(due)


def issue(step: Step, call: Callable[[], dict]) -> dict:
    """Run the step's directory call once and hand what it issued to the handler; the
    step's result, which holds no secret. Kept (and sent) only while the step's run still
    holds its job (`step.job` is the run's: the step was read through it): a run whose lease
    ran out during the call may have been overtaken by a run that found nothing kept and
    asked the directory again, which replaced this pass. The run that takes over waits for
    the delivery and finds it (`delivered`)."""
    if not _handlers:
        raise PermanentError("Nothing in this portal delivers a first sign-in.")
    handler = _handlers[0]
    done = handler.delivered(step)
    if done is not None:
        return done
    answer = call()
    with transaction.atomic():
        hold_until_commit(step.job)
        return handler.deliver(step, answer["issued"])
