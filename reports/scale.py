"""Scale data for benchmarks: many tenants, people, jobs, requests and a million audit events.

Rows go in with bulk inserts and, for the two big tables on PostgreSQL, COPY. The audit
events form real chains (sequence, previous hash, hash; heads set) so `verify_audit` passes
on them. Everything made here is marked: tenant slugs start with "scale-".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from portal.audit.bulk import append_events, history_event
from portal.audit.models import AuditEvent
from provisioning.models import (
    AccessRequest,
    Identity,
    Job,
    RequestableResource,
    Step,
)
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

PREFIX = "scale-"
FIRST = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
LAST = ["Ng", "Okoro", "Patel", "Quinn", "Rossi", "Sato", "Tran", "Ueda", "Vega", "Wolff"]
ROLES = ["Sales", "Support", "Engineering", "Finance"]
TAGS = ["gold", "silver", "bronze", "okta", "microsoft-365", "hybrid"]
ACTIONS = [
    ("directory.add_group", "success"),
    ("directory.assign_license", "success"),
    ("directory.create_user", "success"),
    ("job.plan", "success"),
    ("job.finish", "success"),
    ("identity.onboard", "success"),
    ("identity.offboard", "success"),
    ("directory.remove_group", "success"),
    ("directory.add_group", "failure"),
    ("access.approve", "success"),
]


@dataclass
class Figures:
    tenants: int = 0
    identities: int = 0
    jobs: int = 0
    steps: int = 0
    requests: int = 0
    events: int = 0


def seed(tenants: int, identities: int, events: int, days: int = 400, log=print) -> Figures:
    rng = random.Random(2026)
    now = timezone.now()
    figures = Figures()
    made = _tenants(tenants, rng)
    figures.tenants = len(made)
    log(f"tenants: {len(made)}")
    people = _identities(made, identities, rng, now)
    figures.identities = len(people)
    log(f"identities: {len(people)}")
    figures.jobs, figures.steps = _jobs(people, rng, now)
    log(f"jobs: {figures.jobs}, steps: {figures.steps}")
    figures.requests = _requests(made, people, rng, now)
    log(f"access requests: {figures.requests}")
    figures.events = _events(made, events, rng, now, days, log)
    log(f"audit events: {figures.events}")
    return figures


def _tenants(count: int, rng: random.Random) -> list[Tenant]:
    rows = [
        Tenant(
            name=f"Scale Client {n:03d}",
            slug=f"{PREFIX}{n:03d}",
            primary_domain=f"client{n:03d}.scale.example",
            tags=rng.sample(TAGS, 2),
            time_zone=rng.choice(["Europe/London", "America/New_York", "Europe/Berlin"]),
        )
        for n in range(1, count + 1)
    ]
    made = Tenant.objects.bulk_create(rows)
    if connection.vendor != "postgresql":  # SQLite gives no ids back on older versions
        made = list(Tenant.objects.filter(slug__startswith=PREFIX).order_by("slug"))
    connections = []
    for tenant in made:
        connection_row = DirectoryConnection(
            tenant=tenant,
            kind="entra",
            directory_id=f"00000000-0000-4000-8000-{tenant.pk:012d}",
            client_id=f"10000000-0000-4000-8000-{tenant.pk:012d}",
            secret_expires_on=(timezone.now() + timedelta(days=rng.randint(-5, 400))).date(),
        )
        connection_row.set_secret(f"scale-secret-{tenant.pk}")
        connections.append(connection_row)
    DirectoryConnection.objects.bulk_create(connections)
    RoleTemplate.objects.bulk_create(
        RoleTemplate(tenant=t, name=role, groups=["All Staff", role], department=role)
        for t in made
        for role in ROLES
    )
    return made


def _identities(tenants, count: int, rng, now) -> list[Identity]:
    weights = [1 / (i + 1) ** 0.5 for i in range(len(tenants))]  # a few big clients
    statuses = ["active"] * 8 + ["left", "joiner"]
    rows = []
    for n in range(count):
        tenant = rng.choices(tenants, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first}.{last}.{n}@{tenant.primary_domain}".lower()
        rows.append(
            Identity(
                tenant=tenant,
                first_name=first,
                last_name=last,
                display_name=f"{first} {last}",
                username=username,
                email=username,
                status=rng.choice(statuses),
                start_date=(now - timedelta(days=rng.randint(0, 700))).date(),
            )
        )
    return _insert(Identity, rows, 5000)


def _insert(model, rows: list, batch: int) -> list:
    made = []
    with transaction.atomic():
        for start in range(0, len(rows), batch):
            made += model.objects.bulk_create(rows[start : start + batch])
    return made


def _jobs(people, rng, now) -> tuple[int, int]:
    kinds = [Job.Kind.JOIN] * 5 + [Job.Kind.CHANGE] * 2 + [Job.Kind.LEAVE] * 2 + [Job.Kind.RETRY]
    statuses = [Job.Status.SUCCEEDED] * 18 + [Job.Status.FAILED, Job.Status.PARTIAL]
    jobs = []
    for identity in people:
        for _ in range(rng.choice([1, 1, 2])):
            created = now - timedelta(minutes=rng.randint(0, 200 * 24 * 60))
            status = rng.choice(statuses)
            jobs.append(
                Job(
                    tenant_id=identity.tenant_id,
                    identity=identity,
                    kind=rng.choice(kinds),
                    status=status,
                    planned=True,
                    steps_total=3,
                    steps_done=3 if status == Job.Status.SUCCEEDED else 2,
                    steps_failed=0 if status == Job.Status.SUCCEEDED else 1,
                    runs=rng.choice([1, 1, 1, 2]),
                    created_at=created,
                    started_at=created + timedelta(seconds=1),
                    finished_at=created + timedelta(seconds=rng.uniform(2, 90)),
                )
            )
    jobs = _insert(Job, jobs, 5000)
    connection_of = dict(DirectoryConnection.objects.values_list("tenant_id", "pk"))
    actions = ["create_user", "assign_license", "add_group"]
    steps = [
        Step(
            job=job,
            connection_id=connection_of[job.tenant_id],
            order=order,
            action=action,
            target_name=action.replace("_", " "),
            status=Step.Status.FAILED
            if order == 3 and job.status != Job.Status.SUCCEEDED
            else Step.Status.SUCCEEDED,
        )
        for job in jobs
        for order, action in enumerate(actions, start=1)
    ]
    _insert(Step, steps, 10000)
    return len(jobs), len(steps)


def _requests(tenants, people, rng, now) -> int:
    resources = RequestableResource.objects.bulk_create(
        RequestableResource(
            tenant=t,
            connection=t.connections.first(),
            kind="group",
            remote_id=f"vpn-{t.pk}",
            name="VPN Users",
        )
        for t in tenants
    )
    by_tenant = {r.tenant_id: r for r in resources}
    statuses = list(AccessRequest.Status.values)
    rows = [
        AccessRequest(
            tenant_id=p.tenant_id,
            identity=p,
            resource=by_tenant[p.tenant_id],
            status=rng.choice(statuses),
            reason="Project work",
            created_at=now - timedelta(minutes=rng.randint(0, 200 * 24 * 60)),
        )
        for p in rng.sample(people, min(len(people), 10000))
    ]
    return len(_insert(AccessRequest, rows, 5000))


def _events(tenants, total: int, rng, now: datetime, days: int, log) -> int:
    """`total` events spread over the tenants' chains, each chain in time order."""
    weights = [1 / (i + 1) ** 0.5 for i in range(len(tenants))]
    counts = dict.fromkeys(range(len(tenants)), 0)
    for index in rng.choices(range(len(tenants)), weights, k=total):
        counts[index] += 1
    written = 0
    for index, count in counts.items():
        tenant = tenants[index]
        span = days * 86400
        moments = sorted(now - timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
        events = []
        for moment in moments:
            action, result = rng.choice(ACTIONS)
            n = rng.randint(1, 99999)
            events.append(
                history_event(
                    action,
                    timestamp=moment,
                    actor="system",
                    tenant=tenant,
                    target=("identity", n, f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}"),
                    after={"step": action.split(".")[-1], "n": n},
                    result=result,
                    job_id=n,
                )
            )
        written += append_events(
            events, insert=_copy if connection.vendor == "postgresql" else None
        )
        if index % 20 == 0:
            log(f"  events: {written}")
    return written


# Every column but the id, so a new hashed field (key_id, client_request_id) is never left out.
COPIED = [f.column for f in AuditEvent._meta.concrete_fields if not f.primary_key]


def _copy(events: list[AuditEvent]) -> None:
    """COPY for speed: the events come sealed (keyed hashes) from append_events."""
    import json

    table = AuditEvent._meta.db_table
    columns = ", ".join(COPIED)
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for event in events:
            row = [getattr(event, name) for name in COPIED]
            row[COPIED.index("before")] = _json(event.before, json)
            row[COPIED.index("after")] = _json(event.after, json)
            copy.write_row(row)


def _json(value, json):
    return None if value is None else json.dumps(value)
