"""Asks and admin acts that land while a person's job is part-way: an offboarding while the
join waits for its tokens, a connection held (quarantined by hand) after a worker died
mid-round, Entra and Okta failing and throttling at once. Each person ends as last asked,
every job Succeeded, the audit chain whole (convergence check converge15)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.verify import verify_all
from provisioning import quarantine, services, throttle
from provisioning.engine import admission, executor
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive, lease_runs_out, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_convergence import onboard, support_template

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 10
RATE = 4.0


class Killed(BaseException):
    """What a SIGKILL leaves of a run: nothing after this point happens."""


def entra_user(dirs, upn: str) -> dict:
    [user] = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    return user


def okta_user(dirs, login: str) -> tuple[dict, list[str], list[str]]:
    """The Okta user, the names of the groups it is in (built-in left out), its apps."""
    state = dirs.okta_state()
    [user] = [u for u in state["users"] if u["profile"]["login"] == login]
    groups = [
        g["name"] for g in state["groups"] if user["id"] in g["members"] and g["type"] != "BUILT_IN"
    ]
    apps = [a["label"] for a in state["apps"] if user["id"] in a["user_ids"]]
    return user, sorted(groups), apps


def own_groups(user: dict) -> list[str]:
    return sorted(g for g in user["groups"] if "dynamic" not in g)


def emptied(connection, *, debt_s: float = 0.0) -> None:
    """A few calls a second, the bucket spent and `debt_s` seconds of its rate reserved
    beyond: every call from now on is paced, however long the machine takes to send it."""
    connection.rate_limit_per_s, connection.rate_burst = RATE, BURST
    connection.save()
    throttle.reset(connection)
    assert throttle.reserve(connection, BURST + round(debt_s * RATE), 0.0)[0]


def left_everywhere(dirs, upn: str) -> None:
    entra = entra_user(dirs, upn)
    assert entra["accountEnabled"] is False and entra["licenses"] == []
    assert own_groups(entra) == [] and entra["appRoleAssignments"] == []
    okta, groups, apps = okta_user(dirs, upn)
    # STAGED: created for a leaver, never activated (Okta suspends only an ACTIVE user).
    assert okta["status"] in {"SUSPENDED", "STAGED"} and (groups, apps) == ([], [])


def ended_left(dirs, identity: Identity) -> None:
    """Left in both directories, in the portal, and the audit chain whole."""
    left_everywhere(dirs, identity.username)
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    assert verify_all().ok


def test_a_leave_asked_while_the_join_waits_for_its_tokens_ends_left(on_sandbox, monkeypatch):
    """Both connections are at their ceiling: the join parks with its first round's tokens
    reserved (Pacing). The person's leave is asked meanwhile (a form, the HR webhook). The
    join's next run spends the reservation made for a joiner's round on a leaver's; then the
    leave runs. The accounts are created disabled and empty (as if the join had run first),
    the person is Left, both jobs Succeeded."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"tok{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    join = onboard(dirs)
    for connection in dirs.tenant.connections.all():
        # Spent to 5 s ahead: a bucket only spent refilled before a loaded machine's first
        # run reached its pacing (4 tokens a second), and the join did not park.
        emptied(connection, debt_s=5.0)
    executor.execute(join.pk)
    join.refresh_from_db()
    assert join.status == Job.Status.WAITING and join.waiting_reason.startswith("Pacing")
    assert join.options.get(admission.RESERVED)
    identity = Identity.objects.get(pk=join.identity_id)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")

    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    assert drive(leave).status == Job.Status.SUCCEEDED, leave.error
    ended_left(dirs, identity)


def test_a_connection_held_after_a_worker_died_mid_round_waits_then_ends_as_moved(
    on_sandbox, monkeypatch
):
    """The worker dies after the Entra create (its outcome unwritten); an MSP admin then
    holds the Entra connection (a credential rotation under way), and a move to Support is
    asked. The run that takes the job over waits, quarantined, sending nothing; once the
    connection is released the join and the move end as moved: one account per directory."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"held{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    support = support_template(dirs)
    real = steps_module.write_outcomes

    def killed_at_the_first_batch(job, account, steps, settled):
        raise Killed

    monkeypatch.setattr(steps_module, "write_outcomes", killed_at_the_first_batch)
    join = onboard(dirs)
    with pytest.raises(Killed):
        executor.execute(join.pk)
    monkeypatch.setattr(steps_module, "write_outcomes", real)
    entra = dirs.tenant.connections.get(kind="entra")
    assert quarantine.hold(entra, actor="system", reason="rotating the secret")
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    lease_runs_out(join)
    sent = dirs.stats("entra")
    run_now(join.pk)
    join.refresh_from_db()
    assert join.status == Job.Status.WAITING and "quarantined" in join.waiting_reason
    assert dirs.stats("entra") == sent  # nothing went to a held connection

    entra.refresh_from_db()
    services.release_connection(entra, actor="system")
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    upn = identity.username
    assert own_groups(entra_user(dirs, upn)) == ["Staff", "VPN Users"]
    okta, groups, _ = okta_user(dirs, upn)
    assert okta["status"] == "ACTIVE" and groups == ["Staff", "VPN Users"]
    assert [u["userPrincipalName"] for u in dirs.entra_state()["users"]].count(upn) == 1
    assert verify_all().ok


def test_entra_and_okta_failing_at_once_end_as_last_asked(on_sandbox, monkeypatch):
    """Both directories fail a third of calls (500/503) and throttle their next calls while
    a join, a move, a leave and a restore of one person are asked before any runs. Each job
    runs to its end in order: the person is back as moved (Support), active in both."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"both{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    support = support_template(dirs)
    for kind in ("entra", "okta"):
        dirs.behave(kind, error_rate=0.3, throttle_next=3)
    join = onboard(dirs)
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    identity.refresh_from_db()
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    identity.refresh_from_db()
    restore = lifecycle.request_restore(identity, actor="system")

    for job in (join, move, leave, restore):
        assert drive(job).status == Job.Status.SUCCEEDED, (job.kind, job.error)
    for kind in ("entra", "okta"):
        dirs.behave(kind, error_rate=0.0)
    upn = identity.username
    entra = entra_user(dirs, upn)
    assert entra["accountEnabled"] is True and own_groups(entra) == ["Staff", "VPN Users"]
    okta, groups, _ = okta_user(dirs, upn)
    assert okta["status"] == "ACTIVE" and groups == ["Staff", "VPN Users"]
    identity.refresh_from_db()
    assert identity.status == Identity.Status.ACTIVE
    assert verify_all().ok


def test_a_scheduled_leave_that_falls_due_while_a_killed_move_holds_the_person_ends_left(
    on_sandbox, monkeypatch
):
    """Ada is active; her leave is scheduled for tonight. A move to Support runs and its
    worker dies after the first batch reached the directory (outcomes unwritten). The
    clock's tick starts the leave while the dead run still holds the person. Once the
    lease has run out the leave (asked first) runs, then the move's job, reading the
    person as a leaver: Ada is Left, disabled and empty in both directories."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"due{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    support = support_template(dirs)
    join = onboard(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    identity = Identity.objects.get(pk=join.identity_id)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    tonight = timezone.now() + timedelta(hours=1)
    scheduled = lifecycle.request_offboarding(identity, options, actor="system", at=tonight)
    assert scheduled.status == Job.Status.SCHEDULED
    identity.refresh_from_db()
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    real = steps_module.write_outcomes

    def killed_at_the_first_batch(job, account, steps, settled):
        raise Killed

    monkeypatch.setattr(steps_module, "write_outcomes", killed_at_the_first_batch)
    with pytest.raises(Killed):
        executor.execute(move.pk)
    monkeypatch.setattr(steps_module, "write_outcomes", real)
    assert lifecycle.start_due_jobs(now=tonight + timedelta(minutes=1)) == 1
    scheduled.refresh_from_db()
    assert scheduled.status == Job.Status.QUEUED
    lease_runs_out(move)

    # The leave was asked (scheduled) before the move: started, it goes first (its lower id),
    # and the move that the dead run held is taken over after it.
    assert run_now(move.pk).then == scheduled.pk
    assert drive(scheduled).status == Job.Status.SUCCEEDED, scheduled.error
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    ended_left(dirs, identity)
