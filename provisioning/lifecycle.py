"""Leavers, movers, rehires, schedules and the mass-change circuit breaker.

Like `services.py`: each action is one transaction (change + audit event) and the job is
enqueued on commit. A job with `at` in the future is SCHEDULED and started by the beat task
`start_due_jobs`; a job of a run that would offboard too many people is HELD until an MSP
admin confirms its batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit.events import record, snapshot
from provisioning.engine import offboarding, planner
from provisioning.engine.desired import DesiredState, managed_access, merge_templates
from provisioning.jobs import enqueue_on_commit, new_job
from provisioning.models import Batch, Identity, Job
from provisioning.services import dry_run
from tenants import clock
from tenants.models import OffboardingPreset, RoleTemplate, Tenant

MANAGED = (Identity.Status.JOINER, Identity.Status.ACTIVE, Identity.Status.LEAVER)
OKTA_MODES = ("suspend", "deactivate")


@dataclass
class OffboardingOptions:
    """What an offboarding does; each option that is on becomes steps of the plan."""

    block_sign_in: bool = True
    okta_mode: str = "suspend"  # suspend keeps app assignments, deactivate drops them
    revoke_sessions: bool = True
    reset_password: bool = True
    remove_groups: bool = True
    keep_groups: list[str] = field(default_factory=list)
    remove_licenses: bool = True
    remove_apps: bool = True
    delete_after_days: int | None = 30  # None: keep the disabled account

    @classmethod
    def preset_for(cls, tenant: Tenant) -> OffboardingOptions:
        preset = OffboardingPreset.objects.filter(tenant=tenant).first()
        if preset is None:
            return cls()
        return cls(**{f.name: getattr(preset, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, data: dict) -> OffboardingOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)

    def __post_init__(self) -> None:
        if self.okta_mode not in OKTA_MODES:
            raise ValueError(f"okta_mode must be one of {OKTA_MODES}")
        self.keep_groups = list(self.keep_groups)


@dataclass
class ChangeRequest:
    """A mover: the identity's new role templates and attribute overrides."""

    role_templates: list[RoleTemplate]
    attributes: dict = field(default_factory=dict)
    extra_groups: list[str] | None = None  # None: keep the current ones


# -- the circuit breaker ----------------------------------------------------------------------


def managed_count(tenant: Tenant) -> int:
    return Identity.objects.filter(tenant=tenant, status__in=MANAGED).count()


def would_hold(tenant: Tenant, leavers: int) -> bool:
    """True when one run offboarding `leavers` people needs an MSP admin's confirmation."""
    return leavers > tenant.offboard_hold_limit(managed_count(tenant))


def hold_reason(tenant: Tenant, leavers: int) -> str:
    managed = managed_count(tenant)
    return (
        f"Offboards {leavers} of {managed} managed people; more than "
        f"{tenant.offboard_hold_limit(managed)} at once needs an MSP admin's confirmation."
    )


# -- jobs -------------------------------------------------------------------------------------


def request_offboarding(
    identity: Identity,
    options: OffboardingOptions,
    *,
    actor,
    at: datetime | None = None,
    batch: Batch | None = None,
    hold: bool = False,
    http_request=None,
) -> Job:
    """A LEAVE job now, at `at`, or held for confirmation; a scheduled leave it replaces is
    cancelled."""
    if identity.status in (Identity.Status.LEFT, Identity.Status.DELETED):
        raise ValueError(f"{identity.display_name} has left already.")
    with transaction.atomic():
        replaced = _cancel_pending(identity, Job.Kind.LEAVE, actor=actor)
        job = new_job(
            identity,
            Job.Kind.LEAVE,
            {"offboard": options.as_dict()},
            actor=actor,
            at=at,
            batch=batch,
            hold=hold,
        )
        if at is not None:
            identity.end_date = clock.tenant_date(identity.tenant, at)
            identity.save(update_fields=["end_date", "updated_at"])
        record(
            "identity.offboard",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={
                **options.as_dict(),
                "at": at.isoformat() if at else "now",
                "status": job.status,
                "replaces_jobs": replaced,
            },
            request=http_request,
            job_id=job.pk,
        )
    return job


