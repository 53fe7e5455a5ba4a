"""Measurement only (not collected by the suite: pytest collects test_*.py; run it by naming
the file, on PostgreSQL with REDIS_URL set, `PROFILE_N` runs): the CPU of a warm onboarding's
worker run in this process's main thread (the connectors' event loop is another thread).
`test_profile`: two warm-ups, PROFILE_N runs unprofiled (process CPU, all threads, and this
thread's CPU, the Django side), then PROFILE_N under cProfile timed by thread CPU
(PROFILE_PRINT=1 prints it; PROFILE_OUT names the dump). PROFILE_WORKER=1 runs them on a
worker's connection settings (`portal.celery.keep_database_connections`: on PostgreSQL
server-side binding and prepared statements, as the workers have since pgprepare1).
`test_split`: PROFILE_N runs unprofiled, the thread CPU inside each function of SPLIT summed
per run (outermost call only), which cProfile's per-call overhead cannot distort.
docs/benchmarks.md, `cpuengine3`, `cpuengine6`."""

import cProfile
import os
import pstats
import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.events import forget_known_heads
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tenants.models import DirectoryConnection
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard, statements


def warmed_up(on_sandbox, monkeypatch, slug: str):
    """A tenant of 5 groups and an app, unpaced (the runs follow each other faster than the
    test's 20 calls/s would allow), after two onboardings that warm the worker's caches."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    if os.environ.get("PROFILE_WORKER"):
        from django.db import connections

        from portal.celery import keep_database_connections

        database = connections.settings["default"]
        for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
            monkeypatch.setitem(database, key, database.get(key))
        keep_database_connections()
        connection.close()  # the next connect reads the worker's settings
    dirs = make_directories(
        on_sandbox,
        slug,
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    DirectoryConnection.objects.filter(tenant=dirs.tenant).update(
        rate_limit_per_s=10000, rate_burst=10000
    )
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    assert drive(onboard(dirs, "Warm", "Again")).status == Job.Status.SUCCEEDED
    return dirs


@pytest.mark.django_db(transaction=True)
def test_profile(on_sandbox, monkeypatch):
    dirs = warmed_up(on_sandbox, monkeypatch, "prof")
    n = int(os.environ.get("PROFILE_N", "8"))
    print("\nLOAD", os.getloadavg())
    plain = [onboard(dirs, f"C{i}", "Cpu") for i in range(n)]
    proc, mine, sql = [], [], []
    for job in plain:
        forget_known_heads()
        p0, t0 = time.process_time(), time.thread_time()
        with CaptureQueriesContext(connection) as run:
            executor.execute(job.pk)
        proc.append((time.process_time() - p0) * 1000)
        mine.append((time.thread_time() - t0) * 1000)
        sql.append(len(statements(run)))
    print("STATUSES", {j.status for j in Job.objects.filter(pk__in=[j.pk for j in plain])})
    print(
        f"CPU per warm onboarding (unprofiled, {n} runs): process median "
        f"{statistics.median(proc):.1f} ms mean {statistics.mean(proc):.1f} min {min(proc):.1f}; "
        f"main thread median {statistics.median(mine):.1f} ms mean {statistics.mean(mine):.1f} "
        f"min {min(mine):.1f}; "
        f"statements {sorted(set(sql))}"
    )
    jobs = [onboard(dirs, f"P{i}", "Prof") for i in range(n)]
    profile = cProfile.Profile(time.thread_time)  # CPU time, this thread
    for job in jobs:
        forget_known_heads()
        profile.enable()
        executor.execute(job.pk)
        profile.disable()
    print("LOAD", os.getloadavg())
    stats = pstats.Stats(profile)
    if os.environ.get("PROFILE_PRINT"):
        stats.sort_stats("tottime").print_stats(60)
        stats.sort_stats("cumulative").print_stats(80)
    stats.dump_stats(os.environ.get("PROFILE_OUT", "/tmp/measure_profile.prof"))
    if os.environ.get("PROFILE_PRINT"):
        stats.sort_stats("cumulative").print_stats(os.getcwd(), 120)
    print("PROFILED thread CPU per run", f"{stats.total_tt / n * 1000:.1f} ms")
    from portal.audit import events

    print("AUDIT SHAPES", {k: v is not None for k, v in getattr(events, "_shapes", {}).items()})
    print(f"RUN CALLS {stats.total_calls / n:.0f} per run")


# Unprofiled split: thread CPU inside each target (outermost call only), per run.
SPLIT = [
    ("django.db.backends.utils", "CursorWrapper", "_execute_with_wrappers"),
    ("django.db.models.sql.compiler", "SQLCompiler", "as_sql"),
    ("django.db.models.sql.compiler", "SQLUpdateCompiler", "as_sql"),
    ("django.db.models.sql.compiler", "SQLInsertCompiler", "as_sql"),
    ("provisioning.engine.claim_read", None, "claim"),
    ("provisioning.engine.serial", None, "claim"),
    ("provisioning.engine.serial", None, "ended"),
    ("provisioning.engine.executor", None, "write_steps"),
    ("provisioning.engine.executor", None, "run_steps"),
    ("provisioning.engine.executor", None, "end"),
    ("provisioning.engine.executor", None, "_ended_with_person"),
    ("provisioning.engine.steps", None, "mark_running"),
    ("provisioning.engine.steps", None, "write_outcomes"),
    ("provisioning.engine.outcomes", None, "person_saved"),
    ("provisioning.engine.outcomes", None, "account_read"),
    ("provisioning.engine.outcomes", None, "job_finished"),
    ("portal.audit.events", None, "record_all"),
    ("portal.audit.events", None, "event_for"),
    ("provisioning.quarantine", None, "record_outcomes"),
    ("provisioning.quarantine", None, "record_outcome"),
    ("django.db.models.base", "Model", "__init__"),
    ("django.db.models.base", "Model", "from_db"),
    ("django.dispatch.dispatcher", "Signal", "send"),
    ("provisioning.connectors.bridge", None, "run"),
]


def _wrap_all(totals):
    import functools
    import importlib

    undo = []
    for mod_name, cls_name, attr in SPLIT:
        owner = importlib.import_module(mod_name)
        if cls_name:
            owner = getattr(owner, cls_name)
        original = owner.__dict__[attr]
        is_cm = isinstance(original, classmethod)
        func = original.__func__ if is_cm else original
        key = f"{mod_name.rsplit('.', 1)[-1]}.{cls_name + '.' if cls_name else ''}{attr}"
        depth = {"n": 0}

        def make(func=func, key=key, depth=depth):
            @functools.wraps(func)
            def wrapper(*a, **k):
                if depth["n"]:
                    return func(*a, **k)
                depth["n"] += 1
                t0 = time.thread_time()
                try:
                    return func(*a, **k)
                finally:
                    totals[key] = totals.get(key, 0.0) + time.thread_time() - t0
                    depth["n"] -= 1

            return wrapper

        w = make()
        setattr(owner, attr, classmethod(w) if is_cm else w)
        undo.append((owner, attr, original))
    return undo


@pytest.mark.django_db(transaction=True)
def test_split(on_sandbox, monkeypatch):
    dirs = warmed_up(on_sandbox, monkeypatch, "split")
    n = int(os.environ.get("PROFILE_N", "8"))
    jobs = [onboard(dirs, f"S{i}", "Split") for i in range(n)]
    totals: dict = {}
    undo = _wrap_all(totals)
    whole = []
    try:
        for job in jobs:
            forget_known_heads()
            t0 = time.thread_time()
            executor.execute(job.pk)
            whole.append(time.thread_time() - t0)
    finally:
        for owner, attr, original in undo:
            setattr(owner, attr, original)
    print(
        f"\nSPLIT load {os.getloadavg()[0]:.1f}; run thread CPU median "
        f"{statistics.median(whole) * 1000:.1f} ms, mean {statistics.mean(whole) * 1000:.1f}"
    )
    try:
        from portal import kept_sql

        print("KEPT", {k: v is not None for k, v in kept_sql._kept.items()})
    except ImportError:
        pass
    for key, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {key:45} {total / n * 1000:6.2f} ms/run  {total / sum(whole) * 100:5.1f} %")
