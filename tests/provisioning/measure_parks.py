"""Measurement only (not collected by the suite): jobs at the ceiling of a paced connection,
run in this process one task at a time as one worker would, every task run's statements
counted as the bench counts them and listed by what the run did. Run it by naming the file."""

import heapq
import time
from collections import Counter, defaultdict

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from portal.audit.events import forget_known_heads
from provisioning import throttle
from provisioning.engine import admission, executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard
from tests.provisioning.test_engine_statements import statements

JOBS = 6


@pytest.mark.django_db(transaction=True)
def test_measure_parks(on_sandbox, monkeypatch):
    due: list[tuple[float, int, int]] = []
    seq = iter(range(10**9))

    def at(when: float, job_id: int) -> None:
        heapq.heappush(due, (when, next(seq), job_id))

    monkeypatch.setattr(run_job, "delay", lambda job_id: at(time.time(), job_id))
    monkeypatch.setattr(
        run_job, "apply_async", lambda args, countdown=0: at(time.time() + countdown, args[0])
    )
    dirs = make_directories(on_sandbox, "ceil", rate_limit_per_s=4)
    connection = dirs.tenant.connections.get()
    connection.rate_burst = admission.TOKENS_PER_JOB
    connection.save()
    assert throttle.reserve(connection, connection.rate_burst, 0.0)[0]  # at the ceiling now
    jobs = [onboard(dirs, first=f"Person{n}", last="Ceil") for n in range(JOBS)]
    runs = sent = 0
    kinds: dict[str, list[int]] = defaultdict(list)
    shapes: dict[str, Counter] = defaultdict(Counter)
    while due:
        when, _, job_id = heapq.heappop(due)
        time.sleep(max(0.0, when - time.time()))
        before = Job.objects.filter(pk=job_id).values_list("status", "waiting_reason").get()
        forget_known_heads()
        with CaptureQueriesContext(db) as run:
            outcome = executor.execute(job_id)
        after = Job.objects.filter(pk=job_id).values_list("status", "waiting_reason").get()
        runs += 1
        got = statements(run)
        sent += len(got)
        kind = f"{before[0]}:{before[1][:18]} -> {after[0]}:{after[1][:18]}"
        kinds[kind].append(len(got))
        shapes[kind].update(sql[:110] for sql in got)
        if outcome.then is not None:
            at(time.time(), outcome.then)
        if outcome.retry_in is not None:
            at(time.time() + outcome.retry_in, job_id)
    rows = list(Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("pk"))
    assert all(j.status == Job.Status.SUCCEEDED for j in rows), [j.status for j in rows]
    print(
        f"\nCEILING {JOBS} jobs: claimed runs {sum(j.runs for j in rows) / JOBS:.2f} per job "
        f"{[j.runs for j in rows]}, tasks {runs / JOBS:.2f}, statements {sent / JOBS:.1f} per job"
    )
    for kind, counts in kinds.items():
        print(f"\n== {kind}: {len(counts)} runs, statements {counts}")
        n = len(counts)
        print("\n".join(f"{c / n:5.1f} {sql}" for sql, c in shapes[kind].most_common()))