def request_change(
    identity: Identity,
    change: ChangeRequest,
    *,
    actor,
    at: datetime | None = None,
    http_request=None,
) -> Job:
    """A mover. The CHANGE job plans only the difference (what the old templates gave and the
    new ones do not is removed). Now: the new templates/attributes are saved at once. Later:
    they wait in the job and are saved when it falls due, so cancelling it changes nothing."""
    later = at is not None and at > timezone.now()
    wanted = {
        "role_templates": [t.pk for t in change.role_templates],
        "attributes": {k: v for k, v in change.attributes.items() if v not in (None, "")},
        "extra_groups": None if change.extra_groups is None else list(change.extra_groups),
    }
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        options = {"change": wanted} if later else {"previous": _apply(identity, wanted)}
        job = new_job(
            identity, Job.Kind.CHANGE, options, actor=actor, at=at, batch=None, hold=False
        )
        record(
            "identity.change",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={
                "role_templates": [t.name for t in change.role_templates],
                "attributes": wanted["attributes"],
                "extra_groups": wanted["extra_groups"],
                "at": at.isoformat() if later else "now",
            },
            request=http_request,
            job_id=job.pk,
        )
    return job


def _apply(identity: Identity, wanted: dict) -> dict:
    """Save a mover's new desired state; what the old one gave (for the plan's removals)."""
    previous = managed_access(identity)
    identity.attributes = wanted["attributes"]
    if wanted["extra_groups"] is not None:
        identity.extra_groups = wanted["extra_groups"]
    identity.save(update_fields=["attributes", "extra_groups", "updated_at"])
    identity.role_templates.set(wanted["role_templates"])
    return previous


def _apply_due_change(job: Job) -> None:
    """A scheduled mover falls due: its desired state becomes the identity's now."""
    identity = Identity.objects.select_for_update().get(pk=job.identity_id)
    before = _described(identity)
    wanted = job.options.pop("change")
    job.options["previous"] = _apply(identity, wanted)
    record(
        "identity.change_applied",
        actor="system",
        tenant=job.tenant,
        target=identity,
        before=before,
        after=_described(identity),
        job_id=job.pk,
    )


def _described(identity: Identity) -> dict:
    return snapshot(identity) | {"role_templates": [t.name for t in identity.role_templates.all()]}


def request_restore(identity: Identity, *, actor, http_request=None) -> Job:
    """Rehire. Within the grace period: re-enable and put back what the offboarding removed.
    After the hard delete: a new join of the same Identity, so its history stays linked."""
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if identity.status not in (Identity.Status.LEFT, Identity.Status.DELETED):
            raise ValueError(f"{identity.display_name} has not left; there is nothing to restore.")
        cancelled = _cancel_pending(identity, Job.Kind.DELETE, actor=actor)
        rehire = identity.status == Identity.Status.DELETED
        if rehire:
            identity.accounts.update(remote_id="", created_remotely_at=None, last_seen={})
            kind, options = Job.Kind.JOIN, {"rehire": True}
        else:
            leave = identity.jobs.filter(kind=Job.Kind.LEAVE).order_by("-pk").first()
            kind, options = Job.Kind.RESTORE, {"leave_job": leave.pk if leave else None}
        identity.status = Identity.Status.JOINER if rehire else Identity.Status.LEFT
        identity.end_date = None
        identity.save(update_fields=["status", "end_date", "updated_at"])
        job = new_job(identity, kind, options, actor=actor, at=None, batch=None, hold=False)
        record(
            "identity.rehire" if rehire else "identity.restore",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={"cancelled_deletion": bool(cancelled), "job_kind": kind},
            request=http_request,
            job_id=job.pk,
        )
    return job


