"""Measurement only (not collected by the suite): cProfile of the worker's run of warm
onboardings (in this process's main thread; the connectors' event loop is another thread).
Run it by naming the file; PROFILE_N onboardings (default 8)."""

import cProfile
import os
import pstats
import time

import pytest

from portal.audit.events import forget_known_heads
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard


@pytest.mark.django_db(transaction=True)
def test_profile(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox,
        "prof",
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    n = int(os.environ.get("PROFILE_N", "8"))
    jobs = [onboard(dirs, f"P{i}", "Prof") for i in range(n)]
    profile = cProfile.Profile()
    cpu = 0.0
    for job in jobs:
        forget_known_heads()
        start = time.process_time()
        profile.enable()
        executor.execute(job.pk)
        profile.disable()
        cpu += time.process_time() - start
    print("STATUSES", [j.status for j in Job.objects.filter(pk__in=[j.pk for j in jobs])])
    print(f"\nPROFILE process CPU per run {cpu / n * 1000:.1f} ms (all threads, profiled)")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(35)
    stats.sort_stats("cumulative").print_stats(60)
    from provisioning.inventory import matching
    from provisioning.models import Identity

    person = Identity.objects.get(pk=jobs[0].identity_id)
    inner = cProfile.Profile()
    start = time.process_time()
    inner.enable()
    for _ in range(50):
        matching.summarise(person)
    inner.disable()
    spent = (time.process_time() - start) / 50 * 1000
    print(f"SUMMARISE {spent:.2f} ms, {pstats.Stats(inner).total_calls / 50:.0f} calls each")
    print(f"RUN CALLS {stats.total_calls / n:.0f} per run")
