"""Quarantine as a half-open circuit breaker, against the sandbox: it trips on operations that
finally gave up (never on retries a later attempt absorbed), holds the jobs, probes by itself
after a cool-down with one read, and releases itself when the read succeeds.

Jobs run in this process, as a worker would run them, but without sitting out their back-off
(`execute` returns when to try again instead of sleeping). The tests run in a transaction the
session's workers cannot see, so no worker takes these jobs. That a real worker resumes the
waiting job once a probe releases the connection: test_engine_faults.py.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning import quarantine
from provisioning.models import Job
from tests.provisioning.conftest import run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import assert_entra_user_complete, onboard

MAX_RUNS = 400


def drive(job: Job) -> Job:
    """Run `job` until it is done or waits for something other than time."""
    for _ in range(MAX_RUNS):
        outcome = run_now(job.pk)
        job.refresh_from_db()
        if job.is_done or (job.status == Job.Status.WAITING and outcome.retry_in is None):
            return job
        if job.waiting_reason.startswith(("Pacing", "Throttled")):
            time.sleep(min(outcome.retry_in or 0.0, 0.2))  # the bucket refills in real time
    raise AssertionError(f"job {job.pk} still {job.status}: {job.waiting_reason}")


def events(action: str, connection) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=action, target_id=str(connection.pk)).order_by("seq")
    )


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    """The jobs a release sends back to the workers (none run them here)."""
    calls: list[tuple] = []
    monkeypatch.setattr(
        quarantine.current_app, "send_task", lambda name, args: calls.append((name, *args))
    )
    return calls


def test_retries_that_succeed_never_trip_it(on_sandbox, db):
    dirs = make_directories(on_sandbox, "breaker-flaky", rate_limit_per_s=500)
    dirs.behave("entra", error_rate=0.15)
    jobs = [drive(onboard(dirs, first=f"Person{n}", last="Flaky")) for n in range(8)]
    dirs.behave("entra", error_rate=0.0)

    assert [(j.pk, j.error) for j in jobs if j.status != Job.Status.SUCCEEDED] == []
    assert dirs.stats("entra")["faults"].get("error", 0) > 0
    connection = dirs.tenant.connections.get()
    assert connection.quarantined_at is None
    failed, seen = quarantine.failure_share(connection)
    assert failed == 0 and seen >= len(jobs)
    assert events("connection.quarantine", connection) == []


def test_a_broken_directory_trips_it_and_a_probe_releases_it_by_itself(
    on_sandbox, db, settings, sent, client, msp_admin, django_capture_on_commit_callbacks
):
    settings.QUARANTINE_COOLDOWN_SECONDS = 60
    dirs = make_directories(on_sandbox, "breaker-broken", rate_limit_per_s=500)
    connection = dirs.tenant.connections.get()
    dirs.behave("entra", error_rate=1.0)
    given_up = [drive(onboard(dirs, first=f"Gone{n}", last="Broken")) for n in range(5)]
    assert {j.status for j in given_up} == {Job.Status.FAILED}
    assert all("Gave up reading" in j.error for j in given_up)
    connection.refresh_from_db()
    assert connection.quarantine_reason.startswith("5 of the last 5 operations failed")
    [tripped] = events("connection.quarantine", connection)
    assert tripped.actor_kind == "system" and tripped.tenant_id == dirs.tenant.pk

    job = drive(onboard(dirs))
    assert job.status == Job.Status.WAITING
    assert "quarantined" in job.waiting_reason and "5 of the last 5" in job.waiting_reason
    assert quarantine.probe_due_connections() == {"released": 0, "failed": 0}  # cooling down

    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    assert quarantine.probe_due_connections() == {"released": 0, "failed": 1}
    connection.refresh_from_db()
    assert connection.quarantined_at is not None
    [probe_failed] = events("connection.probe_failed", connection)
    assert probe_failed.result == "failure" and probe_failed.after["probe_failures"] == 1
    client.force_login(msp_admin)
    page = client.get(reverse("tenant_detail", kwargs={"tenant": dirs.tenant.slug}))
    body = page.content.decode()
    assert "is quarantined" in body and "probes it with one read at" in body
    assert "failed —" in body
    board = client.get(reverse("dashboard")).content.decode()
    assert "Connections in quarantine" in board and "Next probe" in board

    dirs.behave("entra", error_rate=0.0)
    with django_capture_on_commit_callbacks(execute=True):
        assert quarantine.probe_due_connections() == {"released": 1, "failed": 0}
    connection.refresh_from_db()
    assert connection.quarantined_at is None and connection.quarantine_reason == ""
    [released] = events("connection.release", connection)
    assert released.actor_kind == "system" and released.after["released_by"] == "probe"
    assert ("provisioning.tasks.run_job", job.pk) in sent
    assert quarantine.failure_share(connection) == (0, 0)

    job = drive(job)
    assert job.status == Job.Status.SUCCEEDED
    assert_entra_user_complete(dirs, "ada.lovelace@breaker-broken.example")


def test_a_hold_is_not_released_by_a_probe_only_by_a_person(
    on_sandbox, db, settings, sent, client, alpha, msp_admin
):
    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    dirs = make_directories(on_sandbox, "breaker-held")
    connection = dirs.tenant.connections.get()
    kwargs = {"tenant": dirs.tenant.slug, "connection_id": connection.pk}
    client.force_login(alpha.technician)
    assert client.post(reverse("connection_hold", kwargs=kwargs)).status_code == 404
    own = {"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk}
    assert client.post(reverse("connection_hold", kwargs=own)).status_code == 403
    assert events("connection.hold", alpha.connection) == []

    client.force_login(msp_admin)
    response = client.post(reverse("connection_hold", kwargs=kwargs), {"reason": "Tenant move"})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.quarantine_reason == "Held by msp-admin: Tenant move"
    [held] = events("connection.hold", connection)
    assert held.actor_username == msp_admin.username

    assert quarantine.probe_due_connections() == {"released": 0, "failed": 0}
    connection.refresh_from_db()
    assert connection.quarantined_at is not None
    job = drive(onboard(dirs))
    assert job.status == Job.Status.WAITING and "Held by msp-admin" in job.waiting_reason
    body = client.get(reverse("tenant_detail", kwargs={"tenant": dirs.tenant.slug})).content
    assert "held in quarantine" in body.decode() and "no probe does" in body.decode()

    assert client.post(reverse("connection_release", kwargs=kwargs)).status_code == 302
    connection.refresh_from_db()
    assert connection.quarantined_at is None
    [released] = events("connection.release", connection)
    assert released.actor_username == msp_admin.username
    assert drive(job).status == Job.Status.SUCCEEDED


def test_a_tripped_connection_held_by_hand_stays_held(alpha, msp_admin, settings):
    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    conn = alpha.connection
    for _ in range(quarantine.MIN_CALLS):
        quarantine.record_outcome(conn, ok=False, reason="HTTP 503")
    assert quarantine.hold(conn, actor=msp_admin, reason="Investigating") is True
    assert quarantine.hold(conn, actor=msp_admin) is False
    assert quarantine.state_of(conn).held and quarantine.state_of(conn).next_probe_at is None
    assert quarantine.due_for_probe() == []
    assert quarantine.probe(conn) is None
    assert events("connection.probe_failed", conn) == []


def test_one_probe_at_a_time(alpha, settings):
    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    conn = alpha.connection
    for _ in range(quarantine.MIN_CALLS):
        quarantine.record_outcome(conn, ok=False, reason="HTTP 503")
    assert quarantine._claim_probe(conn) is True  # a probe under way elsewhere
    assert quarantine.probe(conn) is None
    assert events("connection.probe_failed", conn) == events("connection.release", conn) == []


def test_each_failed_probe_waits_longer_up_to_the_cap(settings):
    settings.QUARANTINE_COOLDOWN_SECONDS = 60
    settings.QUARANTINE_COOLDOWN_MAX_SECONDS = 300
    waits = [quarantine.cooldown_seconds(n) for n in range(5)]
    assert waits == [60, 120, 240, 300, 300]
