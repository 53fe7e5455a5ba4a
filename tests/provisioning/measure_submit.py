"""Measurement only (not collected: run it by naming the file, on PostgreSQL with REDIS_URL
set): the CPU of the submit (`services.request_onboarding`, the web side of a joiner) in this
thread, warm: two warm-ups, SUBMIT_N submits unprofiled (thread CPU), then SUBMIT_N under
cProfile timed by thread CPU (SUBMIT_PRINT=1 prints it). docs/benchmarks.md, `cpu16`."""

import cProfile
import os
import pstats
import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning.engine.tasks import run_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard, statements


@pytest.mark.django_db(transaction=True)
def test_submit_profile(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(run_job, "apply_async", lambda *a, **k: None)
    dirs = make_directories(
        on_sandbox,
        "subm",
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    onboard(dirs, "Warm", "Up")
    onboard(dirs, "Warm", "Again")
    n = int(os.environ.get("SUBMIT_N", "30"))
    print("\nLOAD", os.getloadavg())
    mine, sql = [], []
    for i in range(n):
        t0 = time.thread_time()
        with CaptureQueriesContext(connection) as run:
            onboard(dirs, f"U{i}", "Sub")
        mine.append((time.thread_time() - t0) * 1000)
        sql.append(len(statements(run)))
    print(
        f"submit thread CPU ({n}): median {statistics.median(mine):.2f} ms "
        f"min {min(mine):.2f}; statements {sorted(set(sql))}"
    )
    profile = cProfile.Profile(time.thread_time)
    for i in range(n):
        profile.enable()
        onboard(dirs, f"P{i}", "Sub")
        profile.disable()
    stats = pstats.Stats(profile)
    if os.environ.get("SUBMIT_PRINT"):
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(90)
    stats.dump_stats(os.environ.get("SUBMIT_OUT", "/tmp/measure_submit.prof"))
    print("PROFILED", f"{stats.total_tt / n * 1000:.2f} ms", f"CALLS {stats.total_calls / n:.0f}")
