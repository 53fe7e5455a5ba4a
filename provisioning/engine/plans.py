"""A job's plan for one directory: the person's desired state now, the account as the
database knows it, and the one-shot actions of a leave."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provisioning.connectors.base import read_cost
from provisioning.engine import first_sign_in, planner
from provisioning.engine.desired import desired_for
from provisioning.models import DirectoryAccount, Identity, Job, Step

LEAVING = (Identity.Status.LEAVER, Identity.Status.LEFT)


def replication_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "REPLICATION_WINDOW_SECONDS", 30))


def confirmed_gone(account: DirectoryAccount | None) -> bool:
    """The stored id has answered 404 for longer than a directory takes to replicate."""
    if account is None or account.missing_since is None:
        return False
    return timezone.now() - account.missing_since > replication_window()


def plan_for(job: Job, connector, connection, account: DirectoryAccount | None, desired=None):
    """The planning coroutine of `job` for one connection (`desired`: the person's state
    there, when the caller has built it already), what its reads cost (the
    directory's operations, to be taken from the connection's bucket before it runs), and a
    function for what the read that verifies its steps will cost. Reads the database first,
    here, because the coroutine runs on the bridge's event loop where the ORM may not be
    used."""
    identity = job.identity
    view = planner.AccountView(
        remote_id=account.remote_id if account else "",
        managed=account.managed if account else {},
        confirmed_gone=confirmed_gone(account),
    )
    desired = desired if desired is not None else desired_for(identity, connection)
    manager = (identity.attributes or {}).get("manager") or ""
    joiner = first_sign_in.Joiner(job.tenant, connection, manager, identity.pk, account)
    cost = read_cost(connector, planner.reads_for(connector, desired, view))
    # The next read finds the account by its id, a joiner's too (its first one looks it up
    # by name: fewer operations). Counted after the plan, which leaves the catalogues cached.
    then = planner.AccountView(remote_id=view.remote_id or "created", managed=view.managed)

    def verify_cost() -> int:
        return read_cost(connector, planner.reads_for(connector, desired, then))

    return _planning(job, connector, connection, desired, view, joiner), cost, verify_cost


def _planning(job: Job, connector, connection, desired, view, joiner):
    shots = one_shots(job, connection.pk)
    return first_sign_in.planned(
        lambda: planner.plan_account(
            connector,
            connection.pk,
            desired,
            view,
            link_existing=job.tenant.link_existing_accounts,
            one_shots=shots,
        ),
        desired,
        view,
        first_sign_in.wanted(joiner),
    )


def one_shots(job: Job, connection_id: int) -> tuple[str, ...]:
    """A leave resets the password and ends the sessions once, in its first round, and only
    while the person is still leaving; a retry (round 0 again) plans only those it has no
    step of in that directory yet (a failed one is retried as its own step)."""
    if job.kind != Job.Kind.LEAVE or job.options.get("round", 0) > 0:
        return ()
    if job.identity.status not in LEAVING:
        return ()
    wanted = one_shots_of(job.options.get("offboard", {}))
    if not wanted or not job.steps_total:
        return wanted
    had = set(
        job.steps.filter(connection_id=connection_id, action__in=wanted)
        .exclude(status=Step.Status.REPLACED)
        .values_list("action", flat=True)
    )
    return tuple(action for action in wanted if action not in had)


def one_shots_of(offboard: dict) -> tuple[str, ...]:
    """The one-shot actions a leave's options ask for (the job and its preview)."""
    wanted = (
        (planner.RESET_PASSWORD, offboard.get("reset_password")),
        (planner.REVOKE_SESSIONS, offboard.get("revoke_sessions")),
    )
    return tuple(action for action, on in wanted if on)
