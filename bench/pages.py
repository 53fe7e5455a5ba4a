"""Page latency at scale: the dashboard, a client report and the audit trail on PostgreSQL.

Starts what it needs: a PostgreSQL database of its own (created, migrated and filled with
`seed_scale --tenants 200 --identities 50000 --events 1000000` the first time, reused after:
the seed takes minutes), then renders each page in-process through Django's test client, as
the signed-in person would get it, and reports p50/p95 and the SQL queries per page.

    .venv/bin/python bench/pages.py [--repeat 30] [--fresh]

Last line: dashboard_p95_ms=<n> report_p95_ms=<n> audit_p95_ms=<n> audit_deep_p95_ms=<n>
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_PAGES_DB", "msp_portal_bench")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
SCALE = ["--tenants", "200", "--identities", "50000", "--events", "1000000"]


def psql(sql: str, database: str = "postgres") -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def manage(*args: str) -> None:
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True)  # noqa: S603


def prepare(fresh: bool) -> float:
    """The database, migrated and seeded; the seconds the seed took (0 when reused)."""
    if fresh:
        psql(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):  # noqa: S608
        psql(f'CREATE DATABASE "{DATABASE}"')
    manage("migrate", "--verbosity", "0")
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


def measure(client, url: str, repeat: int) -> tuple[list[float], int, float, int]:
    """Timings (ms), SQL queries and SQL time (ms) of one request, and the response size."""
    from django.db import connection

    for _ in range(3):  # warm caches and connections
        response = client.get(url)
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
        response = client.get(url)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, sql["queries"], sql["seconds"] * 1000, len(response.content)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="drop and seed the database again")
    args = parser.parse_args()
    seed_s = prepare(args.fresh)
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from portal.audit.models import AuditEvent

    print(f"database {DATABASE}: {AuditEvent.objects.count():,} audit events", end="")
    print(f" (seeded in {seed_s:.0f} s)" if seed_s else " (seed reused)")
    users = get_user_model().objects
    figures = {}
    print(f"{'page':<26}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'SQL ms':>9}{'KB':>8}")
    for name, username, url in pages():
        client = Client(SERVER_NAME="localhost")  # a host of the default ALLOWED_HOSTS
        client.force_login(users.get(username=username))
        timings, queries, sql_ms, size = measure(client, url, args.repeat)
        figures[name] = p95(timings)
        print(
            f"{name:<26}{statistics.median(timings):9.1f}{figures[name]:9.1f}"
            f"{queries:9d}{sql_ms:9.1f}{size / 1024:8.1f}"
        )
    print(
        f"dashboard_p95_ms={max(figures['dashboard'], figures['dashboard_technician']):.0f} "
        f"report_p95_ms={figures['report']:.0f} "
        f"audit_p95_ms={max(figures['audit'], figures['audit_filtered']):.0f} "
        f"audit_deep_p95_ms={max(figures['audit_deep'], figures['audit_filtered_deep']):.0f}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
