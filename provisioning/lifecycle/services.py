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
from provisioning import directory_lists
from provisioning.engine import planner
from provisioning.engine.desired import (
    NO_USAGE_LOCATION,
    desired_for,
    is_live,
    licence_choices_with,
    manages,
)
from provisioning.engine.plans import one_shots_of
from provisioning.jobs import ask, new_job
from provisioning.models import Batch, BatchRow, Identity, Job
from provisioning.services import dry_run, read_seats_afresh
from tenants import clock
from tenants import services as tenant_services
from tenants.models import OffboardingPreset, RoleTemplate, Tenant

MANAGED = (Identity.Status.JOINER, Identity.Status.ACTIVE, Identity.Status.LEAVER)
RESTORABLE = (Identity.Status.LEAVER, Identity.Status.LEFT, Identity.Status.DELETED)
LEAVING = (Identity.Status.LEAVER, Identity.Status.LEFT)
PENDING_STATUSES = (Job.Status.SCHEDULED, Job.Status.HELD)
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
    # The leaver's mail, files and reports (engine/mailbox.py; defaults as the preset's).
    auto_reply: bool = False
    auto_reply_message: str = ""
    forward_to_manager: bool = False
    files_to_manager: bool = True
    reassign_reports: bool = True
    convert_to_shared_mailbox: bool = True
    hide_from_address_list: bool = True

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
    license_choices: dict[str, str] | None = None  # SKU -> replacement or ""; None: keep
    # None: the change is the whole of them. Else what it names ("role_templates",
    # "extra_groups", attribute names: the change form's fields, an HR event's, an API body's);
    # the rest stays the person's as it is when the change is applied, which for a
    # scheduled one is when it falls due.
    named: list[str] | None = None


# -- the circuit breaker ----------------------------------------------------------------------


def managed_count(tenant: Tenant) -> int:
    return Identity.objects.filter(tenant=tenant, status__in=MANAGED).count()


def would_hold(tenant: Tenant, leavers: int) -> bool:
    """True when one run offboarding `leavers` people needs an MSP admin's confirmation."""
    return leavers > tenant.offboard_hold_limit(managed_count(tenant))


def hold_reason(tenant: Tenant, leavers: int, earlier: int = 0) -> str:
    """Why a run is held; `earlier`: how many of `leavers` the tenant's earlier asks of the
    breaker's window (any path: `leavers_of_the_hour`) take access from already."""
    when = within_the_hour(earlier)
    managed = managed_count(tenant)
    if leavers < managed:
        return _held_because(tenant, f"Offboards {leavers} of {managed} managed people{when}")
    if managed == 1:
        return _held_because(tenant, f"Offboards the one managed person{when}")
    return _held_because(tenant, f"Offboards all {managed} managed people{when}")


def within_the_hour(earlier: int) -> str:
    """The words of a hold reason for the people earlier asks of the hour count already."""
    return f" within the hour ({earlier} by earlier asks)" if earlier else ""


def _held_because(tenant: Tenant, what: str) -> str:
    """`what` the run does, and the limit it passes."""
    limit = tenant.offboard_hold_limit(managed_count(tenant))
    return f"{what}; more than {limit} at once needs an MSP admin's confirmation."


def hold_template_change(
    template: RoleTemplate, change: dict | None, *, actor, http_request=None
) -> str:
    """Registered with `tenants.services.on_mass_change`: a template's deletion (`change`
    None) or an edit that takes what it gives, from more holders than the tenant lets one
    run offboard, waits in a held batch for an MSP admin (`confirm_batch` applies it), as a
    file of leavers does. The tenant's such changes of the breaker's window count together
    (attack23): several templates stripped one by one, each under the limit, are held as
    the whole would be; one that goes ahead is kept as a started batch to count with the
    next. They count with every other leave of the hour too (`leavers_of_the_hour`,
    breaker23). Returns why it is held, or "" when it may go ahead."""
    tenant = template.tenant
    if tenant is None:
        return ""
    lock_leaves_of(tenant)  # two changes at once would not count each other
    people = set(holders(template).values_list("pk", flat=True))
    if not people:
        return ""
    earlier = leavers_of_the_hour(tenant) - people
    total = len(people) + len(earlier)
    held = total > 1 and would_hold(tenant, total)  # one person alone is never held
    was = None if change is None else snapshot(RoleTemplate.objects.get(pk=template.pk), change)
    batch = Batch.objects.create(
        tenant=tenant,
        kind=Batch.Kind.TEMPLATE,
        status=Batch.Status.HELD if held else Batch.Status.STARTED,
        filename=template.name[:255],
        rows_total=len(people),
        rows_valid=len(people),
        options={"role_template": template.pk, "change": change, "was": was}
        | {"holders": sorted(people)},
        created_by_id=getattr(actor, "pk", None),
    )
    if not held:
        return ""
    verb = "Deleting" if change is None else "Editing"
    when = within_the_hour(len(earlier))
    what = (
        f"{verb} the role template “{template.name}” takes what it gives from {total} of "
        f"{managed_count(tenant)} managed people{when}"
    )
    hold_batch(batch, _held_because(tenant, what))
    record(
        "batch.hold",
        actor=actor,
        tenant=tenant,
        target=("batch", batch.pk, str(batch)),
        after={"reason": batch.hold_reason, "role_template": template.name}
        | {"change": change or "delete"},
        request=http_request,
    )
    return batch.hold_reason


