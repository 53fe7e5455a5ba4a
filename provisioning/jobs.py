"""Creating a Job and asking a worker to run it: the one home of both.

Every action changes the person's desired state and then asks for it with `ask`, in the
action's own transaction: the person's desired-state version goes up by one and the job
records it, so the job that verifies that version (or a later one) settles it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from provisioning.engine.tasks import run_job
from provisioning.models import Batch, Identity, Job


def enqueue_on_commit(job_id: int) -> None:
    """Run the job once the transaction that made it ready commits (never a row not yet seen)."""
    transaction.on_commit(lambda: run_job.delay(job_id))


def ask(job: Job, *, changed: bool = True) -> Job:
    """Queue `job` for the person's desired state as it is now (call inside the transaction
    that changed it): a new version, recorded on the job; the job runs once committed.
    `changed=False`: a check of the state as it is (periodic reconciliation)."""
    if job.identity_id is not None:
        if changed:
            Identity.objects.filter(pk=job.identity_id).update(
                desired_version=F("desired_version") + 1
            )
        version = Identity.objects.values_list("desired_version", flat=True).get(pk=job.identity_id)
        job.desired_version = version
    job.status = Job.Status.QUEUED
    Job.objects.filter(pk=job.pk).update(status=job.status, desired_version=job.desired_version)
    enqueue_on_commit(job.pk)
    return job


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
        ask(job)
    return job
