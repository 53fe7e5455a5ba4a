"""An HR event becomes the same service call a technician's form makes.

`prepare` does the checks and the slow part (the hire's username asks the directories)
outside any transaction and returns the action; the caller runs that action inside the
transaction that also records the event, so that the event and its job commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit.events import record
from provisioning import lifecycle, services
from provisioning.models import Batch, BatchRow, Identity, Job
from provisioning.webhook.schema import Change, Event, Hire, Terminate
from tenants import clock
from tenants.models import RoleTemplate, Tenant

ACTOR = "webhook"
BATCH_WINDOW = timedelta(hours=1)
END_OF_DAY = time(23, 59)  # an end_date is the last working day: access ends as it closes

Action = Callable[[], Job]


class Unprocessable(Exception):
    """A valid event that does not fit the tenant's data (unknown employee or role ...)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def prepare(tenant: Tenant, event: Event, *, http_request=None) -> Action:
    if isinstance(event, Hire):
        return _prepare_hire(tenant, event, http_request)
    if isinstance(event, Change):
        return _prepare_change(tenant, event, http_request)
    return _prepare_terminate(tenant, event, http_request)


# -- hire -------------------------------------------------------------------------------------


def _prepare_hire(tenant: Tenant, event: Hire, http_request) -> Action:
    existing = Identity.objects.filter(tenant=tenant, employee_id=event.employee_id).first()
    if existing is not None:
        raise Unprocessable(
            f"Employee {event.employee_id} exists already ({existing.get_status_display()}): "
            "send a change event, or restore a leaver in the portal."
        )
    request = services.OnboardingRequest(
        first_name=event.first_name,
        last_name=event.last_name,
        role_templates=role_templates(tenant, event.role),
        start_date=event.start_date or clock.tenant_today(tenant),
        attributes={k: v for k, v in event.attributes.items() if v},
        employee_id=event.employee_id,
    )
    username = services.suggest_username(tenant, request)
    return lambda: services.request_onboarding(
        tenant, request, username=username, actor=ACTOR, http_request=http_request
    )


def role_templates(tenant: Tenant, names: list[str]) -> list[RoleTemplate]:
    """The tenant's templates of these names (any case), in the order given."""
    by_name = {t.name.casefold(): t for t in RoleTemplate.objects.filter(tenant=tenant)}
    unknown = [name for name in names if name.casefold() not in by_name]
    if unknown:
        known = ", ".join(sorted(t.name for t in by_name.values())) or "none yet"
        raise Unprocessable(f"Unknown role {', '.join(unknown)}; this tenant's roles: {known}.")
    return [by_name[name.casefold()] for name in names]


# -- change and terminate ---------------------------------------------------------------------


def _employee(tenant: Tenant, employee_id: str) -> Identity:
    identity = Identity.objects.filter(tenant=tenant, employee_id=employee_id).first()
    if identity is None:
        raise Unprocessable(f"No person with employee_id {employee_id} in this tenant.")
    if identity.status not in lifecycle.MANAGED:
        raise Unprocessable(
            f"Employee {employee_id} has left ({identity.get_status_display()}); "
            "a rehire is restored in the portal."
        )
    return identity


def _prepare_change(tenant: Tenant, event: Change, http_request) -> Action:
    identity = _employee(tenant, event.employee_id)
    if event.role is None:
        templates = list(identity.role_templates.all())
    else:
        templates = role_templates(tenant, event.role)
    attributes = identity.attributes | {k: v or "" for k, v in event.attributes.items()}
    change = lifecycle.ChangeRequest(role_templates=templates, attributes=attributes)
    at = None
    if event.effective_date and event.effective_date > clock.tenant_today(tenant):
        at = clock.start_of_day(tenant, event.effective_date)
    return lambda: lifecycle.request_change(
        identity, change, actor=ACTOR, at=at, http_request=http_request
    )


def leave_time(tenant: Tenant, event: Terminate) -> datetime | None:
    """When the leave runs: leave_at (the tenant's clock unless it has an offset), the end of
    end_date in the tenant's time zone, or now (None)."""
    if event.leave_at is not None:
        return clock.tenant_datetime(tenant, event.leave_at)
    if event.end_date is not None:
        return clock.tenant_datetime(tenant, datetime.combine(event.end_date, END_OF_DAY))
    return None


def _prepare_terminate(tenant: Tenant, event: Terminate, http_request) -> Action:
    identity = _employee(tenant, event.employee_id)
    at = leave_time(tenant, event)
    return lambda: offboard_in_batch(identity, at, event, http_request=http_request)


# -- the circuit breaker ----------------------------------------------------------------------


def offboard_in_batch(identity: Identity, at: datetime | None, event: Terminate, *, http_request):
    """A leave job in the tenant's webhook batch of the last hour; once that batch offboards
    more people than the tenant's limit, it is held, and so is every leave that joins it."""
    tenant = identity.tenant
    options = lifecycle.OffboardingOptions.preset_for(tenant)
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # one at a time
        batch = _open_batch(tenant, options)
        leavers = _leavers(batch) | {identity.pk}
        hold = batch.status == Batch.Status.HELD
        if not hold and lifecycle.would_hold(tenant, len(leavers)):
            _hold(batch, lifecycle.hold_reason(tenant, len(leavers)))
            hold = True
        job = lifecycle.request_offboarding(
            identity,
            options,
            actor=ACTOR,
            at=at,
            batch=batch,
            hold=hold,
            http_request=http_request,
        )
        line = batch.rows_total + 1
        BatchRow.objects.create(
            batch=batch,
            line=line,
            data={
                "employee_id": identity.employee_id,
                "event_id": event.id,
                "leave_at": at.isoformat() if at else "now",
            },
            identity=identity,
            job=job,
        )
        batch.rows_total = batch.rows_valid = line
        batch.save(update_fields=["rows_total", "rows_valid"])
    return job


def _open_batch(tenant: Tenant, options: lifecycle.OffboardingOptions) -> Batch:
    recent = (
        Batch.objects.filter(
            tenant=tenant,
            kind=Batch.Kind.WEBHOOK,
            created_at__gte=timezone.now() - BATCH_WINDOW,
        )
        .exclude(status=Batch.Status.CANCELLED)
        .order_by("-created_at", "-pk")
        .first()
    )
    if recent is not None:
        return recent
    return Batch.objects.create(
        tenant=tenant,
        kind=Batch.Kind.WEBHOOK,
        status=Batch.Status.STARTED,
        options={"offboard": options.as_dict()},
    )


def _leavers(batch: Batch) -> set[int]:
    jobs = batch.jobs.filter(kind=Job.Kind.LEAVE).exclude(status=Job.Status.CANCELLED)
    return set(jobs.values_list("identity_id", flat=True))


def _hold(batch: Batch, reason: str) -> None:
    """Hold the batch, and its leaves that wait for their time: nothing of it is sent
    until an MSP admin confirms."""
    lifecycle.hold_batch(batch, reason)
    waiting = list(batch.jobs.filter(status=Job.Status.SCHEDULED).values_list("pk", flat=True))
    Job.objects.filter(pk__in=waiting).update(status=Job.Status.HELD)
    record(
        "batch.hold",
        actor=ACTOR,
        tenant=batch.tenant,
        target=("batch", batch.pk, str(batch)),
        after={"reason": batch.hold_reason, "jobs_held": waiting},
    )