def _recent_template_holders(tenant: Tenant) -> set[int]:
    """The people whom the tenant's template changes taking access, begun within the
    breaker's window, reach (held or gone ahead; cancelled ones left out)."""
    batches = Batch.objects.filter(
        tenant=tenant, kind=Batch.Kind.TEMPLATE, created_at__gte=timezone.now() - BREAKER_WINDOW
    ).exclude(status=Batch.Status.CANCELLED)
    return {
        pk
        for options in batches.values_list("options", flat=True)
        for pk in options.get("holders", [])
    }


def _apply_template_change(batch: Batch, *, actor, http_request) -> int:
    """A held template change confirmed: the edit or the deletion as it was asked for.
    Returns how many holders it asks again (a Change job each, `template_changed`)."""
    # Locked until the change is saved: an edit committed between the comparison with `was`
    # and the save would otherwise be written over unseen.
    templates = RoleTemplate.objects.select_for_update()
    template = templates.filter(pk=batch.options.get("role_template")).first()
    if template is None:  # deleted meanwhile: nothing left to change
        return 0
    asked = holders(template).count()
    change = batch.options.get("change")
    if change is None:
        tenant_services.delete_role_template(
            template, actor=actor, request=http_request, confirmed=True
        )
    else:
        was = batch.options.get("was")
        tenant_services.apply_held_edit(
            template, change, was=was, actor=actor, request=http_request
        )
    return asked


def leavers_of_the_hour(tenant: Tenant) -> set[int]:
    """The people losing access in the tenant's breaker window, whichever path asked: the
    leaves begun within it (person pages, the API, the HR webhook, SCIM, bulk files, the
    takeover scope, adopt-and-offboard; held or gone ahead) and the holders of its role
    template changes taking access, cancelled ones left out. One count for every path
    (breaker23): N people over the limit are held however the asks are split across them."""
    leaves = Job.objects.filter(
        tenant=tenant,
        kind=Job.Kind.LEAVE,
        created_at__gte=timezone.now() - BREAKER_WINDOW,
    ).exclude(status=Job.Status.CANCELLED)
    return set(leaves.values_list("identity_id", flat=True)) | _recent_template_holders(tenant)


class HasLeft(ValueError):
    """A leave asked of someone who has left (or been deleted) already: the caller's read of
    them is older than that, since another channel's leave ended or a hard delete began."""


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
    """A leave now (the person's desired state is "left" from this transaction on), at
    `at` (a scheduled LEAVE job that changes it then), or held for confirmation; a
    scheduled leave it replaces is cancelled."""
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if identity.status in (Identity.Status.LEFT, Identity.Status.DELETED):
            raise HasLeft(f"{identity.display_name} has left already.")
        _lock_pending(identity)
        replaced = _cancel_pending(identity, Job.Kind.LEAVE, actor=actor)
        now = not hold and (at is None or at <= timezone.now())
        if now:
            begin_leave(identity, options.as_dict())
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


def begin_leave(identity: Identity, offboard: dict) -> None:
    """The person's desired state becomes "left" with these options (call in the action's
    transaction, before the job is asked for)."""
    identity.status = Identity.Status.LEAVER
    identity.leave_options = offboard
    identity.save(update_fields=["status", "leave_options", "updated_at"])
    # A joiner created ahead: their first day's sign-in must not stay on the schedule (a
    # restore before it schedules it again).
    for job in identity.jobs.filter(kind=Job.Kind.CHANGE, status__in=PENDING_STATUSES):
        if job.options.get("enable"):
            _cancel(job, actor="system", http_request=None)


