"""job.succeeded, job.failed and job.partial, emitted in the transaction that ends the job
(registered with `engine.outcomes` in apps.py).

A periodic reconciliation (a RECONCILE job nobody asked for) that succeeded without a
single step found nothing to change: it emits nothing, or every receiver would hear of
every managed person twice a day. One that changed something, or failed, is news."""

from __future__ import annotations

from provisioning.events import describe
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.models import Job

KINDS = {
    Job.Status.SUCCEEDED: Event.Kind.JOB_SUCCEEDED,
    Job.Status.FAILED: Event.Kind.JOB_FAILED,
    Job.Status.PARTIAL: Event.Kind.JOB_PARTIAL,
}


def job_finished(job: Job, status: str) -> None:
    kind = KINDS.get(status)
    if kind is None:
        return
    # `job` as it ended: the engine sets on it what it wrote (error, counts, finished_at).
    if is_quiet_reconcile(job, status):
        return
    emit(kind, tenant=job.tenant, data=job_data(job, status, job.identity))


def is_quiet_reconcile(job: Job, status: str) -> bool:
    return (
        job.kind == Job.Kind.RECONCILE
        and job.requested_by_id is None
        and status == Job.Status.SUCCEEDED
        and job.steps_total == 0
    )


def job_data(job: Job, status: str, identity) -> dict:
    return {
        "job": {
            "id": job.pk,
            "kind": job.kind,
            "status": status,
            "url": describe.portal_url("job_detail", job_id=job.pk),
            "error": job.error[:1000] if status != Job.Status.SUCCEEDED else "",
            "steps_total": job.steps_total,
            "steps_failed": job.steps_failed,
            "requested_by": job.requested_by.get_username() if job.requested_by else None,
            "started_at": describe.when(job.started_at),
            "finished_at": describe.when(job.finished_at),
        },
        "person": describe.person(identity),
    }
