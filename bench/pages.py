"""Page latency at scale: the dashboard, a client report, the audit trail and the People
page on PostgreSQL.

Starts what it needs: a PostgreSQL database of its own (created, migrated and filled with
`seed_scale --tenants 200 --identities 50000 --events 1000000` the first time, reused after:
the seed takes minutes), plus one tenant with 50,000 directory accounts (an Entra and an
Okta connection, matched into people by `inventory.matching.rematch`, whose time is
reported), then renders each page in-process through Django's test client, as the signed-in
person would get it, and reports p50/p95, the CPU milliseconds per page (this process's:
the view, the templates, the driver; and the PostgreSQL backend's serving it, from /proc),
the SQL queries per page and the machine's busy cores and load average (`_harness.CpuMeter`).

    .venv/bin/python bench/pages.py [--repeat 30] [--fresh] [--only people]

Last line: dashboard_p95_ms=<n> report_p95_ms=<n> audit_p95_ms=<n> audit_deep_p95_ms=<n>
people_p95_ms=<n> people_deep_p95_ms=<n> cpu_ms_per_page=<ms> render_cpu_ms_per_page=<ms>
pg_cpu_ms_per_page=<ms> max_cpu_ms_per_page=<ms> loadavg_start=<1m>,<5m>,<15m>
loadavg=<1m>,<5m>,<15m> busy_cores=<n>
(CPU per page: the mean over the pages measured, render + backend; the max: the costliest
page; the load over the whole measurement)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not bench/onboard.py's: that one is dropped and created by every run.
DATABASE = os.environ.get("BENCH_PAGES_DB", "msp_portal_bench_pages")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
SCALE = ["--tenants", "200", "--identities", "50000", "--events", "1000000"]
# The People page's tenant: 40,000 Entra and 10,000 Okta accounts, 8,000 of them the same
# people in both (42,000 people), 1,000 of them managed.
PEOPLE_SLUG = "bench-people"
ENTRA_ONLY, BOTH, OKTA_ONLY, MANAGED = 32_000, 8_000, 2_000, 1_000
FIRST = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
FIRST += ["Mia", "Nils", "Omar", "Pia", "Quin", "Rosa", "Sami", "Tove", "Uma", "Vik", "Wen"]
LAST = ["Ng", "Okoro", "Patel", "Quinn", "Rossi", "Sato", "Tran", "Ueda", "Vega", "Wolff"]
LAST += ["Abara", "Berg", "Costa", "Dahl", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen"]
DEPARTMENTS = ["Sales", "Finance", "Engineering", "Support", "Operations", "Legal", "HR"]


def psql(sql: str, database: str = "postgres") -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def manage(*args: str) -> None:
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True)  # noqa: S603


def prepare(fresh: bool, scale: bool = True) -> float:
    """The database, migrated and seeded; the seconds the seed took (0 when reused)."""
    if fresh:
        psql(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):  # noqa: S608
        psql(f'CREATE DATABASE "{DATABASE}"')
    manage("migrate", "--verbosity", "0")
    if not scale:
        return 0.0
    seeded = psql("SELECT count(*) FROM tenants_tenant WHERE slug LIKE 'scale-%'", DATABASE)
    if int(seeded or 0):
        return 0.0
    started = time.monotonic()
    manage("seed_scale", *SCALE)
    psql("VACUUM ANALYZE", DATABASE)
    return time.monotonic() - started


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


# --- the People page's tenant ----------------------------------------------------------------


def seed_people() -> None:
    """The People page's tenant, made once (reused after): accounts written straight into the
    inventory's table, as a read would leave them, then matched into people by rematch,
    whose times (first match, nothing changed, 100 accounts changed) are printed."""
    from django.db import connection

    from tenants.models import Tenant

    if Tenant.objects.filter(slug=PEOPLE_SLUG).exists():
        print(f"{PEOPLE_SLUG}: reused")
        return
    started = time.monotonic()
    tenant = _people_tenant()
    _people_accounts(tenant, random.Random(14))  # noqa: S311 - bench data
    made = time.monotonic() - started
    print(f"{PEOPLE_SLUG}: {ENTRA_ONLY + 2 * BOTH + OKTA_ONLY:,} accounts written in {made:.1f} s")
    time_rematch(tenant)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the planner needs statistics of the new rows
            cursor.execute("ANALYZE inventory_account, inventory_person")


def _people_tenant():
    import uuid

    from tenants.models import DirectoryConnection, Tenant
    from tenants.staff import save_person

    tenant = Tenant.objects.create(
        name="Bench People", slug=PEOPLE_SLUG, primary_domain="people.bench.example"
    )
    entra = DirectoryConnection(
        tenant=tenant, kind="entra", directory_id=str(uuid.uuid4()), client_id=str(uuid.uuid4())
    )
    okta = DirectoryConnection(tenant=tenant, kind="okta", org_url="https://people.okta.example")
    for connection in (entra, okta):
        connection.set_secret("bench-people-secret")
        connection.save()
    for username, role in [
        ("bench-people-tech", "technician"),
        ("bench-people-ca", "client_admin"),
    ]:
        save_person(
            {
                "username": username,
                "first_name": "Bench",
                "last_name": role.title(),
                "email": f"{username}@msp.example",
                "role": role,
                "all_tenants": False,
                "tenants": [tenant],
                "password": "scale-pass-2026",
                "is_active": True,
            },
            actor="system",
        )
    return tenant


def _people_accounts(tenant, rng: random.Random) -> None:
    """Accounts in both directories, and the managed identities with their links."""
    from django.db import transaction
    from django.utils import timezone

    from provisioning.inventory.models import Account
    from provisioning.models import DirectoryAccount, Identity

    entra, okta = tenant.connections.get(kind="entra"), tenant.connections.get(kind="okta")
    now, rows, identities, links = timezone.now(), [], [], []
    groups = [f"group-{n}" for n in range(40)]
    for n in range(ENTRA_ONLY + BOTH + OKTA_ONLY):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first}.{last}.{n}@{tenant.primary_domain}".lower()
        service = rng.random() < 0.01
        if service:
            username = f"svc-{username}"
        common = {
            "tenant": tenant,
            "username": username,
            "mail": username,
            "employee_id": f"E{n:06d}",
            "display_name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "department": rng.choice(DEPARTMENTS),
            "first_seen": now - timedelta(days=rng.randint(30, 900)),
        }
        guest = rng.random() < 0.03
        for connection, present in ((entra, n < ENTRA_ONLY + BOTH), (okta, n >= ENTRA_ONLY)):
            if not present:
                continue
            signed_in = rng.random() < 0.85
            rows.append(
                Account(
                    connection=connection,
                    remote_id=f"{connection.kind}-{n}",
                    enabled=rng.random() < 0.93,
                    user_type=("Guest" if guest else "Member") if connection == entra else "",
                    licence_ids=["sku-e3"] if connection == entra and rng.random() < 0.7 else [],
                    group_ids=rng.sample(groups, rng.randint(0, 3)),
                    last_sign_in=now - timedelta(days=rng.randint(0, 400)) if signed_in else None,
                    in_scope=not (service or guest),
                    scope_reason="Matches an excluded pattern" if service else "",
                    **common,
                )
            )
        if n < MANAGED:
            identities.append(
                Identity(
                    tenant=tenant,
                    first_name=first,
                    last_name=last,
                    display_name=f"{first} {last}",
                    username=username,
                    email=username,
                    employee_id=f"E{n:06d}",
                    status="active",
                )
            )
            links.append(f"entra-{n}")
    with transaction.atomic():
        Account.objects.bulk_create(rows, batch_size=500)
        made = Identity.objects.bulk_create(identities, batch_size=500)
        DirectoryAccount.objects.bulk_create(
            DirectoryAccount(identity=identity, connection=entra, remote_id=remote_id)
            for identity, remote_id in zip(made, links, strict=True)
        )


def time_rematch(tenant) -> None:
    """rematch at 50,000 accounts: the first match, again with nothing changed, and after
    100 accounts changed (as an incremental read would leave them)."""
    from django.db import connection

    from provisioning.inventory import matching
    from provisioning.inventory.models import Account, Person

    def timed(label: str) -> None:
        queries = []
        started, cpu = time.monotonic(), os.times()
        with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
            matching.rematch(tenant)
        spent = os.times()
        cpu_s = spent.user + spent.system - cpu.user - cpu.system
        print(
            f"rematch {label}: {time.monotonic() - started:.2f} s, {len(queries)} queries, "
            f"{cpu_s:.2f} s CPU here, {Person.objects.filter(tenant=tenant).count():,} people"
        )

    timed("first (50,000 accounts, no people yet)")
    timed("nothing changed")
    changed = list(Account.objects.filter(tenant=tenant).order_by("?")[:100])
    for account in changed:
        account.display_name += " Jr"
        account.enabled = not account.enabled
    Account.objects.bulk_update(changed, ["display_name", "enabled"])
    timed("100 accounts changed")


class Figures(NamedTuple):
    timings: list[float]  # ms per request
    queries: int
    sql_ms: float
    size: int  # bytes
    cpu_ms: float  # this process's CPU per request (Django, templates, the driver)
    pg_cpu_ms: float  # the CPU per request of the PostgreSQL backend serving this process


def measure(client, url: str, repeat: int, headers: dict | None = None) -> Figures:
    """Timings, SQL queries and time, CPU here and in PostgreSQL, of one request."""
    from django.db import connection

    from bench._harness import CpuMeter, backend_cpu, self_cpu_seconds

    headers = headers or {}
    for _ in range(3):  # warm caches and connections
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    sql = {"queries": 0, "seconds": 0.0}

    def count(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql["queries"] += 1
            sql["seconds"] += time.perf_counter() - started

    with connection.execute_wrapper(count):
        response = client.get(url, headers=headers)
    timings = []
    meter = CpuMeter(render=self_cpu_seconds, postgres=backend_cpu())
    with meter.measure() as spans:
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
    (span,) = spans
    return Figures(
        timings,
        sql["queries"],
        sql["seconds"] * 1000,
        len(response.content),
        span.ms_per(repeat, "render"),
        span.ms_per(repeat, "postgres"),
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def pages() -> list[tuple[str, str, str]]:
    """(name, username, url) of each measured page; deep pages start 500 pages in."""
    from portal.audit.models import AuditEvent
    from reports.audit_queries import PAGE_SIZE, Cursor

    def deep(events, label: str) -> str:
        row = events.order_by("-timestamp", "-id")[500 * PAGE_SIZE]
        print(f"{label}: cursor at row {500 * PAGE_SIZE:,} ({row.timestamp:%Y-%m-%d})")
        return Cursor.at(row).token

    biggest = "scale-001"  # the seed gives the first tenants the most events
    from tenants.models import Tenant

    tenant_id = Tenant.objects.get(slug=biggest).pk
    filtered = f"tenant={biggest}&result=success"
    filtered_events = AuditEvent.objects.filter(tenant_id=tenant_id, result="success")
    return [
        ("dashboard", "scale-admin", "/"),
        ("dashboard_technician", "scale-tech", "/"),
        ("report", "scale-am", f"/reports/{biggest}/?period=last_quarter"),
        ("audit", "scale-admin", "/audit/"),
        ("audit_filtered", "scale-admin", f"/audit/?{filtered}"),
        ("audit_text_search", "scale-admin", f"/audit/?tenant={biggest}&q=Okoro"),
        ("audit_deep", "scale-admin", f"/audit/?before={deep(AuditEvent.objects, 'all')}"),
        (
            "audit_filtered_deep",
            "scale-admin",
            f"/audit/?{filtered}&before={deep(filtered_events, 'filtered')}",
        ),
    ]


def people_pages() -> list[tuple[str, str, str]]:
    """The People page of the 50,000-account tenant: first page, searches, filters, deep."""
    from provisioning.inventory.models import Person
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=PEOPLE_SLUG)
    url = f"/tenants/{PEOPLE_SLUG}/people/"
    people = Person.objects.filter(tenant=tenant).order_by("sort_name", "id")
    deep = people.values_list("pk", flat=True)[500 * 50]
    filtered = "status=enabled&licensed=yes&idle=90"
    deep_filtered = people.filter(enabled=True, licensed=True).values_list("pk", flat=True)[5000]
    okta = tenant.connections.get(kind="okta").pk
    tech, admin = "bench-people-tech", "bench-people-ca"
    print(f"people: {people.count():,}; deep cursor at row {500 * 50:,}")
    return [
        ("people", tech, url),
        ("people_client_admin", admin, url),
        ("people_search", tech, f"{url}?q=okoro"),
        ("people_search_rare", tech, f"{url}?q=e041999"),  # one person: every row is read
        ("people_managed", tech, f"{url}?who=managed"),
        ("people_filtered", tech, f"{url}?{filtered}"),
        ("people_out_of_scope", tech, f"{url}?scope=out"),
        ("people_directory", tech, f"{url}?directory={okta}"),
        ("people_deep", tech, f"{url}?after={deep}"),
        ("people_filtered_deep", tech, f"{url}?{filtered}&after={deep_filtered}"),
        ("people_previous", tech, f"{url}?before={deep}"),
        # What typing in the search box and the page links ask for: the rows only.
        ("people_search_htmx", tech, f"{url}?q=okoro"),
        ("people_deep_htmx", tech, f"{url}?after={deep}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="drop and seed the database again")
    parser.add_argument("--only", choices=["all", "people"], default="all")
    args = parser.parse_args()
    everything = args.only == "all"
    seed_s = prepare(args.fresh, scale=everything)
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench._harness import CpuMeter
    from portal.audit.models import AuditEvent

    print(f"database {DATABASE}: {AuditEvent.objects.count():,} audit events", end="")
    print(f" (seeded in {seed_s:.0f} s)" if seed_s else " (seed reused)")
    seed_people()
    users = get_user_model().objects
    figures, cpu = {}, {}
    print(
        f"{'page':<26}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}{'PG ms':>8}"
        f"{'queries':>9}{'SQL ms':>9}{'KB':>8}"
    )
    machine = CpuMeter()
    start = machine.sample()
    for name, username, url in (pages() if everything else []) + people_pages():
        client = Client(SERVER_NAME="localhost")  # a host of the default ALLOWED_HOSTS
        client.force_login(users.get(username=username))
        htmx = {"HX-Request": "true"} if name.endswith("_htmx") else None
        measured = measure(client, url, args.repeat, htmx)
        figures[name] = p95(measured.timings)
        cpu[name] = (measured.cpu_ms, measured.pg_cpu_ms)
        print(
            f"{name:<26}{statistics.median(measured.timings):9.1f}{figures[name]:9.1f}"
            f"{measured.cpu_ms:9.1f}{measured.pg_cpu_ms:8.1f}{measured.queries:9d}"
            f"{measured.sql_ms:9.1f}{measured.size / 1024:8.1f}"
        )
    span = machine.span(start, machine.sample())
    print(f"(CPU ms: this process per request; PG ms: its PostgreSQL backend's) {span.machine()}")
    people = [v for k, v in figures.items() if k.startswith("people") and "deep" not in k]
    deep = [v for k, v in figures.items() if k.startswith("people") and "deep" in k]
    line = (
        (
            f"dashboard_p95_ms={max(figures['dashboard'], figures['dashboard_technician']):.0f} "
            f"report_p95_ms={figures['report']:.0f} "
            f"audit_p95_ms={max(figures['audit'], figures['audit_filtered']):.0f} "
            f"audit_deep_p95_ms={max(figures['audit_deep'], figures['audit_filtered_deep']):.0f} "
        )
        if everything
        else ""
    )
    render = statistics.mean(c for c, _ in cpu.values())
    backend = statistics.mean(pg for _, pg in cpu.values())
    print(
        f"{line}people_p95_ms={max(people):.0f} people_deep_p95_ms={max(deep):.0f} "
        f"cpu_ms_per_page={render + backend:.1f} render_cpu_ms_per_page={render:.1f} "
        f"pg_cpu_ms_per_page={backend:.1f} "
        f"max_cpu_ms_per_page={max(c + pg for c, pg in cpu.values()):.1f} {span.keys()}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