def request_change(
    identity: Identity,
    change: ChangeRequest,
    *,
    actor,
    at: datetime | None = None,
    http_request=None,
) -> Job:
    """A mover. Now: the new templates and attributes are the desired state from this
    transaction on (what the portal gave for the old ones and the new ones do not give is
    removed). Later: they wait in the job and become the desired state when it falls due,
    so cancelling it changes nothing."""
    later = at is not None and at > timezone.now()
    wanted = {
        "role_templates": [t.pk for t in change.role_templates],
        "attributes": _kept_attributes(identity, change.attributes),
        "extra_groups": None if change.extra_groups is None else list(change.extra_groups),
        "license_choices": change.license_choices,
        **({"named": list(change.named)} if change.named is not None else {}),
    }
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if not later:
            _apply(identity, wanted)
        options = {"change": wanted} if later else {}
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
                **({"license_choices": change.license_choices} if change.license_choices else {}),
                "at": at.isoformat() if later else "now",
            },
            request=http_request,
            job_id=job.pk,
        )
    return job


def holders(template: RoleTemplate):
    """The people whose desired state `template` makes: joiners, active people, leavers."""
    return Identity.objects.filter(role_templates=template, status__in=MANAGED)


def template_changed(template: RoleTemplate, *, actor, http_request=None) -> list[Job]:
    """What `template` gives changed (or it is being deleted), in that transaction: each
    member whose desired state it makes (joiners, active people, leavers: a leave strips
    what the active state no longer explains) is asked again, a Change job each. So the
    members end with the template as edited now, not at the next periodic check (as
    drift), and a job of theirs running meanwhile finds a newer version at its end and
    reads again instead of verifying the template as it was. People are locked in id
    order, as two saves of templates they share would lock them."""
    jobs = []
    locked = holders(template).select_related("tenant").select_for_update(of=("self",))
    for identity in locked.order_by("pk"):
        job = new_job(identity, Job.Kind.CHANGE, {}, actor=actor, at=None, batch=None, hold=False)
        record(
            "identity.change",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={"role_template_changed": template.name},
            request=http_request,
            job_id=job.pk,
        )
        jobs.append(job)
    return jobs


def _kept_attributes(identity: Identity, attributes: dict) -> dict:
    """The change's attributes less the blank ones, except an adopted person's "no usage
    location of their own" (engine/desired.py), which a move without one keeps."""
    kept = {k: v for k, v in attributes.items() if v not in (None, "")}
    mine = identity.attributes or {}
    if "usage_location" not in kept and mine.get("usage_location") == NO_USAGE_LOCATION:
        kept["usage_location"] = NO_USAGE_LOCATION
    return kept


def _apply(identity: Identity, wanted: dict) -> None:
    """Save a mover's new desired state."""
    wanted = _over_the_rest(identity, wanted)
    identity.attributes = wanted["attributes"]
    if wanted["extra_groups"] is not None:
        identity.extra_groups = wanted["extra_groups"]
    if wanted.get("license_choices") is not None:  # a change scheduled before it had them
        # On top of the person's choices as they are now, under the caller's lock: another
        # change may have answered another licence since this one's form was built.
        identity.license_choices = licence_choices_with(identity, wanted["license_choices"])
    identity.save(update_fields=["attributes", "extra_groups", "license_choices", "updated_at"])
    identity.role_templates.set(wanted["role_templates"])


def _over_the_rest(identity: Identity, wanted: dict) -> dict:
    """A change that names what it changes (`ChangeRequest.named`) laid over the person as
    they are now: a change applied since it was asked (scheduled for later) keeps what it
    set. A named attribute the change has no value for is the person's own value removed."""
    named = wanted.get("named")
    if named is None:
        return wanted
    mine = {k: v for k, v in (identity.attributes or {}).items() if k not in named}
    attributes = mine | {k: v for k, v in wanted["attributes"].items() if k in named}
    templates = wanted["role_templates"]
    if "role_templates" not in named:
        templates = list(identity.role_templates.values_list("pk", flat=True))
    extra_groups = wanted["extra_groups"] if "extra_groups" in named else None  # None: kept
    return wanted | {
        "attributes": attributes,
        "role_templates": templates,
        "extra_groups": extra_groups,
    }


