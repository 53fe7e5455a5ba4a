import time
from datetime import timedelta

from django.db.models import F

from provisioning.engine import executor, steps
from provisioning.engine.parking import Outcome, make_due
from provisioning.models import Job, Step
from tests.conftest import STARTED_WORKERS


def wait_for_job(job_id: int, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_done:
            return job
        time.sleep(0.2)
    steps = list(job.steps.values_list("order", "action", "status", "last_error"))
    raise AssertionError(
        f"job {job_id} still {job.status} ({job.waiting_reason}): {steps}{_workers_gone()}"
    )


def _workers_gone() -> str:
    """Why nothing ran the job, when a session's worker has ended (its log's last lines)."""
    return "".join(
        f"\nThe worker logging to {w.log_path} has exited:\n{w.log_path.read_text()[-2000:]}"
        for w in STARTED_WORKERS
        if not w.alive()
    )


def run_now(job_id: int) -> Outcome:
    """One run of the job in this process, as a worker's would be, without sitting out the
    time it parked itself for: the caller stands in for the countdown (it sleeps a little
    of it at most). A worker's task that comes early is dropped (engine/serial.claim)."""
    make_due(job_id)
    calls_can_no_longer_arrive(job_id)
    return executor.execute(job_id)


def calls_can_no_longer_arrive(job_id: int) -> None:
    """A job parked to wait out the calls of a run that lost it (engine/steps.on_its_way)
    finds that time passed, as `make_due` stands in for its countdown: its steps still
    running started a window earlier. The run that parked it has shown the wait."""
    if Job.objects.filter(pk=job_id, waiting_reason=steps.WAITING_OUT_LOST_CALLS).exists():
        window = timedelta(seconds=steps.ON_ITS_WAY_S)
        running = Step.objects.filter(job_id=job_id, status=Step.Status.RUNNING)
        running.update(started_at=F("started_at") - window)


def drive(job: Job, max_runs: int = 400, longest_wait: float = 0.2) -> Job:
    """Run `job` in this process, as a worker would, until it ends (a test's transaction
    hides it from the session's workers); each come-back time is waited out up to
    `longest_wait` seconds."""
    for _ in range(max_runs):
        outcome = run_now(job.pk)
        job.refresh_from_db()
        if job.is_done:
            return job
        time.sleep(min(outcome.retry_in or 0.05, longest_wait))
    raise AssertionError(f"job {job.pk} still {job.status}: {job.waiting_reason}")
