"""Creating a Job and asking a worker to run it: the one home of both."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from provisioning.engine.tasks import run_job
from provisioning.models import Batch, Identity, Job


def enqueue_on_commit(job_id: int) -> None:
    """Run the job once the transaction that made it ready commits (never a row not yet seen)."""
    transaction.on_commit(lambda: run_job.delay(job_id))


def _actor_user(actor):
    return actor if getattr(actor, "pk", None) else None


def new_job(
    identity: Identity,
    kind: str,
    options: dict,
    *,
    actor,
    at: datetime | None,
    batch: Batch | None,
    hold: bool,
) -> Job:
    """A job that is HELD, SCHEDULED (at in the future) or QUEUED and enqueued on commit."""
    if hold:
        status = Job.Status.HELD
    elif at is not None and at > timezone.now():
        status = Job.Status.SCHEDULED
    else:
        status = Job.Status.QUEUED
    job = Job.objects.create(
        tenant=identity.tenant,
        identity=identity,
        kind=kind,
        status=status,
        not_before=at,
        batch=batch,
        requested_by=_actor_user(actor),
        options=options,
    )
    if status == Job.Status.QUEUED:
        enqueue_on_commit(job.pk)
    return job