def _apply_due_change(job: Job) -> None:
    """A scheduled mover falls due: its desired state becomes the identity's now."""
    identity = Identity.objects.select_for_update().get(pk=job.identity_id)
    before = _described(identity)
    _apply(identity, job.options.pop("change"))
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


def request_restore(
    identity: Identity,
    *,
    actor,
    license_choices: dict[str, str] | None = None,
    http_request=None,
) -> Job:
    """Rehire. Before the hard delete: enabled again with the templates, grants and the
    access recorded as an exception when they left. After it: a new join of the same
    Identity, so its history stays linked. A scheduled hard delete is cancelled.
    `license_choices`: the dry run's answers for licences without a free seat (SKU ->
    replacement, "" to go without), kept in the person's desired state as a mover's are."""
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if refused := restore_refused(identity):
            raise ValueError(refused)
        _lock_pending(identity)
        cancelled = _cancel_pending(identity, Job.Kind.DELETE, actor=actor)
        _cancel_pending(identity, Job.Kind.LEAVE, actor=actor)
        rehire = identity.status == Identity.Status.DELETED
        if rehire:
            identity.accounts.update(
                remote_id="", created_remotely_at=None, last_seen={}, managed={}, missing_since=None
            )
            identity.access_exceptions = {}
        identity.status = Identity.Status.JOINER
        identity.end_date, identity.leave_options = None, {}
        if license_choices:
            identity.license_choices = licence_choices_with(identity, license_choices)
        identity.save(
            update_fields=[
                "status",
                "end_date",
                "leave_options",
                "access_exceptions",
                "license_choices",
                "updated_at",
            ]
        )
        if not rehire and identity.enable_at and identity.enable_at > timezone.now():
            new_job(identity, Job.Kind.CHANGE, {"enable": True}, actor=actor,
                    at=identity.enable_at, batch=None, hold=False)  # fmt: skip
        kind = Job.Kind.JOIN if rehire else Job.Kind.RESTORE
        options = {"rehire": True} if rehire else {}
        job = new_job(identity, kind, options, actor=actor, at=None, batch=None, hold=False)
        record(
            "identity.rehire" if rehire else "identity.restore",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={
                "cancelled_deletion": bool(cancelled),
                "job_kind": kind,
                **({"license_choices": license_choices} if license_choices else {}),
            },
            request=http_request,
            job_id=job.pk,
        )
    return job


def restore_refused(identity: Identity) -> str:
    """Why the person cannot be restored or rehired now; "" when they can. The one check of
    every way in (the page, the API, SCIM). A rehire after a hard delete that failed would
    start a new join beside the disabled account the directory still holds (leftover1): the
    delete must finish first. One asked while the delete runs is not refused: whichever job
    reads the account then, the end is the rehire's (test_engine_convergence)."""
    if identity.status not in RESTORABLE:
        return f"{identity.display_name} has not left; there is nothing to restore."
    deletion = identity.deletion
    if deletion is None or deletion["state"] != "failed":
        return ""
    return (
        f"The hard delete of {identity.display_name} did not finish (delete job "
        f"#{deletion['job_id']} failed): the disabled account is still in the directory. "
        "Retry the delete's failed steps on the job's page, then rehire them."
    )


def add_to_directory(
    identity: Identity,
    connection,
    *,
    actor,
    license_choices: dict[str, str] | None = None,
    http_request=None,
) -> Job:
    """A person managed in some directories only (adopted where they had an account) is
    managed in `connection` too from now on: a Change job creates their account there (or
    links the one the engine finds is theirs) and reads it back. `license_choices`: the dry
    run's answers for their roles' licences there (SKU -> replacement, "" to go without), on
    top of their own. ValueError when they are managed there already or have left."""
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if identity.status not in MANAGED:
            raise ValueError(f"{identity.display_name} has left: restore them first.")
        before = directory_lists.listed(identity)
        if manages(before, connection):
            raise ValueError(f"{identity.display_name} is managed in {connection.label} already.")
        identity.directories = [*before, connection.pk]
        if license_choices:
            identity.license_choices = licence_choices_with(identity, license_choices)
        identity.save(update_fields=["directories", "license_choices", "updated_at"])
        job = new_job(
            identity,
            Job.Kind.CHANGE,
            {"add_directory": connection.pk},
            actor=actor,
            at=None,
            batch=None,
            hold=False,
        )
        record(
            "identity.directory_added",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            before={"directories": before},
            after={
                "directories": identity.directories,
                "added": connection.label,
                **({"license_choices": license_choices} if license_choices else {}),
            },
            request=http_request,
            job_id=job.pk,
        )
    return job


