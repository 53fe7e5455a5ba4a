"""A failed leave is retried by the periodic check, without a technician (leftover2).

Since converge25 a leave whose one directory cannot be read writes to the others and then
fails naming it; only a technician's Retry reached it again, so a SCIM app down for an hour
kept the leaver's account there until someone noticed. Now the beat's periodic check
retries the person's newest failed leave, with a back-off and a limit, audited, shown on the
job page and the dashboard, and never over a newer ask (a restore) of the person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning import tasks
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import leave_retries
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.factories import make_identity
from tests.provisioning.conftest import drive
from tests.provisioning.test_join_one_app_refuses import ada_joins, entra_okta_and_slack
from tests.provisioning.test_join_proof import status_of

pytestmark = pytest.mark.django_db

GAVE_UP = "Gave up reading Slack after 20 tries: the app answered 500."


def time_passes(job: Job, minutes: int) -> None:
    """Stand in for the wait since the job ended, as `drive` does for a come-back time."""
    Job.objects.filter(pk=job.pk).update(finished_at=F("finished_at") - timedelta(minutes=minutes))


def periodic_check() -> int:
    """The beat task, run in this process."""
    return tasks.reconcile_due_people()


def job_page(client, job: Job) -> str:
    return client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()


def test_a_leave_failed_on_a_down_app_is_retried_by_itself_once_the_app_is_back(
    on_sandbox, monkeypatch, client, msp_admin
):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "ar")
    join, username = ada_joins(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)

    app.behave(error_rate=1.0)  # the app is down: every read and write a 500
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = drive(lifecycle.request_offboarding(identity, options, actor="system"))
    assert leave.status == Job.Status.FAILED and "Slack" in leave.error
    assert app.user(username)["active"] is True  # the app still lets the leaver in
    client.force_login(msp_admin)
    assert "Next automatic retry:" in job_page(client, leave)

    periodic_check()  # at once: not yet, the first try waits five minutes
    leave.refresh_from_db()
    assert leave.status == Job.Status.FAILED

    app.behave(error_rate=0.0)  # the app is back; nobody looks
    time_passes(leave, minutes=6)
    periodic_check()
    leave = drive(Job.objects.get(pk=leave.pk))

    assert leave.status == Job.Status.SUCCEEDED
    assert app.user(username)["active"] is False
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    assert status_of(client, identity) == "Left"
    retry = AuditEvent.objects.get(action="job.retry", job_id=str(leave.pk))
    assert retry.actor_kind == "system" and retry.after["automatic"] is True
    assert retry.after["try"] == 1 and "Slack" in retry.after["failed"]
    assert "Automatic retries" in job_page(client, leave)


def person_page(client, job: Job) -> str:
    kwargs = {"tenant": job.tenant.slug, "identity_id": job.identity_id}
    return client.get(reverse("identity_detail", kwargs=kwargs)).content.decode()


def _failed_leave(tenant, *, minutes_ago: int, **options) -> Job:
    """A leaver whose leave failed on a directory that could not be read."""
    person = make_identity(tenant, "Lee", "Leaver", status=Identity.Status.LEAVER)
    return Job.objects.create(
        tenant=tenant,
        identity=person,
        kind=Job.Kind.LEAVE,
        status=Job.Status.FAILED,
        error=GAVE_UP,
        finished_at=timezone.now() - timedelta(minutes=minutes_ago),
        options={"offboard": {}, **options},
    )


def test_each_try_waits_twice_as_long_and_the_limit_stops_them(alpha, settings, client):
    settings.LEAVE_RETRY_LIMIT = 2
    leave = _failed_leave(alpha.tenant, minutes_ago=6)
    client.force_login(alpha.technician)
    assert "retries it by itself at" in person_page(client, leave)
    assert leave_retries.retry_due_leaves() == 1
    leave.refresh_from_db()
    assert leave.status == Job.Status.QUEUED and leave.options["auto_retries"] == 1

    # The app still down: the retry failed again just now; the next try waits ten minutes.
    Job.objects.filter(pk=leave.pk).update(status=Job.Status.FAILED, finished_at=timezone.now())
    assert leave_retries.retry_due_leaves(timezone.now() + timedelta(minutes=6)) == 0
    assert leave_retries.retry_due_leaves(timezone.now() + timedelta(minutes=11)) == 1

    Job.objects.filter(pk=leave.pk).update(status=Job.Status.FAILED, finished_at=timezone.now())
    assert leave_retries.retry_due_leaves(timezone.now() + timedelta(days=2)) == 0
    leave.refresh_from_db()
    assert "No automatic retry left" in job_page(client, leave)
    assert "Its 2 automatic retries are spent" in person_page(client, leave)
    events = AuditEvent.objects.filter(action="job.retry", job_id=str(leave.pk))
    assert [e.after["try"] for e in events.order_by("pk")] == [1, 2]


def test_a_restore_asked_before_the_retry_wins(alpha, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    leave = _failed_leave(alpha.tenant, minutes_ago=6)
    restore = lifecycle.request_restore(leave.identity, actor="system")

    assert leave_retries.retry_due_leaves() == 0

    leave.refresh_from_db()
    assert leave.status == Job.Status.FAILED
    assert restore.identity.status == Identity.Status.JOINER
    assert not AuditEvent.objects.filter(action="job.retry").exists()


def test_a_newer_leave_asked_for_later_wins(alpha, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    leave = _failed_leave(alpha.tenant, minutes_ago=6)
    later = timezone.now() + timedelta(days=3)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    lifecycle.request_offboarding(leave.identity, options, actor="system", at=later)

    assert leave_retries.retry_due_leaves() == 0
    leave.refresh_from_db()
    assert leave.status == Job.Status.FAILED


def test_the_dashboard_says_when_the_failed_leave_is_retried(alpha, msp_admin, client):
    _failed_leave(alpha.tenant, minutes_ago=1)
    client.force_login(msp_admin)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Next automatic retry" in page and "try 1 of 10" in page
