"""The engine's Celery tasks: run a job, resume jobs whose worker died. They take primitive
ids, are enqueued on commit and are safe to run twice. Their names stay those of
`provisioning.tasks`, where they used to live, so queued messages and beat entries still
find them."""

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning.engine import admission, executor, outcomes
from provisioning.models import Job


@shared_task(
    name="provisioning.tasks.run_job",
    bind=True,
    acks_late=True,
    max_retries=None,
    ignore_result=True,
)
def run_job(self, job_id: int) -> None:
    if admission.fallback_after_the_end(job_id):
        return  # its turn's fallback timer, after it succeeded: nothing to do
    outcome = executor.execute(job_id)
    if outcome.then is not None:
        run_job.delay(outcome.then)  # the person's next job, or an older one to go first
    if outcome.retry_in is not None and outcome.in_line_of is not None:
        # Waiting its turn: the job that ends ahead wakes it, the line's timer is the fallback.
        send_line_timer(outcome.in_line_of, outcome.retry_in)
    elif outcome.retry_in is not None:
        # Throttled or a transient failure: come back later instead of sleeping in the worker,
        # as a message of its own. Not `self.retry`: Celery handles that as a failure retried
        # (the run's traceback formatted, logged, `task_retry` sent), ~1.9 ms of CPU a park.
        run_job.apply_async((job_id,), countdown=outcome.retry_in)


def send_line_timer(tenant_id: int, seconds: float) -> None:
    """A job of the tenant waits its turn until `seconds` from now at the latest: the
    tenant's line timer, unless one is armed to come by then (`admission.arm_line`)."""
    if admission.arm_line(tenant_id, seconds):
        line_fallback.apply_async((tenant_id,), countdown=max(0.0, seconds))


@shared_task(name="provisioning.tasks.line_fallback", acks_late=True, ignore_result=True)
def line_fallback(tenant_id: int) -> None:
    """The tenant's line timer: its waiting jobs whose come-back time has come run (a
    wake-up lost, a turn not come), and the timer is armed again for the next one's."""
    due, next_in = admission.line_due(tenant_id)
    for job_id in due:
        run_job.delay(job_id)
    if next_in is not None:
        send_line_timer(tenant_id, next_in)


@outcomes.on_job_finished
def _start_next_in_turn(job: Job, status: str) -> None:
    """An admitted job of a throttled connection ended: the first in line goes now, once
    the end has committed. Waking it locks its row, which must not wait inside the end's
    transaction: that holds the tenant's audit chain, which another job's end that woke
    the same one first waits for (a deadlock between two workers)."""
    transaction.on_commit(lambda: _wake_next_in_turn(job, status))


def _wake_next_in_turn(job: Job, status: str) -> None:
    admission.ended_after_its_turn(job, status)
    # The connections as the ending run holds them: the waiting job's is one of the tenant's.
    woken = admission.next_in_turn(job, lambda: executor.connections_of(job))
    if woken is not None:
        next_id, due_in = woken
        if due_in > admission.DUE_NOW_S:
            run_job.apply_async((next_id,), countdown=due_in)
        else:
            run_job.delay(next_id)


@shared_task(name="provisioning.tasks.resume_stalled_jobs", ignore_result=True)
def resume_stalled_jobs(queued_for_s: float = 300) -> int:
    """Re-enqueue jobs whose worker died: past their lease, or queued longer than
    `queued_for_s` (a message a killed worker had taken is lost with it). A job sent twice
    runs once: the claim decides."""
    now = timezone.now()
    stalled = Job.objects.filter(
        Q(status__in=[Job.Status.RUNNING, Job.Status.WAITING], lease_until__lt=now)
        | Q(status=Job.Status.QUEUED, created_at__lt=now - timedelta(seconds=queued_for_s))
    ).values_list("pk", flat=True)
    ids = list(stalled.order_by("pk")[:500])
    for job_id in ids:
        run_job.delay(job_id)
    return len(ids)


@worker_ready.connect
def _resume_on_start(**kwargs) -> None:
    # A worker that starts may replace one that was killed holding messages: every queued
    # job is sent again, not only those queued for five minutes.
    resume_stalled_jobs.delay(queued_for_s=0)