def after_job(job: Job, status: str) -> tuple[dict, dict] | None:
    """Registered with the engine (`engine.outcomes`): a job verified the person's newest
    desired state, so their status follows it: a joiner (on or after the start date) is
    active, a leaver has left (and the hard delete of the leave's options is scheduled).
    What changed goes into the job's job.finish event, for the trail."""
    if status != Job.Status.SUCCEEDED or job.identity_id is None:
        return None
    identity = job.identity  # locked and read by the engine in this transaction
    if job.converged_version != identity.desired_version:
        return None  # a later action is on its way: its own job moves the status
    was, after = identity.status, {}
    if (
        identity.status == Identity.Status.JOINER
        and is_live(identity)
        and _join_done(identity, job)
    ):
        identity.status = Identity.Status.ACTIVE
    elif identity.status == Identity.Status.LEAVER and _leave_done(identity, job):
        identity.status = Identity.Status.LEFT
        days = (identity.leave_options or {}).get("delete_after_days")
        already = identity.jobs.filter(kind=Job.Kind.DELETE, status=Job.Status.SCHEDULED)
        if days is not None and not already.exists():
            deletion = schedule_deletion(identity, days, leave_job=job)
            after = {
                "hard_delete_job_id": deletion.pk,
                "hard_delete_not_before": deletion.not_before.isoformat(),
            }
    else:
        return None
    # Saved by the engine with what else the job's end changes (outcomes.person_changes).
    return {"person_status": was}, {"person_status": identity.status, **after}


# The jobs that make a person a joiner: a join (a rehire's too) and a restore.
ARRIVALS = (Job.Kind.JOIN, Job.Kind.RESTORE)


def _join_done(identity: Identity, job: Job) -> bool:
    """Active once the newest join's (or restore's) own job succeeded, as a leaver is Left
    (`_leave_done`): a join that failed or partly failed is not done until a retry of its
    steps succeeds. A later job (the periodic check, a template's edit) that reads the
    account as asked has not sent what the join failed on: its first sign-in is a one-shot
    that no read shows and that no other job plans again (leftover1)."""
    if job.kind in ARRIVALS:
        return True
    newest = identity.newest_started_job(*ARRIVALS)
    return newest is None or newest.status == Job.Status.SUCCEEDED


def _leave_done(identity: Identity, job: Job) -> bool:
    """Left once the leave's own job (its password reset and session revocation) succeeded,
    even when another job of theirs verified the state first. A leave that failed or partly
    failed is not done until a retry of its steps succeeds: a later job (the periodic check,
    a template's edit) that reads the leaver disabled and stripped has not sent the one-shots
    it failed on."""
    if job.kind == Job.Kind.LEAVE:
        return True
    newest = identity.newest_started_job(Job.Kind.LEAVE)
    return newest is None or newest.status == Job.Status.SUCCEEDED


def schedule_deletion(identity: Identity, days: int, *, leave_job: Job) -> Job:
    """Called when a leave is verified: the hard delete, cancellable until it runs. Always
    scheduled (beat starts it, even at 0 days), so that `start_job` can refuse it for a
    person who is no longer leaving."""
    return Job.objects.create(
        tenant=identity.tenant,
        identity=identity,
        kind=Job.Kind.DELETE,
        status=Job.Status.SCHEDULED,
        not_before=timezone.now() + timedelta(days=days),
        options={"leave_job": leave_job.pk},
    )


def _lock_pending(identity: Identity) -> None:
    """Lock the person's scheduled and held jobs before an action that cancels some of them
    records anything. The clock's tick (`start_due_jobs`) holds its due jobs' rows and then
    records each start, waiting for the tenant's audit head; an action that recorded a first
    cancel (holding that head) and then waited for a row the tick held deadlocked with it: a
    restore cancelling a hard delete and then a leave falling due (converge17)."""
    pending = identity.jobs.filter(status__in=PENDING_STATUSES).order_by("pk")
    list(pending.select_for_update().values_list("pk", flat=True))


