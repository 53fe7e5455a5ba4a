"""Creating a Job and asking a worker to run it: the one home of both.

Every action changes the person's desired state and then asks for it with `ask`, in the
action's own transaction: the person's desired-state version goes up by one and the job
records it, so the job that verifies that version (or a later one) settles it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from provisioning.engine import admission
from provisioning.engine.parking import make_due
from provisioning.engine.tasks import run_job, send_line_timer
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


def status_for(*, at: datetime | None, hold: bool) -> str:
    """HELD, SCHEDULED (at in the future) or QUEUED: what a new job starts as."""
    if hold:
        return Job.Status.HELD
    if at is not None and at > timezone.now():
        return Job.Status.SCHEDULED
    return Job.Status.QUEUED


def first_version(status: str) -> int:
    """The desired-state version a new identity is created at when its first job, made in
    the same transaction, starts as `status`: what `ask` would make of 0 for a queued job."""
    return 1 if status == Job.Status.QUEUED else 0


def new_job(
    identity: Identity,
    kind: str,
    options: dict,
    *,
    actor,
    at: datetime | None,
    batch: Batch | None,
    hold: bool,
    new_identity: bool = False,
) -> Job:
    """A job that is HELD, SCHEDULED (at in the future) or QUEUED and enqueued on commit.

    `new_identity`: the identity was created in this transaction at `first_version` of this
    job's status; a queued job records that version and is enqueued, without the bump
    (three statements) that `ask` makes for a person who already exists."""
    job = unsaved_job(
        identity,
        kind,
        options,
        actor=actor,
        at=at,
        batch=batch,
        hold=hold,
        new_identity=new_identity,
    )
    job.save(force_insert=True)
    return job_saved(job, new_identity=new_identity)


def unsaved_job(
    identity: Identity,
    kind: str,
    options: dict,
    *,
    actor,
    at: datetime | None,
    batch: Batch | None,
    hold: bool,
    new_identity: bool = False,
) -> Job:
    """The job `new_job` makes, not yet saved: for a caller that inserts it in a statement
    of its own (`services.request_onboarding`), then hands it to `job_saved`."""
    return Job(
        tenant=identity.tenant,
        identity=identity,
        kind=kind,
        status=status_for(at=at, hold=hold),
        not_before=at,
        batch=batch,
        requested_by=_actor_user(actor),
        options=options,
        desired_version=identity.desired_version if new_identity else 0,
    )


def joiner_in_line(job: Job) -> Job:
    """A new joiner not yet saved (`unsaved_job`), queued: written waiting its turn where its
    tenant's jobs wait theirs at a throttled connection (`admission.in_line_at_submit`), so
    that no task runs it before its turn, only its fallback timer (`job_saved`)."""
    if job.status == Job.Status.QUEUED and job.kind == Job.Kind.JOIN:
        admission.in_line_at_submit(job)
    return job


def _send_in_line(job_id: int, tenant_id: int, comes_back: float) -> None:
    # The job that ends ahead of it sends it; this is the fallback. A line let go before
    # the joiner committed (no one was waiting when it was looked at) sends it now.
    if not admission.line_held_at_submit(tenant_id) and make_due(job_id):
        run_job.delay(job_id)
    else:
        send_line_timer(tenant_id, comes_back)  # the line's, not one of its own


def job_saved(job: Job, *, new_identity: bool = False) -> Job:
    """What follows a new job's INSERT (`new_job`): a queued job is asked for (a new
    identity's, made at its first version, only enqueued on commit)."""
    if job.status == Job.Status.WAITING:  # its turn not come (`joiner_in_line`)
        comes_back = (job.resume_at - timezone.now()).total_seconds()
        transaction.on_commit(lambda: _send_in_line(job.pk, job.tenant_id, comes_back))
    if job.status == Job.Status.QUEUED:
        if new_identity:
            enqueue_on_commit(job.pk)
        else:
            ask(job)
    return job
