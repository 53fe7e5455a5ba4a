"""A leave while one of the person's directories cannot be read (converge25): a SCIM app
answers 500 to everything. The leaver's access goes from Entra ID and Okta at once, in the
job's first run, not when the app comes back; the person reads Leaver, never Left, and the
job fails naming the app once its reads are given up; with the app back, a retry of the
leave converges. Driven in this process (`drive`), the real SDKs, the sandbox."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import periodic, quarantine, services
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.test_join_one_app_refuses import ada_joins, entra_okta_and_slack
from tests.provisioning.test_join_proof import status_of

pytestmark = pytest.mark.django_db


def test_a_leave_cuts_what_it_can_read_at_once_while_an_app_is_down(
    on_sandbox, monkeypatch, client, msp_admin
):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "lv")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)

    app.behave(error_rate=1.0)  # the app is down: every read and write a 500
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    run_now(leave.pk)  # the job's first run

    assert dirs.entra_user(username)["accountEnabled"] is False
    assert dirs.okta_user(username)["status"] == "SUSPENDED"
    leave.refresh_from_db()
    assert not leave.is_done  # still reading the app
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER

    leave = drive(leave)

    assert leave.status == Job.Status.FAILED
    assert leave.error.startswith("Gave up reading") and "Slack" in leave.error
    assert "Nothing was sent" not in leave.error
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER
    client.force_login(msp_admin)
    assert status_of(client, identity) == "Leaver"

    app.behave(error_rate=0.0)  # the app is back
    services.retry_failed_steps(leave, actor=msp_admin)
    leave = drive(leave)

    assert leave.status == Job.Status.SUCCEEDED
    assert app.user(username)["active"] is False
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    assert dirs.entra_user(username)["accountEnabled"] is False
    assert dirs.okta_user(username)["status"] == "SUSPENDED"


def test_a_leave_asked_while_a_move_waits_for_the_app_cuts_what_it_can_read(
    on_sandbox, monkeypatch
):
    """converge26: the move's job, older, holds the leave's until it ends; it reads the
    person again each run and finds a leaver, whose access must go where it can be read,
    whatever the kind of the job that reads them (before: only a Leave job wrote, so the
    leaver kept Entra ID and Okta for the move's twenty tries, or, with the app
    quarantined, until its release)."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "lm")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)

    app.behave(error_rate=1.0)
    change = lifecycle.ChangeRequest([dirs.template], attributes={"department": "Research"})
    move = lifecycle.request_change(identity, change, actor="system")
    run_now(move.pk)  # waits for the app: nothing written (a move is never half-made)
    assert dirs.entra_user(username).get("department") != "Research"
    identity.refresh_from_db()
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    run_now(leave.pk)  # after the move
    run_now(move.pk)  # the move's next run: the person is a leaver now

    assert dirs.entra_user(username)["accountEnabled"] is False
    assert dirs.okta_user(username)["status"] == "SUSPENDED"
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER

    app.behave(error_rate=0.0)  # the app is back: both jobs end, the person as last asked
    assert drive(move).status == Job.Status.SUCCEEDED
    assert drive(leave).status == Job.Status.SUCCEEDED
    assert app.user(username)["active"] is False
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT


def test_a_leave_asked_while_a_move_waits_for_a_held_app_cuts_what_it_can_read(
    on_sandbox, monkeypatch
):
    """converge26: the app is held by hand (quarantined) while a move waits for it; a
    quarantine's waiting job has no come-back time (the release sends it), so the leave's
    task, blocked behind it, must send it: it reads the person a leaver and writes Entra ID
    and Okta at once. Before, the blocked claim sent only a queued job ahead of it, never a
    waiting one, and the leaver kept their sign-in until an admin released the app."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "lq")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    slack = dirs.tenant.connections.get(name="Slack")
    assert quarantine.hold(slack, actor="system", reason="the vendor's outage")
    change = lifecycle.ChangeRequest([dirs.template], attributes={"department": "Research"})
    move = lifecycle.request_change(identity, change, actor="system")
    run_now(move.pk)
    move.refresh_from_db()
    assert move.status == Job.Status.WAITING and "quarantined" in move.waiting_reason

    identity.refresh_from_db()
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    sent = [leave.pk]  # the leave's task, then each task a run sends (`Outcome.then`)
    while sent:
        sent += filter(None, [executor.execute(sent.pop(0)).then])

    assert dirs.entra_user(username)["accountEnabled"] is False
    assert dirs.okta_user(username)["status"] == "SUSPENDED"
    move.refresh_from_db()
    assert "quarantined" in move.waiting_reason  # still waiting for the app
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER

    slack.refresh_from_db()
    services.release_connection(slack, actor="system")
    assert drive(move).status == Job.Status.SUCCEEDED
    assert drive(leave).status == Job.Status.SUCCEEDED
    assert app.user(username)["active"] is False
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT


def test_a_leave_under_an_okta_429_storm_cuts_entra_id_at_once(on_sandbox, monkeypatch):
    """converge26: Okta answers 429 to every call for a while (a storm: another app of the
    client's org spends its rate limit). Throttling is pacing, not a fault: the job waits
    Okta's reset. A leaver's Entra ID account must not wait with it."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "ls")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)

    dirs.behave("okta", throttle_next=1000)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    run_now(leave.pk)

    assert dirs.entra_user(username)["accountEnabled"] is False
    assert app.user(username)["active"] is False
    leave.refresh_from_db()
    assert leave.status == Job.Status.WAITING and "Okta" in leave.waiting_reason  # paced
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER

    dirs.behave("okta", throttle_next=0)  # the storm passes
    assert drive(leave).status == Job.Status.SUCCEEDED
    assert dirs.okta_user(username)["status"] == "SUSPENDED"
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT


def test_the_periodic_check_disables_a_left_person_enabled_behind_its_back_while_an_app_is_down(
    on_sandbox, monkeypatch
):
    """converge26: Ada has left; an Entra admin enables her account again (drift). The
    periodic check's Reconcile job reads her Left while the app is down: her Entra ID
    sign-in goes at once (before, a Reconcile, being no Leave, wrote nothing until the app
    answered, and after twenty tries failed: enabled until the next check, 12 hours on)."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "lp")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    assert drive(lifecycle.request_offboarding(identity, options, actor="system")).is_done
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT

    user_id = dirs.entra_user(username)["id"]
    dirs.graph("PATCH", f"/users/{user_id}", {"accountEnabled": True}).raise_for_status()
    app.behave(error_rate=1.0)
    later = timezone.now() + timedelta(days=1)
    Identity.objects.exclude(pk=identity.pk).update(last_reconciled_at=later)
    assert periodic.reconcile_due_people(now=later) == 1
    check = Job.objects.get(identity=identity, kind=Job.Kind.RECONCILE)
    outcome = run_now(check.pk)
    for _ in range(20):  # the leave's calls spent a connection's bucket: pacing parks the
        check.refresh_from_db()  # check for its tokens first (ms; seen in the lone CI)
        if not check.waiting_reason.startswith("Pacing"):
            break
        time.sleep(outcome.retry_in)  # the bucket refills in real time: its countdown
        outcome = run_now(check.pk)

    ran = (outcome, check.status, check.waiting_reason, check.error, list(check.steps.values_list(
        "connection__name", "action", "status")))  # fmt: skip
    assert dirs.entra_user(username)["accountEnabled"] is False, ran
    assert "Slack" in check.waiting_reason or check.status == Job.Status.FAILED, ran
    app.behave(error_rate=0.0)
    assert drive(check).status == Job.Status.SUCCEEDED
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