def _cancel_pending(identity: Identity, kind: str, *, actor) -> list[int]:
    pending = list(
        identity.jobs.filter(kind=kind, status__in=[Job.Status.SCHEDULED, Job.Status.HELD])
    )
    for job in pending:
        _cancel(job, actor=actor, http_request=None)
    return [job.pk for job in pending]


def cancel_job(job: Job, *, actor, http_request=None) -> bool:
    """Cancel a job whose time has not come (scheduled) or that awaits confirmation (held)."""
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


def _lock_people_of(identity_ids) -> None:
    """A batch's people (ids, or a query of them) locked in id order before its confirm or
    cancel records anything: one by one, a job's start or cancel recorded (the tenant's
    audit head) before the next person was locked, and a form's or the webhook's leave or
    change holding that person waited for the head (a deadlock, converge24)."""
    people = Identity.objects.select_for_update().filter(pk__in=identity_ids)
    list(people.order_by("pk").values_list("pk", flat=True))


def hold_batch(batch: Batch, reason: str) -> None:
    batch.status, batch.hold_reason = Batch.Status.HELD, reason[:300]
    batch.save(update_fields=["status", "hold_reason"])


def confirm_batch(batch: Batch, *, actor, http_request=None) -> int:
    """An MSP admin lets a held batch run: its held jobs start (or wait for their time), or
    its held template change is applied and asks the holders again. Returns the jobs it lets
    go. `tenant_services.HeldEditRefused`: a held edit that can no longer be applied as asked
    (a name taken or its fields edited meanwhile), nothing done."""

    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != Batch.Status.HELD:
            return 0
        now = timezone.now()
        asked = 0
        if batch.kind == Batch.Kind.TEMPLATE:
            asked = _apply_template_change(batch, actor=actor, http_request=http_request)
        held = list(batch.jobs.filter(status=Job.Status.HELD))
        _lock_people_of([job.identity_id for job in held])
        for job in held:
            # The scanner holds jobs whose time had come; others may still lie ahead.
            reached = batch.kind == Batch.Kind.SCHEDULE or job.not_before is None
            due = reached or job.not_before <= now
            if due:
                start_job(job)
            else:
                job.status = Job.Status.SCHEDULED
                job.save(update_fields=["status"])
        batch.status, batch.confirmed_by, batch.confirmed_at = Batch.Status.STARTED, actor, now
        batch.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        record(
            "batch.confirm",
            actor=actor,
            tenant=batch.tenant,
            target=("batch", batch.pk, str(batch)),
            before={"status": Batch.Status.HELD, "reason": batch.hold_reason},
            after={"status": batch.status, "jobs": len(held) + asked},
            request=http_request,
        )
    return len(held) + asked