def after_job(job: Job, status: str) -> None:
    """Registered with the engine (`engine.outcomes`): the Identity's new status when a job
    ends; a successful offboarding schedules the hard delete its options asked for."""
    identity = job.identity
    if job.kind in (Job.Kind.GRANT, Job.Kind.REVOKE):
        return
    if status != Job.Status.SUCCEEDED or identity is None:
        return
    new = None
    enables = {
        Job.Kind.JOIN: job.options.get("enabled") is not False,
        Job.Kind.CHANGE: bool(job.options.get("enable")),
        Job.Kind.RESTORE: True,
    }
    if enables.get(job.kind):
        new = Identity.Status.ACTIVE
    elif job.kind == Job.Kind.LEAVE:
        new = Identity.Status.LEFT
        days = job.options["offboard"].get("delete_after_days")
        if days is not None:
            schedule_deletion(identity, days, leave_job=job)
    elif job.kind == Job.Kind.DELETE:
        new = Identity.Status.DELETED
    if new and identity.status != new:
        identity.status = new
        identity.save(update_fields=["status", "updated_at"])


def schedule_deletion(identity: Identity, days: int, *, leave_job: Job) -> Job:
    """Called when an offboarding succeeded: the hard delete, cancellable until it runs."""
    return new_job(
        identity,
        Job.Kind.DELETE,
        {"leave_job": leave_job.pk},
        actor="system",
        at=timezone.now() + timedelta(days=days),
        batch=None,
        hold=False,
    )


def _cancel_pending(identity: Identity, kind: str, *, actor) -> list[int]:
    pending = list(
        identity.jobs.filter(kind=kind, status__in=[Job.Status.SCHEDULED, Job.Status.HELD])
    )
    for job in pending:
        _cancel(job, actor=actor, http_request=None)
    return [job.pk for job in pending]


def cancel_job(job: Job, *, actor, http_request=None) -> bool:
    """Cancel a job that has not started (scheduled, held or still queued)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in Job.CANCELLABLE:
            return False
        _cancel(job, actor=actor, http_request=http_request)
    return True


def _cancel(job: Job, *, actor, http_request) -> None:
    before = job.status
    job.status, job.finished_at = Job.Status.CANCELLED, timezone.now()
    job.save(update_fields=["status", "finished_at"])
    record(
        "job.cancel",
        actor=actor,
        tenant=job.tenant,
        target=job.identity,
        before={"status": before, "not_before": job.not_before},
        after={"status": job.status, "kind": job.kind},
        request=http_request,
        job_id=job.pk,
    )


# -- batches ----------------------------------------------------------------------------------


def hold_batch(batch: Batch, reason: str) -> None:
    batch.status, batch.hold_reason = Batch.Status.HELD, reason[:300]
    batch.save(update_fields=["status", "hold_reason"])


def confirm_batch(batch: Batch, *, actor, http_request=None) -> int:
    """An MSP admin lets a held batch run: its held jobs start (or wait for their time)."""

    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != Batch.Status.HELD:
            return 0
        now = timezone.now()
        held = list(batch.jobs.filter(status=Job.Status.HELD))
        for job in held:
            # The scanner holds jobs whose time had come; others may still lie ahead.
            reached = batch.kind == Batch.Kind.SCHEDULE or job.not_before is None
            due = reached or job.not_before <= now
            job.status = Job.Status.QUEUED if due else Job.Status.SCHEDULED
            job.save(update_fields=["status"])
            if due:
                enqueue_on_commit(job.pk)
        batch.status, batch.confirmed_by, batch.confirmed_at = Batch.Status.STARTED, actor, now
        batch.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        record(
            "batch.confirm",
            actor=actor,
            tenant=batch.tenant,
            target=("batch", batch.pk, str(batch)),
            before={"status": Batch.Status.HELD, "reason": batch.hold_reason},
            after={"status": batch.status, "jobs": len(held)},
            request=http_request,
        )
    return len(held)


def cancel_batch(batch: Batch, *, actor, http_request=None) -> int:
    """Cancel every job of a batch that has not started."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        pending = list(batch.jobs.filter(status__in=Job.CANCELLABLE))
        for job in pending:
            _cancel(job, actor=actor, http_request=http_request)
        before = batch.status
        batch.status = Batch.Status.CANCELLED
        batch.save(update_fields=["status"])
        record(
            "batch.cancel",
            actor=actor,
            tenant=batch.tenant,
            target=("batch", batch.pk, str(batch)),
            before={"status": before},
            after={"status": batch.status, "jobs_cancelled": len(pending)},
            request=http_request,
        )
    return len(pending)


