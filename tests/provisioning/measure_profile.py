"""Measurement only (not collected by the suite): CPU of the worker's run of warm onboardings
(in this process's main thread; the connectors' event loop is another thread), first
unprofiled (PROFILE_N runs: process CPU, all threads, and this thread's CPU, the Django
side), then under cProfile (PROFILE_N more). Run it by naming the file."""

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


@pytest.mark.django_db(transaction=True)
def test_profile(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox,
        "prof",
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    # Unpaced: the runs follow each other faster than the test's 20 calls/s would allow.
    DirectoryConnection.objects.filter(tenant=dirs.tenant).update(
        rate_limit_per_s=10000, rate_burst=10000
    )
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
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
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    stats.dump_stats(os.environ.get("PROFILE_OUT", "/tmp/measure_profile.prof"))
    stats.sort_stats("cumulative").print_stats(os.getcwd(), 120)
    from portal.audit import events

    print("AUDIT SHAPES", {k: v is not None for k, v in getattr(events, "_shapes", {}).items()})
    print(f"RUN CALLS {stats.total_calls / n:.0f} per run")
