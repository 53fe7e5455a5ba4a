import time
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

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
    """A job parked to wait out the calls of a run that lost it, or of steps given up with
    no answer (engine/steps.on_its_way), finds that time passed, as `make_due` stands in
    for its countdown: those steps started a window earlier. The run that parked it has
    shown the wait."""
    if Job.objects.filter(pk=job_id, waiting_reason=steps.WAITING_OUT_LOST_CALLS).exists():
        window = timedelta(seconds=steps.ON_ITS_WAY_S)
        unknown = Q(status=Step.Status.RUNNING) | Q(error_kind=steps.NO_ANSWER_KIND)
        Step.objects.filter(unknown, job_id=job_id).update(started_at=F("started_at") - window)


def lease_runs_out(job: Job) -> None:
    """Stand in for the wait until a killed worker's lease on `job` runs out (a session
    worker's is 5 s, JOB_LEASE_SECONDS), as `make_due` does for a countdown. What that time
    would have moved: the row's `lease_until` (nothing else holds the job), and the start of
    the steps the killed run had sent, whose calls the next run waits out for up to a lease
    (engine/steps.on_its_way). Only for a run that cannot write any more (its worker killed);
    the worker started next takes seconds, which the killed run's last calls (the sandbox's
    latency) are long over in."""
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.lease_until is not None
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    window = timedelta(seconds=steps.ON_ITS_WAY_S)
    running = Step.objects.filter(job_id=job.pk, status=Step.Status.RUNNING)
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


def drive_in_turns(
    lines: dict,
    stop: type[BaseException] | tuple = (),
    max_runs: int = 400,
    longest_wait: float = 0.2,
) -> dict:
    """`drive` for several lines of jobs at once (a line: one scenario's jobs, each driven
    until it ends before the next, as `drive` would one after the other): while one line's
    job sits out its come-back (a throttle's pacing, a lag: the product's clock, which `drive`
    waits up to `longest_wait` seconds at a time for), the other lines' jobs run, as a worker
    runs other jobs meanwhile. Each job's next run comes no earlier than `drive`'s would.
    The lines must not share a tenant (its pacing and admission would tie them together).
    A run that raises `stop` (a kill) ends its line there; returns {line: that exception}."""
    pending = {key: list(jobs) for key, jobs in lines.items() if jobs}
    due = dict.fromkeys(pending, 0.0)
    runs = dict.fromkeys(pending, 0)
    stopped = {}
    while pending:
        key = min(pending, key=due.__getitem__)
        time.sleep(max(0.0, due[key] - time.monotonic()))
        job = pending[key][0]
        try:
            outcome = run_now(job.pk)
        except stop as killed:
            stopped[key] = killed
            del pending[key]
            continue
        job.refresh_from_db()
        if job.is_done:
            pending[key].pop(0)
            runs[key], due[key] = 0, time.monotonic()
            if not pending[key]:
                del pending[key]
            continue
        runs[key] += 1
        if runs[key] >= max_runs:
            raise AssertionError(f"job {job.pk} still {job.status}: {job.waiting_reason}")
        due[key] = time.monotonic() + min(outcome.retry_in or 0.05, longest_wait)
    return stopped
