"""An HR event becomes the same service call a technician's form makes.

`prepare` does the checks and the slow part (the hire's username asks the directories)
outside any transaction and returns the action; the caller runs that action inside the
transaction that also records the event, so that the event and its job commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from provisioning import name_bounds, services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from provisioning.webhook.schema import Change, Event, Hire, Terminate
from tenants import clock, naming
from tenants.models import RoleTemplate, Tenant

ACTOR = "webhook"
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
    kinds = name_bounds.directory_kinds(tenant)
    bound = name_bounds.longest_name(kinds)
    for key in ("first_name", "last_name"):
        if problem := name_bounds.name_too_long(getattr(event, key), bound):
            raise Unprocessable(f"{key}: {problem}")
    request = services.OnboardingRequest(
        first_name=event.first_name,
        last_name=event.last_name,
        role_templates=role_templates(tenant, event.role),
        start_date=event.start_date or clock.tenant_today(tenant),
        attributes={k: v for k, v in event.attributes.items() if v},
        employee_id=event.employee_id,
    )
    try:
        username = services.suggest_username(tenant, request)
    except naming.NamingRuleError as exc:
        raise Unprocessable(f"username: {exc}") from None
    if problem := name_bounds.username_too_long(username, kinds):
        raise Unprocessable(f"username {username}: {problem}")
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
    templates = None if event.role is None else role_templates(tenant, event.role)
    at = None
    if event.effective_date and event.effective_date > clock.tenant_today(tenant):
        at = clock.start_of_day(tenant, event.effective_date)

    def change() -> Job:
        # The event names only what changed: the rest is the person's as they are under
        # the lock, in the caller's transaction, not as read above. A change of theirs sent
        # at the same moment that committed since keeps its roles and attributes.
        person = Identity.objects.select_for_update().get(pk=identity.pk)
        request = lifecycle.ChangeRequest(
            role_templates=list(person.role_templates.all()) if templates is None else templates,
            attributes=person.attributes | {k: v or "" for k, v in event.attributes.items()},
            named=[*(["role_templates"] if templates is not None else []), *event.attributes],
        )
        return lifecycle.request_change(
            person, request, actor=ACTOR, at=at, http_request=http_request
        )

    return change


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

    def leave() -> Job:
        try:
            return lifecycle.offboard_in_window(
                identity,
                lifecycle.OffboardingOptions.preset_for(tenant),
                kind=Batch.Kind.WEBHOOK,
                actor=ACTOR,
                at=at,
                row={"employee_id": identity.employee_id, "event_id": event.id},
                http_request=http_request,
            )
        except lifecycle.HasLeft:  # their running leave ended since the check above
            raise Unprocessable(
                f"Employee {event.employee_id} has left; a rehire is restored in the portal."
            ) from None

    return leave