# -- the schedule -----------------------------------------------------------------------------


def start_due_jobs(now: datetime | None = None) -> int:
    """Start every scheduled job whose time has come; a tenant's due leavers that exceed its
    limit are held together in one batch. Returns how many jobs were started."""

    now = now or timezone.now()
    started = 0
    with transaction.atomic():
        due = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Job.Status.SCHEDULED, not_before__lte=now)
            .select_related("tenant", "batch")
            .order_by("not_before", "pk")[:2000]
        )
        leavers_by_tenant: dict[int, list[Job]] = {}
        for job in due:
            # Leaves that fall due together count as one run, whatever batch each came in
            # with (HR events of different hours, say), unless an MSP admin confirmed it.
            confirmed = job.batch_id is not None and job.batch.confirmed_at is not None
            if job.kind == Job.Kind.LEAVE and not confirmed:
                leavers_by_tenant.setdefault(job.tenant_id, []).append(job)
        for jobs in leavers_by_tenant.values():
            tenant = jobs[0].tenant
            if len(jobs) > 1 and would_hold(tenant, len(jobs)):
                _hold_scheduled(tenant, jobs)
        for job in due:
            if job.status != Job.Status.SCHEDULED:
                continue
            if "change" in job.options:
                _apply_due_change(job)
            job.status = Job.Status.QUEUED
            job.save(update_fields=["status", "options"])
            enqueue_on_commit(job.pk)
            started += 1
    return started


def _hold_scheduled(tenant: Tenant, jobs: list[Job]) -> None:
    batch = Batch.objects.create(
        tenant=tenant, kind=Batch.Kind.SCHEDULE, rows_total=len(jobs), rows_valid=len(jobs)
    )
    hold_batch(batch, hold_reason(tenant, len(jobs)))
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(status=Job.Status.HELD, batch=batch)
    for job in jobs:
        job.status = Job.Status.HELD
    record(
        "batch.hold",
        actor="system",
        tenant=tenant,
        target=("batch", batch.pk, str(batch)),
        after={"reason": batch.hold_reason, "jobs": [j.pk for j in jobs]},
    )


# -- previews (dry runs: the plans, nothing sent) ----------------------------------------------


def preview_offboarding(identity: Identity, options: OffboardingOptions):
    """The exact steps an offboarding would take now, per directory."""

    def plan(connector, connection, remote_id):
        return offboarding.plan_offboarding(
            connector, connection.pk, identity.username, remote_id, options.as_dict()
        )

    return _preview(identity, plan)


def preview_change(identity: Identity, change: ChangeRequest):
    """Only the difference a mover makes: what the new templates add and the old ones gave."""

    extra = identity.extra_groups if change.extra_groups is None else change.extra_groups
    merged = merge_templates(change.role_templates, identity.tenant, change.attributes, extra)
    desired = DesiredState(
        username=identity.username,
        first_name=identity.first_name,
        last_name=identity.last_name,
        display_name=identity.display_name,
        email=identity.email,
        enabled=identity.status not in (Identity.Status.LEFT, Identity.Status.DELETED),
        attributes=merged["attributes"],
        groups=merged["groups"],
        licenses=merged["licenses"],
        apps=merged["apps"],
    )
    previous = managed_access(identity)

    def plan(connector, connection, remote_id):
        return planner.plan_onboarding(
            connector,
            connection.pk,
            desired,
            remote_id,
            previous=previous,
            link_existing=identity.tenant.link_existing_accounts,
        )

    return _preview(identity, plan)


def _preview(identity: Identity, plan_of):
    accounts = {a.connection_id: a.remote_id for a in identity.accounts.all()}
    return dry_run(identity.tenant, identity.username, plan_of, accounts)