def cancel_batch(batch: Batch, *, actor, http_request=None) -> int | None:
    """Cancel every job of a batch that has not started. None, nothing changed, for a batch
    that started with nothing left to cancel (a confirmed template change, a file whose jobs
    all ran): it is not marked cancelled after the fact."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        _lock_people_of(batch.jobs.filter(status__in=Job.CANCELLABLE).values("identity_id"))
        pending = list(batch.jobs.filter(status__in=Job.CANCELLABLE))  # as their people are
        if not pending and batch.status == Batch.Status.STARTED:
            return None
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
            started += start_job(job, skip_held=True)
    return started


def start_job(job: Job, *, skip_held: bool = False) -> bool:
    """A scheduled or held job's time has come: what it asks for becomes the person's
    desired state now, and the job is queued; False when it no longer applies (a leave of
    someone who has left, a hard delete of someone who is not leaving) and is cancelled.

    `skip_held`: the scanner holds its due jobs' rows already, and an action (a rehire, a
    new leave) locks the person first and then cancels their scheduled jobs: waiting for a
    person another transaction holds would deadlock with it. Such a job stays scheduled
    (False) for the scanner's next tick, which decides on the person as the action left them.
    Otherwise (a batch's confirm, which read its held jobs unlocked) the job is read again
    under the person's lock: one cancelled meanwhile (by hand, by a restore) starts nothing."""
    people = Identity.objects.select_for_update(skip_locked=skip_held)
    identity = people.filter(pk=job.identity_id).first()
    if identity is None:
        return False
    if not skip_held and not Job.objects.filter(pk=job.pk, status__in=Job.CANCELLABLE).exists():
        return False
    job.identity = identity
    if job.kind == Job.Kind.LEAVE and identity.status in (
        Identity.Status.LEFT,
        Identity.Status.DELETED,
    ):
        return _cancel_stale(job, f"{identity.display_name} has left already.")
    if job.kind == Job.Kind.DELETE and identity.status not in LEAVING:
        return _cancel_stale(job, f"{identity.display_name} is not leaving any more.")
    if job.kind == Job.Kind.LEAVE:
        begin_leave(identity, job.options["offboard"])
    elif job.kind == Job.Kind.DELETE:
        identity.status = Identity.Status.DELETED
        identity.save(update_fields=["status", "updated_at"])
    elif "change" in job.options:
        _apply_due_change(job)
        Job.objects.filter(pk=job.pk).update(options=job.options)
    elif job.kind == Job.Kind.JOIN or job.options.get("enable"):
        # The start date has come: the account now, or its sign-in (created ahead).
        field = "provision_from" if job.kind == Job.Kind.JOIN else "enable_at"
        setattr(identity, field, None)
        identity.save(update_fields=[field, "updated_at"])
    ask(job)
    record(
        "job.start",
        actor="system",
        tenant=job.tenant,
        target=identity,
        before={"status": Job.Status.SCHEDULED, "not_before": job.not_before},
        after={"kind": job.kind, "person": identity.status, "desired_version": job.desired_version},
        job_id=job.pk,
    )
    return True


def _cancel_stale(job: Job, reason: str) -> bool:
    _cancel(job, actor="system", http_request=None)
    Job.objects.filter(pk=job.pk).update(error=reason)
    return False


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


def preview_offboarding(identity: Identity, options: OffboardingOptions, **directories):
    """The exact steps an offboarding would take now, per directory. `directories`: the
    `connections` and `connector_of` of `dry_run`, for a file's rows that share them."""
    offboard = options.as_dict()
    changes = {"status": Identity.Status.LEAVER, "leave_options": offboard}
    return _preview(identity, changes=changes, one_shots=one_shots_of(offboard), **directories)


def preview_change(identity: Identity, change: ChangeRequest, *, fresh_seats: bool = False):
    """What a mover would change now: what the new templates add, and what the portal gave
    for the old ones and the new ones do not give. `fresh_seats`: the seat counts read
    past the connectors' cache (a submit's dry run, which its choices are judged by)."""
    extra = identity.extra_groups if change.extra_groups is None else change.extra_groups
    changes = {
        "attributes": _kept_attributes(identity, change.attributes),
        "extra_groups": list(extra),
    }
    if change.license_choices is not None:
        changes["license_choices"] = licence_choices_with(identity, change.license_choices)
    if fresh_seats:
        read_seats_afresh(identity.tenant)
    return _preview(identity, templates=change.role_templates, changes=changes)


def preview_restore(identity: Identity, license_choices: dict[str, str] | None = None):
    """What `request_restore` would send now, per directory: sign-in enabled again and the
    access given back (before the hard delete), or a new join's accounts (a rehire, whose
    accounts and recorded exceptions the restore forgets)."""
    rehire = identity.status == Identity.Status.DELETED
    changes: dict = {"status": Identity.Status.JOINER, "end_date": None, "leave_options": {}}
    if rehire:
        changes["access_exceptions"] = {}
    if license_choices:
        changes["license_choices"] = licence_choices_with(identity, license_choices)
    return _preview(identity, changes=changes, fresh=rehire)


def preview_add_to_directory(
    identity: Identity,
    connection,
    license_choices: dict[str, str] | None = None,
    *,
    fresh_seats: bool = False,
):
    """What `add_to_directory` would send now: the account in `connection`'s directory, and
    what the Change job brings the person's other directories to as well (every run converges
    each directory they are managed in). `license_choices` and `fresh_seats` as for
    `preview_change`."""
    directories = [*(directory_lists.listed(identity) or []), connection.pk]
    changes: dict = {"directories": directories}
    if license_choices:
        changes["license_choices"] = licence_choices_with(identity, license_choices)
    if fresh_seats:
        read_seats_afresh(identity.tenant)
    return _preview(identity, changes=changes)


def _preview(
    identity: Identity, *, templates=None, changes: dict, one_shots=(), fresh=False, **directories
):
    """`fresh`: as if no account had been created yet (a rehire's new join); `directories`:
    `dry_run`'s `connections` and `connector_of`."""
    accounts = {} if fresh else {a.connection_id: a for a in identity.accounts.all()}
    link = identity.tenant.link_existing_accounts

    def plan(connector, connection, remote_id):
        account = accounts.get(connection.pk)
        view = planner.AccountView(remote_id=remote_id, managed=account.managed if account else {})
        desired = desired_for(identity, connection, templates=templates, changes=changes)
        return planner.plan_account(
            connector, connection.pk, desired, view, link_existing=link, one_shots=one_shots
        )

    remote_ids = {pk: a.remote_id for pk, a in accounts.items()}
    return dry_run(identity.tenant, identity.username, plan, remote_ids, **directories)


# -- automated leavers: the circuit breaker's window -----------------------------------------

BREAKER_WINDOW = timedelta(hours=1)


def offboard_in_window(
    identity: Identity,
    options: OffboardingOptions,
    *,
    kind: str,
    actor,
    at: datetime | None = None,
    row: dict | None = None,
    http_request=None,
) -> Job:
    """A leave asked one person at a time (the person page, the API, the HR webhook, a SCIM
    client, adopt-and-offboard), in that source's batch of the last hour; once the tenant's
    leavers of the hour, whichever path asked (`leavers_of_the_hour`), are more than its
    limit, the batch is held, and so is every leave that joins it, until an MSP admin
    confirms."""
    tenant = identity.tenant
    with transaction.atomic():
        lock_leaves_of(tenant)
        # The person before the hold is recorded: a form's leave of theirs holds them and
        # then waits for the audit head the hold took (converge18).
        Identity.objects.select_for_update().filter(pk=identity.pk).first()
        batch = _open_window_batch(tenant, kind, options)
        leavers = _leavers_of(batch) | leavers_of_the_hour(tenant) | {identity.pk}
        hold = batch.status == Batch.Status.HELD
        if not hold and would_hold(tenant, len(leavers)):
            reason = hold_reason(tenant, len(leavers), len(leavers - {identity.pk}))
            _hold_window_batch(batch, reason, actor=actor)
            hold = True
        job = request_offboarding(
            identity, options, actor=actor, at=at, batch=batch, hold=hold, http_request=http_request
        )
        line = batch.rows_total + 1
        BatchRow.objects.create(
            batch=batch,
            line=line,
            data=(row or {}) | {"leave_at": at.isoformat() if at else "now"},
            identity=identity,
            job=job,
        )
        batch.rows_total = batch.rows_valid = line
        batch.save(update_fields=["rows_total", "rows_valid"])
    return job


def lock_leaves_of(tenant: Tenant) -> None:
    """One run of the tenant's leavers counted at a time (a file, the webhook's, the API's
    or SCIM's window), as two at once would count each other. A no-key lock: every job and
    audit event of the tenant checks its row (a key share, at commit), and an update lock
    made the form's leave of a person such a run then waited for deadlock with it
    (converge18)."""
    Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()


def _open_window_batch(tenant: Tenant, kind: str, options: OffboardingOptions) -> Batch:
    recent = (
        Batch.objects.filter(
            tenant=tenant, kind=kind, created_at__gte=timezone.now() - BREAKER_WINDOW
        )
        .exclude(status=Batch.Status.CANCELLED)
        .order_by("-created_at", "-pk")
        .first()
    )
    if recent is not None:
        return recent
    return Batch.objects.create(
        tenant=tenant,
        kind=kind,
        status=Batch.Status.STARTED,
        options={"offboard": options.as_dict()},
    )


def _leavers_of(batch: Batch) -> set[int]:
    jobs = batch.jobs.filter(kind=Job.Kind.LEAVE).exclude(status=Job.Status.CANCELLED)
    return set(jobs.values_list("identity_id", flat=True))


def _hold_window_batch(batch: Batch, reason: str, *, actor) -> None:
    """Hold the batch, and its leaves that wait for their time: nothing of it is sent
    until an MSP admin confirms."""
    hold_batch(batch, reason)
    waiting = list(batch.jobs.filter(status=Job.Status.SCHEDULED).values_list("pk", flat=True))
    Job.objects.filter(pk__in=waiting).update(status=Job.Status.HELD)
    record(
        "batch.hold",
        actor=actor,
        tenant=batch.tenant,
        target=("batch", batch.pk, str(batch)),
        after={"reason": batch.hold_reason, "jobs_held": waiting},
    )
