"""Celery tasks. They take primitive ids, are enqueued on commit, and are safe to run twice."""

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.db.models import Q
from django.utils import timezone

from provisioning.engine import executor
from provisioning.models import Job


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def run_job(self, job_id: int) -> None:
    outcome = executor.execute(job_id)
    if outcome.retry_in is not None:
        # Throttled or a transient failure: come back later instead of sleeping in the worker.
        raise self.retry(countdown=outcome.retry_in)


@shared_task(ignore_result=True)
def resume_stalled_jobs() -> int:
    """Re-enqueue jobs whose worker died: past their lease, or never picked up."""
    now = timezone.now()
    stalled = Job.objects.filter(
        Q(status__in=[Job.Status.RUNNING, Job.Status.WAITING], lease_until__lt=now)
        | Q(status=Job.Status.QUEUED, created_at__lt=now - timedelta(minutes=5))
    ).values_list("pk", flat=True)
    ids = list(stalled[:500])
    for job_id in ids:
        run_job.delay(job_id)
    return len(ids)


@worker_ready.connect
def _resume_on_start(**kwargs) -> None:
    resume_stalled_jobs.delay()


@shared_task(ignore_result=True)
def start_due_jobs() -> int:
    """Scheduled joiners, leavers and deletions whose time has come (run by beat)."""
    from provisioning import lifecycle

    return lifecycle.start_due_jobs()


@shared_task(ignore_result=True)
def access_request_clock() -> dict:
    """Grants that end, stale requests that expire, notices of ends to come (run by beat)."""
    from provisioning import access_requests

    return {
        "ended": access_requests.end_due_grants(),
        "expired": access_requests.expire_stale_requests(),
        "notices": access_requests.send_expiry_notices(),
    }
