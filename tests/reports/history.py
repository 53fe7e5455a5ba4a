"""Builders of past jobs, steps and access requests with chosen times, for report tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from provisioning.models import AccessRequest, Identity, Job, RequestableResource, Step

LONDON = ZoneInfo("Europe/London")


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in Europe/London (the test tenants' time zone), e.g. at("2026-01-05", 10)."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=LONDON)


def person(world, first: str, last: str, status: str = "active") -> Identity:
    slug = world.tenant.slug
    return Identity.objects.create(
        tenant=world.tenant,
        first_name=first,
        last_name=last,
        display_name=f"{first} {last}",
        username=f"{first}.{last}@{slug}.test".lower(),
        email=f"{first}.{last}@{slug}.test".lower(),
        status=status,
    )


def job(
    world,
    who: Identity | None,
    kind: str,
    *,
    created: datetime,
    hours: float,
    status: str = "succeeded",
    runs: int = 1,
    not_before: datetime | None = None,
    options: dict | None = None,
    steps: list[tuple[str, str, str]] = (),
) -> Job:
    """A finished job: done `hours` after it was created (or after `not_before`), with steps
    given as (action, target, status)."""
    start = not_before or created
    finished = start + timedelta(hours=hours)
    made = Job.objects.create(
        tenant=world.tenant,
        identity=who,
        kind=kind,
        status=status,
        created_at=created,
        not_before=not_before,
        started_at=start,
        finished_at=finished,
        runs=runs,
        options=options or {},
        planned=True,
        steps_total=len(steps),
        steps_done=sum(1 for s in steps if s[2] == "succeeded"),
        steps_failed=sum(1 for s in steps if s[2] == "failed"),
    )
    for order, (action, target, state) in enumerate(steps, start=1):
        Step.objects.create(
            job=made,
            connection=world.connection,
            order=order,
            action=action,
            target_name=target,
            status=state,
            attempts=1,
            last_error="No available licences for SPE_E3." if state == "failed" else "",
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
        )
    return made


def resource(world, name: str = "VPN Users") -> RequestableResource:
    found, _ = RequestableResource.objects.get_or_create(
        tenant=world.tenant,
        connection=world.connection,
        kind="group",
        remote_id=f"group-{name}",
        defaults={"name": name},
    )
    return found


def access_request(
    world,
    who: Identity,
    status: str,
    *,
    created: datetime,
    decided_hours: float | None = None,
    granted_hours: float | None = None,
    decider=None,
) -> AccessRequest:
    """A request decided `decided_hours` after it was made; a granted one's grant job ends
    `granted_hours` after the request."""
    grant = None
    if granted_hours is not None:
        grant = job(world, who, "grant", created=created, hours=granted_hours)
    return AccessRequest.objects.create(
        tenant=world.tenant,
        identity=who,
        resource=resource(world),
        status=status,
        reason="for the report",
        requested_by=world.technician,
        decided_by=decider,
        decided_at=None if decided_hours is None else created + timedelta(hours=decided_hours),
        grant_job=grant,
        created_at=created,
    )


def bare_world(slug: str, name: str):
    """A tenant with an Entra connection and one failed joiner, but no people of its own:
    cheap enough to make twenty (passwords are slow to hash on purpose)."""
    from types import SimpleNamespace

    from tenants.models import DirectoryConnection, RoleTemplate, Tenant
    from tests.factories import make_joiner

    tenant = Tenant.objects.create(name=name, slug=slug, primary_domain=f"{slug}.test")
    connection = DirectoryConnection.objects.create(
        tenant=tenant, kind="entra", directory_id=slug, client_id="x"
    )
    template = RoleTemplate.objects.create(tenant=tenant, name="Staff")
    world = SimpleNamespace(tenant=tenant, connection=connection, template=template)
    world.identity, world.job = make_joiner(world)
    return world
