"""Measurement only (not collected: run it by naming the file, on PostgreSQL with REDIS_URL
set): PostgreSQL's CPU in warm Entra and Okta worker runs, on a worker's connection settings
(server-side binding, prepared statements). `test_backend_cpu`: PG_N runs of each vendor,
the backend's CPU (/proc/<pid>/schedstat) per run. `test_statement_stats`: the same runs
with `log_statement_stats` (each message's rusage, sent to the client as a LOG notice) and,
with PG_EXPLAIN=1, auto_explain's plans of every statement with their WAL, written under
PG_OUT. docs/benchmarks.md, pg19."""

import os
import re
from collections import defaultdict

import pytest
from django.db import connection, connections

from portal.audit.events import forget_known_heads
from portal.celery import keep_database_connections
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tenants.models import DirectoryConnection
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard


def _worker_connection(monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    database = connections.settings["default"]
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
        monkeypatch.setitem(database, key, database.get(key))
    keep_database_connections()
    connection.close()


def _warm(on_sandbox, slug, kinds):
    dirs = make_directories(
        on_sandbox,
        slug,
        kinds=kinds,
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    DirectoryConnection.objects.filter(tenant=dirs.tenant).update(
        rate_limit_per_s=10000, rate_burst=10000
    )
    for i in range(3):
        assert drive(onboard(dirs, f"Warm{i}", "Up")).status == Job.Status.SUCCEEDED
    return dirs


def _backend_cpu(pid):
    """The backend's CPU time in ms, at the scheduler's ns resolution (not /proc's ticks)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e6


def _pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _vendors(on_sandbox, monkeypatch):
    _worker_connection(monkeypatch)
    return {
        "entra": _warm(on_sandbox, "pgentra", ("entra",)),
        "okta": _warm(on_sandbox, "pgokta", ("okta",)),
    }


@pytest.mark.django_db(transaction=True)
def test_backend_cpu(on_sandbox, monkeypatch):
    vendors = _vendors(on_sandbox, monkeypatch)
    n = int(os.environ.get("PG_N", "30"))
    load = os.getloadavg()[0]
    for name, dirs in vendors.items():
        jobs = [onboard(dirs, f"B{i}", name.title()) for i in range(n)]
        pid = _pid()
        t0 = _backend_cpu(pid)
        for job in jobs:
            forget_known_heads()
            executor.execute(job.pk)
        total = _backend_cpu(pid) - t0
        assert _pid() == pid
        statuses = set(
            Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
        )
        print(f"\nPGCPU {name} {total / n:.2f} ms/run over {n} runs, statuses {statuses}")
    print(f"LOAD {load:.1f} -> {os.getloadavg()[0]:.1f}")


_USAGE = re.compile(r"([0-9.]+) s user, ([0-9.]+) s system")


@pytest.mark.django_db(transaction=True)
def test_statement_stats(on_sandbox, monkeypatch):
    vendors = _vendors(on_sandbox, monkeypatch)
    n = int(os.environ.get("PG_N", "10"))
    notes = []
    raw = connection.connection
    raw.add_notice_handler(lambda d: notes.append((d.message_primary, d.message_detail)))
    with connection.cursor() as cursor:
        if os.environ.get("PG_EXPLAIN"):
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET auto_explain.log_min_duration = 0")
            cursor.execute("SET auto_explain.log_analyze = on")
            cursor.execute("SET auto_explain.log_buffers = on")
            cursor.execute("SET auto_explain.log_nested_statements = on")
            cursor.execute("SET auto_explain.log_triggers = on")
            cursor.execute("SET auto_explain.log_wal = on")
        else:
            cursor.execute("SET log_statement_stats = on")
        cursor.execute("SET client_min_messages = log")
    for name, dirs in vendors.items():
        _stats(name, dirs, n, notes)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans, left(statement, 90) FROM pg_prepared_statements"
            " ORDER BY custom_plans DESC"
        )
        print("\nPREPARED generic custom statement")
        for generic, custom, text in cursor.fetchall():
            print(f"  {generic:4} {custom:4}  {text}")


def _stats(name, dirs, n, notes):
    jobs = [onboard(dirs, f"S{i}", name.title()) for i in range(n)]
    per = defaultdict(lambda: [0, 0.0])
    texts = []

    def attribute(sql, upto):
        spent = 0.0
        for primary, detail in notes[upto:]:
            texts.append((sql, primary, detail))
            m = _USAGE.search(detail or "")
            if m:
                spent += (float(m[1]) + float(m[2])) * 1000
        del notes[upto:]
        return spent

    def wrapper(execute, sql, params, many, context):
        attribute("(between: BEGIN/COMMIT)", 0)
        try:
            return execute(sql, params, many, context)
        finally:
            key = sql[:150]
            per[key][0] += 1
            per[key][1] += attribute(key, 0)

    notes.clear()
    with connection.execute_wrapper(wrapper):
        for job in jobs:
            forget_known_heads()
            executor.execute(job.pk)
    key = "(between: BEGIN/COMMIT)"
    per[key][0] += 1
    per[key][1] += attribute(key, 0)
    # between-notices were attributed without counting their time: recount them
    between = sum(
        (float(m[1]) + float(m[2])) * 1000
        for sql, primary, detail in texts
        if sql.startswith("(between") and (m := _USAGE.search(detail or ""))
    )
    per[key][1] = between
    kind = "explain" if os.environ.get("PG_EXPLAIN") else "stats"
    out = f"{os.environ.get('PG_OUT', '/tmp')}/{name}_{kind}.txt"
    with open(out, "w") as f:
        for sql, primary, detail in texts:
            f.write(f"=== {sql}\n--- {primary}\n{detail}\n")
    total = sum(v[1] for v in per.values())
    print(f"\n{name}: {total / n:.3f} ms/run by the LOG rusage; per statement shape:")
    for k, (count, ms) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"  {ms / n:7.3f} ms/run {count / n:5.1f}x  {k}")
