"""The engine under the failures that break provisioning code in practice."""

import time

import pytest

from provisioning import quarantine, services
from provisioning.models import Job, Step
from tests.provisioning.conftest import lease_runs_out, wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import assert_entra_user_complete, onboard

pytestmark = pytest.mark.django_db(transaction=True)


def users_named(dirs, prefix: str) -> list[dict]:
    return [u for u in dirs.entra_state()["users"] if u["userPrincipalName"].startswith(prefix)]


def test_killed_worker_resumes_without_duplicating(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "crash")
    dirs.behave("entra", latency_ms=400)
    job = onboard(dirs)
    deadline = time.monotonic() + 30
    while not Step.objects.filter(job=job, action="create_user", status="succeeded").exists():
        assert time.monotonic() < deadline, "the create step never finished"
        time.sleep(0.05)
    worker.kill()  # after step 1, before the rest: nothing acknowledged, nothing cleaned up
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    lease_runs_out(job)
    dirs.behave("entra", latency_ms=0)
    worker.start()  # a new worker resumes jobs whose lease ran out
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.runs >= 2
    upn = "ada.lovelace@crash.example"
    assert len(users_named(dirs, "ada.lovelace")) == 1
    assert_entra_user_complete(dirs, upn)
    assert job.steps.filter(action="create_user").count() == 1


def wait_until_throttled(dirs, kind: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while dirs.stats(kind)["throttled"] == 0:
        assert time.monotonic() < deadline, f"the {kind} sandbox never throttled"
        time.sleep(0.2)


def test_faults_and_throttling_never_fail_a_job(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "flaky", rate_limit_per_s=100)
    # One call a second at first, so that 429s come whatever the machine's speed (at 30/s a
    # loaded machine's engine may never go fast enough to be throttled), then 30/s.
    dirs.behave("entra", error_rate=0.1, rate_per_s=1, burst=1)
    # 30 joiners: enough for every kind of fault to meet many of them (some 60 errors and 350
    # 429s); the test's time is the faults' back-offs, not the engine's work. At a fifth of
    # the calls failing, a job's $batch of steps nearly always held one: 140 s instead of 55.
    jobs = [onboard(dirs, first=f"Person{n}", last="Flaky") for n in range(30)]
    wait_until_throttled(dirs, "entra")
    dirs.behave("entra", rate_per_s=30, burst=10)
    finished = [wait_for_job(job.pk, timeout=240) for job in jobs]
    dirs.behave("entra", error_rate=0.0)
    failures = [(j.pk, j.error) for j in finished if j.status != Job.Status.SUCCEEDED]
    assert failures == []
    stats = dirs.stats("entra")
    assert stats["throttled"] > 0 and stats["faults"].get("error", 0) > 0
    assert len(users_named(dirs, "person")) == 30
    for n in (0, 15, 29):
        assert_entra_user_complete(dirs, f"person{n}.flaky@flaky.example")


def test_replication_lag_is_waited_out(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "laggy")
    dirs.behave("entra", replication_lag_ms=3000)
    job = wait_for_job(onboard(dirs).pk)
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("last_error", flat=True))
    assert_entra_user_complete(dirs, "ada.lovelace@laggy.example")
    # Lag is the directory catching up, not a sick connection: no step towards quarantine.
    connection = dirs.tenant.connections.get()
    assert connection.quarantined_at is None
    assert quarantine.failure_share(connection)[0] == 0


def test_no_free_seat_blocks_until_the_technician_chooses(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "noseat", seats=0)
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    preview = services.preview_onboarding(dirs.tenant, request)
    [problem] = preview.blocking_problems
    assert problem.kind == "no_seat" and "SPE_E3" in problem.message
    assert "EMS" in problem.alternatives

    job = onboard(dirs)
    deadline = time.monotonic() + 60
    while job.status != Job.Status.NEEDS_CHOICE and time.monotonic() < deadline:
        assert not job.is_done, f"job {job.pk} ended {job.status}: {job.error}"
        time.sleep(0.2)
        job.refresh_from_db()
    assert job.status == Job.Status.NEEDS_CHOICE, job.status
    assert "No free seat of SPE_E3" in job.waiting_reason
    assert users_named(dirs, "ada.") == []  # nothing half-made: it asks before it sends

    services.choose_licences(job, {"SPE_E3": "EMS"}, actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED
    [user] = users_named(dirs, "ada.")
    assert dirs.entra_user(user["userPrincipalName"])["licenses"] == ["EMS"]


def test_bad_credentials_fail_clearly_and_send_nothing(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "badcreds")
    connection = dirs.tenant.connections.get()
    connection.set_secret("not-the-secret")
    connection.save()
    job = wait_for_job(onboard_with(dirs, "ada.lovelace@badcreds.example").pk)
    assert job.status == Job.Status.FAILED
    assert "Could not read" in job.error and "AADSTS7000215" in job.error
    assert users_named(dirs, "ada.") == []


def onboard_with(dirs, username: str) -> Job:
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def test_quarantined_connection_holds_jobs_until_a_probe_releases_it(on_sandbox, worker, settings):
    dirs = make_directories(on_sandbox, "quarantined")
    connection = dirs.tenant.connections.get()
    for _ in range(quarantine.MIN_CALLS):
        quarantine.record_outcome(connection, ok=False, reason="HTTP 503")
    job = onboard_with(dirs, "ada.lovelace@quarantined.example")
    deadline = time.monotonic() + 30
    while Job.objects.get(pk=job.pk).status != Job.Status.WAITING:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    job.refresh_from_db()
    assert "quarantined" in job.waiting_reason and "5 of the last 5" in job.waiting_reason
    assert users_named(dirs, "ada.") == []

    # What beat does after the cool-down: one read, and the connection releases itself.
    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    assert quarantine.probe_due_connections() == {"released": 1, "failed": 0}
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED
    assert_entra_user_complete(dirs, "ada.lovelace@quarantined.example")
