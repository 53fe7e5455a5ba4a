"""Onboarding throughput, latency and fairness of the engine, end to end, on one machine.

Starts its own sandbox (free port, CA in a temporary folder), a fresh PostgreSQL database
(`msp_portal_bench_<pid>`: runs side by side do not drop each other's; `--db` names it),
real Celery workers on Redis (own queue) and runs `bench/sequential.py` for the baseline;
stops all of it at the end, also on error. Every directory answers with 30 ms latency.
Then, in one run:

1. latency of one onboarding (1 licence, 5 groups, 1 app) from submit to succeeded, and its
   sequential round trips (HTTP requests the sandbox served for it): cold (first job of a
   fresh worker) and warm (median of 5 after every pool process has run a job);
2. 1,000 onboardings over 10 tenants, each directory rate-limited (`--rate` calls/s, the
   connections paced to match): calls served per second / sum of the rates, and people/s
   against the sequential baseline;
3. fairness: nine of those tenants alone, then the same nine plus a tenant throttled to
   1 call/s; slowdown = the nine's wall time with it / without it;
4. the engine's own throughput: `--engine-people` onboardings over `--engine-tenants`
   tenants whose directories have no rate limit (30 ms latency still), after warm-ups (on
   those tenants, and on another until every pool thread holds its database connection),
   submitted from `--submitters` threads (as that many web requests at once: one
   submitter would set the pace itself); people/s from the first submit to the last job
   done, and against bench/sequential.py's people/s at the same latency (`vs_sequential`);
and, per phase, CPU milliseconds per onboarding (the worker processes from /proc; PostgreSQL:
the backends serving the jobs, read by the workers through bench/_instrument.py, and the
bench's own backend while it submits) and SQL statements per onboarding (counted in the
workers by bench/_instrument.py and in the bench around each submit); the whole local
PostgreSQL server's CPU, the machine's busy cores and load average next to them
(`_harness.CpuMeter`). API calls per onboarding come from the sandbox's stats (phase 2).
How throughput grows with worker processes and hosts: bench/scaling.py.

    .venv/bin/python bench/onboard.py [--people 1000] [--rate 10] [--burst 20]
        [--procs 2] [--pool threads] [--concurrency 8] [--skip 1,2,3,4] [--pace-factor 1]
        [--engine-people 100] [--engine-tenants 10] [--submitters 4]

Last line: round_trips=<n> latency_ms=<n> ceiling_share=<0..1> vs_sequential=<ratio>
vs_sequential_at_ceiling=<ratio> engine_people_per_s=<n> fairness_slowdown=<ratio>
calls_per_onboarding=<n> cpu_ms_per_onboarding=<ms> worker_cpu_ms=<ms> postgres_cpu_ms=<ms>
sql_per_onboarding=<n> engine_cpu_ms_per_onboarding=<ms> engine_sql_per_onboarding=<n>
sandbox_cpu_ms=<ms> loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m> busy_cores=<n>
(cpu_ms and sql_per_onboarding from phase 2, or from phase 1's warm jobs when phase 2 is
skipped; the engine_ ones from phase 4; sandbox_cpu_ms, the sandbox's CPU per onboarding in
phase 4, counted in no other figure; vs_sequential from phase 4, vs_sequential_at_ceiling
from phase 2; loadavg and busy_cores over the whole run, workers started to stopped)
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

DB_PREFIX = "msp_portal_bench"
# Side by side with other benches: BENCH_REDIS_URL names another Redis database.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
LATENCY_MS = 30
MAX_ROUND_TRIPS = 4  # issue 13: sequential round trips per onboarding, the verification read in
BATCH_ROUTE = "POST /v1.0/$batch"
DONE = ("succeeded", "failed", "partial", "cancelled")


def say(text: str) -> None:
    print(text, flush=True)


# --- reading the sandbox's stats ---------------------------------------------------------


def is_token_route(route: str) -> bool:
    return "/oauth2/" in route or "well-known" in route


def round_trips(stats: dict) -> int:
    """HTTP requests the sandbox served: a `$batch` is one, whatever it carries (writes or
    the reads of a verification); token requests count, as they always have (a warm job
    sends none)."""
    return stats["http_requests"]


def api_calls(stats: dict) -> int:
    """Graph operations, as Microsoft counts them against a tenant's limits: each `$batch`
    sub-request counts, the `$batch` envelope and token requests do not."""
    return sum(
        n
        for route, n in stats["calls"].items()
        if route != BATCH_ROUTE and not is_token_route(route)
    )


def served(stats: dict) -> int:
    """Rate-limited calls that were served (not 429): what the directory's limit allows."""
    return api_calls(stats) - stats["throttled"]


def add_stats(all_stats: list[dict]) -> dict:
    calls: Counter[str] = Counter()
    total = requests = throttled = 0
    for stats in all_stats:
        calls.update(stats["calls"])
        total += stats["total_calls"]
        requests += stats["http_requests"]
        throttled += stats["throttled"]
    return {
        "total_calls": total,
        "http_requests": requests,
        "calls": dict(calls),
        "throttled": throttled,
    }


# --- the portal side ---------------------------------------------------------------------


@dataclass
class BenchTenant:
    slug: str
    directory_id: str
    tenant: object
    connection: object
    template: object
    rate: float | None
    burst: int | None


class Bench:
    def __init__(self, sandbox: _harness.Sandbox, pace_factor: float = 1.0):
        self.sandbox = sandbox
        self.pace_factor = pace_factor
        self.connection_pks: list[int] = []
        self.workers: _harness.Workers | None = None  # set once started; `wait` watches them
        self.serials = itertools.count(1)  # names; next() is safe from several threads
        # What submitting cost the bench process (as a web request would): statements sent,
        # its PostgreSQL backend's CPU and its own, summed over every submit.
        self.submits = _harness.Submits()

    def make_tenant(self, slug: str, rate: float | None, burst: int | None) -> BenchTenant:
        from provisioning import throttle
        from tenants.models import DirectoryConnection, RoleTemplate, Tenant

        domain = f"{slug}.example"
        directory_id, client_id = self.sandbox.create_entra(domain)
        self.sandbox.behave(directory_id, latency_ms=LATENCY_MS, rate_per_s=rate, burst=burst)
        tenant = Tenant.objects.create(
            name=slug, slug=slug, primary_domain=domain, default_usage_location="GB"
        )
        connection = DirectoryConnection(
            tenant=tenant,
            kind="entra",
            directory_id=directory_id,
            client_id=client_id,
            login_base_url=self.sandbox.url,
            graph_base_url=self.sandbox.url,
            # Our own pace matches the directory's limit; "unlimited" is a pace never reached.
            rate_limit_per_s=(rate * self.pace_factor) if rate else 100_000,
            rate_burst=burst or 100_000,
        )
        connection.set_secret(_harness.SECRET)
        connection.save()
        throttle.reset(connection)
        self.connection_pks.append(connection.pk)
        template = RoleTemplate.objects.create(
            tenant=tenant,
            name="Sales",
            groups=list(_harness.GROUPS),
            licenses=[_harness.SKU],
            apps=[_harness.APP],
            department="Sales",
            job_title="Account Executive",
        )
        return BenchTenant(slug, directory_id, tenant, connection, template, rate, burst)

    def submit(self, bench_tenant: BenchTenant) -> int:
        from provisioning import services

        first, last = "Ada", f"Bench{next(self.serials):05d}"
        request = services.OnboardingRequest(first, last, role_templates=[bench_tenant.template])
        username = f"{first}.{last}@{bench_tenant.tenant.primary_domain}".lower()
        with self.submits.count():
            job = services.request_onboarding(
                bench_tenant.tenant, request, username=username, actor="system"
            )
        return job.pk

    def wait(self, job_ids: list[int], timeout: float, poll: float = 0.2) -> list:
        from provisioning.models import Job

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = Job.objects.filter(pk__in=job_ids).exclude(status__in=DONE).count()
            if left == 0:
                break
            exited = self.workers.exited() if self.workers else ""
            if exited:
                # Someone else's signal (a broad pkill) or a crash: no figure is worth it.
                raise SystemExit(f"{left} jobs unfinished and a {exited}")
            time.sleep(poll)
        return list(
            Job.objects.filter(pk__in=job_ids).values(
                "pk", "tenant_id", "status", "created_at", "started_at", "finished_at", "runs"
            )
        )

    def stats(self, tenants: list[BenchTenant]) -> dict:
        return add_stats([self.sandbox.stats(t.directory_id) for t in tenants])

    def reset_stats(self, tenants: list[BenchTenant]) -> None:
        for t in tenants:
            self.sandbox.reset_stats(t.directory_id)


def ms(delta) -> float:
    return delta.total_seconds() * 1000


def cpu_meter(sandbox_pid: int, workers: list[_harness.Workers]) -> _harness.CpuMeter:
    """CPU of each part while a phase runs (evidence for what limits it): the worker process
    groups, the sandbox, this process, and the whole local PostgreSQL server (every
    database: a cross-check of the backends the workers read)."""
    return _harness.CpuMeter(
        workers=lambda: sum(w.cpu_seconds() for w in workers),
        sandbox=lambda: _harness.group_cpu_seconds(sandbox_pid),
        bench=_harness.self_cpu_seconds,
        postgres=_harness.postgres_cpu_seconds,
    )


def cores_line(label: str, span: _harness.Span) -> str:
    return (
        f"{label}: cores busy: {span.cores()} (postgres: the whole local server, every "
        f"database); {span.machine()}"
    )


class Counts:
    """The figures bench/_instrument.py flushed from the workers to Redis, per job id."""

    def __init__(self, key: str):
        import redis

        self.key = key
        self.redis = redis.Redis.from_url(REDIS)

    def settle(self, job_ids: list[int], timeout: float = 10.0) -> None:
        """Wait until every task run of these jobs has flushed (a job is done in the database
        a moment before its task's `task_postrun`)."""
        fields = [str(i) for i in job_ids]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = self.redis.hmget(f"{self.key}:running", fields) if fields else []
            if all(int(v or 0) <= 0 for v in running):
                return
            time.sleep(0.01)
        say(f"  (some task runs of these {len(fields)} jobs had not flushed after {timeout:g} s)")

    def for_jobs(self, job_ids: list[int]) -> dict:
        fields = [str(i) for i in job_ids]

        def total(name: str, cast) -> float:
            values = self.redis.hmget(f"{self.key}:{name}", fields) if fields else []
            return sum(cast(v) for v in values if v is not None)

        return {
            "sql": total("sql", int),
            "pg_cpu_s": total("pg_cpu_s", float),
            "runs": total("runs", int),
        }

    def sites(self, job_ids: list[int]) -> dict[tuple[str, str], int]:
        """Statements by (engine step, caller) of these jobs (with BENCH_SQL_SITES=1)."""
        wanted = {str(i) for i in job_ids}
        found: Counter[tuple[str, str]] = Counter()
        for field, n in self.redis.hgetall(f"{self.key}:sites").items():
            job, step, caller = field.decode().split("|", 2)
            if job in wanted:
                found[(step, caller)] += int(n)
        return dict(found)

    def not_jobs(self) -> dict[str, int]:
        """Statements counted outside any job: other tasks, and outside any task."""
        sql = self.redis.hgetall(f"{self.key}:sql")
        return {k.decode(): int(v) for k, v in sql.items() if not k.decode().isdigit()}


@dataclass
class Cost:
    """CPU and SQL statements of `onboardings` onboardings, per onboarding on demand."""

    onboardings: int
    worker_cpu_s: float  # the worker process groups, /proc, over the measured span
    worker_pg_cpu_s: float  # the backends serving the jobs' task runs, read by the workers
    submit_cpu_s: float  # the bench process inside request_onboarding
    submit_pg_cpu_s: float  # its backend meanwhile
    worker_sql: int
    submit_sql: int
    task_runs: int
    server_pg_cpu_s: float  # the whole local PostgreSQL server meanwhile: a cross-check
    span: _harness.Span  # the CPU of every part, the wall time and the machine's load

    def per(self, seconds: float) -> float:
        return seconds * 1000 / max(1, self.onboardings)

    @property
    def cpu_ms(self) -> float:
        return self.per(
            self.worker_cpu_s + self.worker_pg_cpu_s + self.submit_cpu_s + self.submit_pg_cpu_s
        )

    @property
    def postgres_ms(self) -> float:
        return self.per(self.worker_pg_cpu_s + self.submit_pg_cpu_s)

    @property
    def sql(self) -> float:
        return (self.worker_sql + self.submit_sql) / max(1, self.onboardings)

    def line(self) -> str:
        n = max(1, self.onboardings)
        return (
            f"per onboarding: CPU {self.cpu_ms:.1f} ms = workers {self.per(self.worker_cpu_s):.1f}"
            f" + PostgreSQL {self.postgres_ms:.1f} (the backends serving the jobs "
            f"{self.per(self.worker_pg_cpu_s):.1f} and the submits "
            f"{self.per(self.submit_pg_cpu_s):.1f}) + submit {self.per(self.submit_cpu_s):.1f}"
            f"; SQL statements {self.sql:.1f} = workers {self.worker_sql / n:.1f} + submit "
            f"{self.submit_sql / n:.1f}; task runs {self.task_runs / n:.2f}; the whole local "
            f"PostgreSQL server {self.per(self.server_pg_cpu_s):.1f} ms (every database and "
            f"process, the bench's polling too)"
        )


class Meter:
    """Snapshots before and after a span of onboardings, and their Cost."""

    def __init__(self, submits: _harness.Submits, cpu: _harness.CpuMeter, counts: Counts):
        self.submits, self.cpu, self.counts = submits, cpu, counts

    def snapshot(self) -> dict:
        return {"cpu": self.cpu.sample(), "submit": self.submits.snapshot()}

    def cost(self, before: dict, job_ids: list[int]) -> tuple[Cost, dict]:
        """The Cost of `job_ids` since `before` (once their task runs have flushed), and the
        snapshot taken after."""
        self.counts.settle(job_ids)
        after = self.snapshot()
        workers = self.counts.for_jobs(job_ids)
        submit = {k: after["submit"][k] - before["submit"][k] for k in before["submit"]}
        cost = Cost(
            onboardings=len(job_ids),
            worker_cpu_s=after["cpu"]["workers"] - before["cpu"]["workers"],
            worker_pg_cpu_s=workers["pg_cpu_s"],
            submit_cpu_s=submit["cpu_s"],
            submit_pg_cpu_s=submit["pg_cpu_s"],
            worker_sql=workers["sql"],
            submit_sql=submit["sql"],
            task_runs=workers["runs"],
            server_pg_cpu_s=after["cpu"]["postgres"] - before["cpu"]["postgres"],
            span=self.cpu.span(before["cpu"], after["cpu"]),
        )
        return cost, after


# --- the phases --------------------------------------------------------------------------


def phase_latency(
    bench: Bench, meter: Meter, tenant: BenchTenant, warmups: int
) -> tuple[dict, dict, Cost, Cost]:
    """One onboarding at a time; per job: latency, the round trips and SQL statements it
    cost; the CPU and SQL of the cold job and of the 5 measured warm ones."""
    from provisioning.models import Job, Step

    rows = []
    measured = 1 + warmups
    cold_before = meter.snapshot()
    for index in range(measured + 5):
        if index == 1:
            cold_cost, _ = meter.cost(cold_before, [rows[0]["job_id"]])
        if index == measured:
            warm_before = meter.snapshot()
        bench.reset_stats([tenant])
        started = time.monotonic()
        job_id = bench.submit(tenant)
        (job,) = bench.wait([job_id], timeout=60, poll=0.005)
        seen_ms = (time.monotonic() - started) * 1000
        meter.counts.settle([job_id])
        if job["status"] != "succeeded":
            raise SystemExit(
                f"latency job {job_id} ended {job['status']}: {Job.objects.get(pk=job_id).error}"
            )
        stats = bench.sandbox.stats(tenant.directory_id)
        steps = list(
            Step.objects.filter(job_id=job_id)
            .order_by("order")
            .values_list("action", "duration_ms")
        )
        rows.append(
            {
                "index": index,
                "job_id": job_id,
                "sql": meter.counts.for_jobs([job_id])["sql"],
                "latency_ms": ms(job["finished_at"] - job["created_at"]),
                "queue_ms": ms(job["started_at"] - job["created_at"]),
                "seen_ms": seen_ms,
                "round_trips": round_trips(stats),
                "api_calls": api_calls(stats),
                "routes": stats["calls"],
                "create_ms": steps[0][1] if steps else 0,
                "batch_ms": steps[1][1] if len(steps) > 1 else 0,
            }
        )
    warm_cost, _ = meter.cost(warm_before, [r["job_id"] for r in rows[-5:]])
    cold = rows[0]
    tail = rows[-5:]
    warm = {
        "latency_ms": statistics.median(r["latency_ms"] for r in tail),
        "queue_ms": statistics.median(r["queue_ms"] for r in tail),
        "seen_ms": statistics.median(r["seen_ms"] for r in tail),
        "round_trips": statistics.median(r["round_trips"] for r in tail),
        "api_calls": statistics.median(r["api_calls"] for r in tail),
        "create_ms": statistics.median(r["create_ms"] for r in tail),
        "batch_ms": statistics.median(r["batch_ms"] for r in tail),
        "job_ids": [r["job_id"] for r in tail],
    }
    say(
        "  per job (round trips / latency ms / SQL statements in the workers): "
        + ", ".join(f"{r['round_trips']}/{r['latency_ms']:.0f}/{r['sql']}" for r in rows)
    )
    say(f"  cold routes: {cold['routes']}")
    say(f"  warm routes (last job): {rows[-1]['routes']}")
    return cold, warm, cold_cost, warm_cost


def diagnose(counts: Counts, job_ids: list[int], folder: Path) -> None:
    """`--diagnose`: the warm jobs' SQL statements by engine step and caller, and where their
    task runs spent CPU (cProfile, merged)."""
    import pstats

    sites = counts.sites(job_ids)
    by_step: Counter[str] = Counter()
    for (step, _), n in sites.items():
        by_step[step] += n
    say(f"  SQL statements per warm job by engine step ({len(job_ids)} jobs):")
    for step, n in by_step.most_common():
        callers = sorted(((c, m) for (s, c), m in sites.items() if s == step), key=lambda x: -x[1])
        detail = ", ".join(f"{c} {m / len(job_ids):g}" for c, m in callers[:6])
        say(f"    {n / len(job_ids):5.1f}  {step}  ({detail})")
    files = [str(f) for i in job_ids for f in sorted(folder.glob(f"{i}-*.prof"))]
    if not files:
        return
    stats = pstats.Stats(*files)
    say(f"  cProfile of the warm jobs' task runs ({len(files)} files in {folder}):")
    for key in ("cumulative", "tottime"):
        lines = []
        for func, (_, calls, tt, ct, _) in sorted(
            stats.stats.items(), key=lambda kv: -kv[1][3 if key == "cumulative" else 2]
        )[:25]:
            name = f"{Path(func[0]).name}:{func[1]}({func[2]})"
            lines.append(
                f"      {ct * 1000 / len(job_ids):7.1f} {tt * 1000 / len(job_ids):7.1f} "
                f"{calls / len(job_ids):7.1f}  {name}"
            )
        say(f"    by {key}: cumulative ms, own ms, calls per job, function")
        for line in lines:
            say(line)


def time_split(counts: Counts, job_ids: list[int], path: Path) -> None:
    """`--times`: phase 2's or 4's task runs' wall time split (bench/_instrument.py's
    BENCH_TIMES), written to `path` as JSON lines and summed up: where a run's wall time
    went, how many runs were in flight, how long jobs waited in the queue before their first
    run, and the runs' thread CPU by kind (`runs_by_kind`)."""
    import json

    import redis

    from provisioning.models import Job

    wanted = {str(pk) for pk in job_ids}
    rows = [
        json.loads(raw) for raw in redis.Redis.from_url(REDIS).lrange(f"{counts.key}:times", 0, -1)
    ]
    rows = [row for row in rows if row["job"] in wanted]
    created = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "created_at"))
    first = {}
    for row in rows:
        first[row["job"]] = min(first.get(row["job"], row["t0"]), row["t0"])
    queued = [first[k] - created[int(k)].timestamp() for k in first]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    n = max(1, len(rows))
    mean = {
        k: sum(row[k] for row in rows) * 1000 / n for k in ("cpu", "sql_s", "bridge_s", "backlog_s")
    }
    wall = sum(row["t1"] - row["t0"] for row in rows) * 1000 / n
    span = max(row["t1"] for row in rows) - min(row["t0"] for row in rows)
    busy = sum(row["t1"] - row["t0"] for row in rows) / span
    loop = {}
    for row in rows:
        low, high = loop.get(row["pid"], (row["loop_cpu"], row["loop_cpu"]))
        loop[row["pid"]] = (min(low, row["loop_cpu"]), max(high, row["loop_cpu"]))
    loop_ms = sum(high - low for low, high in loop.values()) * 1000 / n
    say(
        f"  times per task run ({len(rows)} runs): wall {wall:.0f} ms = thread CPU "
        f"{mean['cpu']:.0f} + in SQL {mean['sql_s']:.0f} + waiting for the bridge "
        f"{mean['bridge_s']:.0f} (of "
        f"which before the loop began a call {mean['backlog_s']:.0f}) + the rest "
        f"{wall - mean['cpu'] - mean['sql_s'] - mean['bridge_s']:.0f} (runnable without the GIL or "
        f"a core, Redis); bridge loop CPU {loop_ms:.0f} ms a run; runs in flight on average "
        f"{busy:.1f} over {span:.1f} s; queued before the first run: median "
        f"{statistics.median(queued) * 1000:.0f} ms, max {max(queued) * 1000:.0f} ms"
    )
    say("  thread CPU by kind of run: " + runs_by_kind(rows, len(created)))
    say("  why runs parked, by kind of run (a job's later runs: what it parked for before):")
    for line in parks_by_kind(rows, len(created)):
        say("    " + line)


def runs_by_kind(rows: list[dict], jobs: int) -> str:
    """The task runs' thread CPU per job by what a run did: called the directory (how many
    bridge calls), sent SQL only (a claim that parked or found nothing to do), or neither
    (a come-back timer after the job's end): where runs beyond one a job go."""
    kinds: dict[str, list[float]] = {}
    for row in rows:
        kinds.setdefault(run_kind(row), []).append(row["cpu"])
    return "; ".join(
        f"{kind}: {len(cpu) / max(1, jobs):.2f} a job x {sum(cpu) * 1000 / len(cpu):.1f} ms = "
        f"{sum(cpu) * 1000 / max(1, jobs):.1f} ms"
        for kind, cpu in sorted(kinds.items())
    )


def run_kind(row: dict) -> str:
    if row["bridge_n"]:
        return f"{row['bridge_n']} calls"
    return "SQL only" if row["sql_n"] else "nothing"


def parks_by_kind(rows: list[dict], jobs: int) -> list[str]:
    """`--times`: the runs that parked their job (bench/_instrument.py's `parked`), counted
    per job by kind of run, reason and the engine's functions that parked it; with the
    pacing's options as the first of each parked (what was paid, the calls to come)."""
    seen: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        if parked := row.get("parked"):
            key = (run_kind(row), parked["reason"], parked["by"])
            seen.setdefault(key, []).append(parked)
    lines = []
    for (kind, reason, by), parks in sorted(seen.items(), key=lambda kv: -len(kv[1])):
        first = {k: v for k, v in parks[0].items() if k not in ("reason", "by")}
        lines.append(
            f"{kind}: {len(parks) / max(1, jobs):.3f} a job parked '{reason}' by {by} "
            f"(first: {first})"
        )
    return lines


def run_batch(
    bench: Bench, plan: list[BenchTenant], timeout: float, submitters: int = 1
) -> tuple[list, float, object]:
    """Submit one onboarding per entry of `plan` (in that order, or from `submitters`
    threads at once); wait; (jobs, submit s, t0)."""
    from django.utils import timezone

    t0 = timezone.now()
    started = time.monotonic()
    ids = submit_all(bench, plan, submitters)
    submit_s = time.monotonic() - started
    jobs = bench.wait(ids, timeout=timeout)
    return jobs, submit_s, t0


def submit_all(bench: Bench, plan: list[BenchTenant], submitters: int) -> list[int]:
    """Job ids of one onboarding per entry of `plan`, submitted from `submitters` threads
    (as that many web requests at a time would; each its own database connection, closed
    when its share is done)."""
    if submitters <= 1:
        return [bench.submit(t) for t in plan]
    ids: list[int | None] = [None] * len(plan)

    def submit_share(first: int) -> None:
        from django.db import connection

        try:
            for index in range(first, len(plan), submitters):
                ids[index] = bench.submit(plan[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_share, args=(k,)) for k in range(submitters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if None in ids:
        raise SystemExit("a submitter failed (its traceback is above)")
    return [job_id for job_id in ids if job_id is not None]


def wall_s(jobs: list, t0) -> float:
    return max((j["finished_at"] - t0).total_seconds() for j in jobs if j["finished_at"])


def cleanup_redis(queue: str) -> None:
    """Drop what we left in Redis: our queue (e.g. the throttled tenant's pending jobs), its
    bindings, and every key under our prefix (`REDIS_KEY_PREFIX` is the queue's name: the
    token buckets, quarantine windows and counts of this run)."""
    import json

    import redis

    client = redis.Redis.from_url(REDIS)
    for pattern in (f"{queue}*", f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    for tag, payload in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(payload)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def fairness_round(bench: Bench, meter: Meter, nine: list, throttled, args) -> float:
    """The nine tenants' onboardings (and, for B, the throttled tenant's, interleaved); the
    nine's wall time. The throttled tenant's unfinished jobs are cancelled afterwards so
    that they do not run into the next round. CPU per onboarding is per onboarding of the
    nine, so in B it includes what the throttled tenant's task runs cost."""
    from django.utils import timezone

    from provisioning.models import Job

    plan = [nine[i % len(nine)] for i in range(len(nine) * args.fair_people)]
    if throttled is not None:
        bench.reset_stats([throttled])
        every = max(1, len(plan) // max(1, args.throttled_people))
        mixed = []
        for index, t in enumerate(plan):
            if index % every == 0 and mixed.count(throttled) < args.throttled_people:
                mixed.append(throttled)
            mixed.append(t)
        plan = mixed
    t0 = timezone.now()
    before = meter.snapshot()
    ids = [(bench.submit(t), t is throttled) for t in plan]
    nine_ids = [job_id for job_id, slow in ids if not slow]
    slow_ids = [job_id for job_id, slow in ids if slow]
    jobs = bench.wait(nine_ids, timeout=300)
    cost, after = meter.cost(before, nine_ids)
    wall = wall_s(jobs, t0)
    label = "B (with the throttled tenant)" if throttled is not None else "A (alone)"
    runs = sum(j["runs"] for j in jobs) / len(jobs)
    say(
        f"  {label}: {wall:.2f} s, {dict(Counter(j['status'] for j in jobs))}, "
        f"task runs per job {runs:.2f}"
    )
    if throttled is not None:
        slow_jobs = Job.objects.filter(pk__in=slow_ids)
        done = slow_jobs.filter(status="succeeded").count()
        slow_runs = sum(slow_jobs.values_list("runs", flat=True))
        stats = bench.sandbox.stats(throttled.directory_id)
        slow_sql = meter.counts.for_jobs(slow_ids)["sql"]
        say(
            f"    the throttled tenant meanwhile: {done}/{len(slow_ids)} finished, "
            f"{slow_runs} task runs, {served(stats)} calls served, "
            f"{stats['throttled']} answered 429, {slow_sql} SQL statements in the workers"
        )
        slow_jobs.exclude(status__in=DONE).update(status="cancelled", waiting_reason="bench over")
    say("    " + cost.line())
    say("    " + cores_line("CPU", cost.span))
    return wall


def settle(workers: _harness.Workers, limit_s: float = 60.0) -> float:
    """Wait until the workers' processes are idle (under 5 % of a core over half a second):
    a worker imports every connector in a background thread as it starts (`warm-connectors`,
    seconds of CPU under the GIL), which a phase run right after start would share its
    cores with. Returns the seconds waited."""
    started = time.monotonic()
    before = workers.cpu_seconds()
    while time.monotonic() - started < limit_s:
        time.sleep(0.5)
        now = workers.cpu_seconds()
        if now - before < 0.025:
            break
        before = now
    return time.monotonic() - started


def warm_up(bench: Bench, tenants: list[BenchTenant], jobs: int) -> None:
    """`jobs` onboardings, waited for and not measured: every worker process has run the
    engine (imports, the SDK's first token, connections) before a measured span."""
    ids = [bench.submit(tenants[i % len(tenants)]) for i in range(jobs)]
    bench.wait(ids, timeout=300)


@dataclass
class Throughput:
    people_per_s: float
    wall_s: float
    submit_s: float
    statuses: dict
    runs_per_job: float
    cost: Cost
    job_ids: list[int]
    requests: int = 0  # HTTP requests the sandbox served the measured jobs

    def sandbox_cpu_ms(self) -> float:
        """The sandbox's CPU per onboarding: not in `cost.cpu_ms` (in production the clouds'
        CPU is not ours), but it shares the cores with the engine here."""
        return self.cost.per(self.cost.span.cpu["sandbox"])

    def sandbox_line(self) -> str:
        cpu_s = self.cost.span.cpu["sandbox"]
        per_request = cpu_s * 1e6 / max(1, self.requests)
        n = max(1, self.cost.onboardings)
        return (
            f"the sandbox (not counted above): CPU {self.sandbox_cpu_ms():.1f} ms an onboarding, "
            f"{self.requests / n:.2f} HTTP requests each, {per_request:.0f} µs a request"
        )


def engine_throughput(
    bench: Bench, meter: Meter, tenants: list[BenchTenant], people: int, submitters: int
):
    """`people` onboardings over `tenants` (directories with no rate limit), submitted from
    `submitters` threads as fast as they can; people/s from the first submit to the last job
    done (end to end: the submits run beside the workers), and what they cost."""
    plan = [tenants[i % len(tenants)] for i in range(people)]
    bench.reset_stats(tenants)
    before = meter.snapshot()
    jobs, submit_s, t0 = run_batch(bench, plan, timeout=600, submitters=submitters)
    cost, _ = meter.cost(before, [j["pk"] for j in jobs])
    requests = round_trips(bench.stats(tenants))
    statuses = Counter(j["status"] for j in jobs)
    wall = wall_s(jobs, t0)
    return Throughput(
        people_per_s=statuses["succeeded"] / wall,
        wall_s=wall,
        submit_s=submit_s,
        statuses=dict(statuses),
        runs_per_job=sum(j["runs"] for j in jobs) / len(jobs),
        cost=cost,
        job_ids=[j["pk"] for j in jobs],
        requests=requests,
    )


def worker_connections() -> int:
    """The database connections open to the bench's database other than the bench's own:
    the workers' (a pool thread opens its own at its first task run and keeps it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


# PostgreSQL plans a prepared statement afresh at each of its first five runs on a
# connection, and then keeps a generic plan (pg19: every engine statement is on it).
RUNS_TO_GENERIC_PLANS = 5


def warm_threads(bench: Bench, tenant: BenchTenant, threads: int, rounds: int = 3) -> int:
    """Onboardings on `tenant` (not a measured one), RUNS_TO_GENERIC_PLANS + 1 a pool thread,
    submitted at once (4 submitters) so that they overlap: every pool thread holds its
    database connection (a cold connection's first statements cost PostgreSQL's catalogue
    reads and a prepare each) and has run the engine's statements to their generic plans.
    Again, at most `rounds` times, while a thread holds none. Returns the connections open."""
    open_now = 0
    for _ in range(rounds):
        plan = [tenant] * ((RUNS_TO_GENERIC_PLANS + 1) * threads)
        bench.wait(submit_all(bench, plan, 4), timeout=300)
        open_now = worker_connections()
        if open_now >= threads:
            break
    return open_now


def phase_engine(
    bench: Bench,
    meter: Meter,
    tenants: list[BenchTenant],
    args,
    sequential_rate: float,
    warm_tenant: BenchTenant,
) -> Throughput:
    warmups = args.procs * 2
    threads = args.procs * args.concurrency
    say(
        f"== 4. the engine's throughput: {args.engine_people} onboardings over {len(tenants)} "
        f"tenants, no rate limit ({LATENCY_MS} ms), after {warmups} warm-ups and every pool "
        f"thread's first run (on another tenant)"
    )
    warm_up(bench, tenants, warmups)
    held = warm_threads(bench, warm_tenant, threads)
    say(f"  the workers hold {held} database connections ({threads} pool threads)")
    idle_after = settle(bench.workers)
    say(f"  the workers idle {idle_after:.1f} s after the warm-ups (background imports done)")
    engine = engine_throughput(bench, meter, tenants, args.engine_people, args.submitters)
    say("  " + submitted_line(engine, args.submitters))
    say(
        f"  {engine.people_per_s:.2f} people/s vs sequential {sequential_rate:.2f} (one SDK call "
        f"at a time, same latency): {engine.people_per_s / sequential_rate:.1f}x (target >= 20)"
    )
    say("  " + engine.cost.line())
    say("  " + engine.sandbox_line())
    say("  " + cores_line("phase 4", engine.cost.span))
    return engine


def submitted_line(result: Throughput, submitters: int) -> str:
    """How the submits went beside the jobs; a warning when they set the pace."""
    people = sum(result.statuses.values())
    bound = result.submit_s >= 0.9 * result.wall_s
    return (
        f"submitted by {submitters} thread(s) in {result.submit_s:.1f} s "
        f"({people / result.submit_s:.1f}/s); statuses {result.statuses}; all done after "
        f"{result.wall_s:.1f} s; task runs per job {result.runs_per_job:.2f}"
        + ("; the submits set the pace (try more --submitters)" if bound else "")
    )


def run_sequential(people: int) -> float:
    """bench/sequential.py's people/s at our latency (its other lines echoed)."""
    script = Path(__file__).resolve().parent / "sequential.py"
    out = (
        subprocess.run(  # noqa: S603
            [sys.executable, str(script), "--people", str(people), "--latency-ms", str(LATENCY_MS)],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()
    )
    for line in out[:-1]:
        say("  " + line)
    figures = dict(pair.split("=", 1) for pair in out[-1].split())
    return float(figures["sequential_people_per_s"])


def main() -> None:  # noqa: PLR0915 - one run, phase after phase, reads best top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument(
        "--rate", type=float, default=10.0, help="calls/s per tenant directory (0: unlimited)"
    )
    parser.add_argument("--burst", type=int, default=20, help="bucket size per tenant directory")
    parser.add_argument("--fair-people", type=int, default=30, help="per tenant, fairness phase")
    parser.add_argument("--throttled-people", type=int, default=30)
    parser.add_argument("--fair-rounds", type=int, default=2, help="1: rounds A B; 2: A B B A")
    parser.add_argument(
        "--pace-factor",
        type=float,
        default=1.0,
        help="the connections' rate_limit_per_s = directory rate x this (1: matched)",
    )
    parser.add_argument("--procs", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="pool size per worker")
    parser.add_argument("--pool", default="threads", help="threads (measured best) or prefork")
    parser.add_argument("--sequential-people", type=int, default=40)
    parser.add_argument(
        "--engine-people", type=int, default=100, help="phase 4: onboardings, no rate limit"
    )
    parser.add_argument("--engine-tenants", type=int, default=10, help="phase 4: tenants")
    parser.add_argument(
        "--submitters", type=int, default=4, help="phase 4: threads submitting at once"
    )
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: 1,2,3,4")
    parser.add_argument("--db", default="", help="database name (default msp_portal_bench_<pid>)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--times",
        default="",
        help="phases 2 and 4: split each task run's wall time (JSON lines to this file, phase "
        "2's to FILE.phase2, a summary)",
    )
    parser.add_argument(
        "--diagnose",
        metavar="DIR",
        default="",
        help="also count SQL statements by engine step and profile every task run into DIR "
        "(bench/_instrument.py); costs CPU, so its figures are not comparable",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    say(f"== baseline: bench/sequential.py, {args.sequential_people} people, {LATENCY_MS} ms")
    sequential_rate = run_sequential(args.sequential_people)

    tmp = tempfile.TemporaryDirectory(prefix="bench-onboard-")
    root = Path(tmp.name)
    sandbox = workers = bench = None
    queue = f"bench-onboard-{os.getpid()}"
    db_name = args.db or f"{DB_PREFIX}_{os.getpid()}"
    figures: dict[str, float] = {}
    run: list[_harness.Span] = []  # workers started to stopped: the load line's figures
    try:
        (root / "tls").mkdir()
        sandbox = _harness.start_sandbox(root / "tls")
        # bench/_instrument.py, which the workers --include, counts SQL statements and
        # PostgreSQL CPU per job into Redis under BENCH_COUNTS_KEY (nothing without it).
        diagnosing: dict[str, str] = {}
        if args.times:
            diagnosing["BENCH_TIMES"] = "1"
        if args.diagnose:
            Path(args.diagnose).mkdir(parents=True, exist_ok=True)
            diagnosing = {
                "BENCH_SQL_SITES": "1",
                "BENCH_PROFILE": str(Path(args.diagnose).resolve()),
            }
        env = _harness.setup_stack(
            sandbox, db_name, queue, REDIS, BENCH_COUNTS_KEY=f"{queue}:counts", **diagnosing
        )

        bench = Bench(sandbox, args.pace_factor)
        solo = bench.make_tenant("bench-solo", None, None)
        tenants = [
            bench.make_tenant(
                f"bench-t{i:02d}", args.rate or None, args.burst if args.rate else None
            )
            for i in range(1, args.tenants + 1)
        ]
        # 1 call/s; a bucket of 10 so that one 7-request `$batch` fits in it.
        throttled = bench.make_tenant("bench-slow", 1.0, 10)
        workers = _harness.Workers(
            env,
            queue,
            root,
            procs=args.procs,
            concurrency=args.concurrency,
            pool=args.pool,
            include="bench._instrument",
        ).start()
        bench.workers = workers
        cpu = cpu_meter(sandbox.process.pid, [workers])
        run_start = cpu.sample()
        counts = Counts(env["BENCH_COUNTS_KEY"])
        meter = Meter(bench.submits, cpu, counts)
        costs: dict[str, Cost] = {}
        say(
            f"== stack: sandbox {sandbox.url}, PostgreSQL {db_name}, Redis {REDIS} queue {queue}, "
            f"{args.procs} worker(s) x {args.pool} {args.concurrency}; "
            f"load average {_harness.loadavg_text()}"
        )

        # 1. Latency and round trips ----------------------------------------------------
        if "1" not in skip:
            # Every pool process (prefork: every child) must have run a job to be warm.
            warmups = args.procs * (args.concurrency if args.pool == "prefork" else 1) * 2
            say(
                f"== 1. one onboarding at a time (unlimited rate, {LATENCY_MS} ms): cold, "
                f"{warmups} warm-ups, then 5 measured"
            )
            cold, warm, cold_cost, warm_cost = phase_latency(bench, meter, solo, warmups)
            for label, row, cost in (("cold", cold, cold_cost), ("warm", warm, warm_cost)):
                overhead = row["latency_ms"] - row["round_trips"] * LATENCY_MS
                say(
                    f"  {label}: {row['round_trips']:.0f} round trips, {row['api_calls']:.0f} API "
                    f"calls, latency {row['latency_ms']:.0f} ms (seen by the submitter "
                    f"{row['seen_ms']:.0f} ms), overhead {overhead:.0f} ms "
                    f"(queue {row['queue_ms']:.0f} ms, create step {row['create_ms']:.0f} ms, "
                    f"$batch step {row['batch_ms']:.0f} ms)"
                )
                say(f"    {cost.line()}")
            target = MAX_ROUND_TRIPS * LATENCY_MS + 250
            met = warm["round_trips"] <= MAX_ROUND_TRIPS and warm["latency_ms"] <= target
            say(
                f"  target: <= {MAX_ROUND_TRIPS} round trips (the verification read included), "
                f"latency <= {MAX_ROUND_TRIPS} x {LATENCY_MS} + 250 = {target} ms -> warm "
                f"{warm['round_trips']:.0f} round trips, {warm['latency_ms']:.0f} ms: "
                f"{'met' if met else 'MISSED'}"
            )
            if args.diagnose:
                diagnose(counts, warm["job_ids"], Path(args.diagnose))
            figures["round_trips"] = warm["round_trips"]
            figures["latency_ms"] = warm["latency_ms"]
            costs["1"] = warm_cost

        # 2. Throughput against the rate ceiling ----------------------------------------
        if "2" not in skip:
            ceiling = args.rate * len(tenants) or float("inf")  # --rate 0: no ceiling
            say(
                f"== 2. {args.people} onboardings over {len(tenants)} tenants, each directory "
                f"{args.rate:g} calls/s (burst {args.burst}): ceiling {ceiling:g} calls/s"
            )
            if "1" in skip:
                # Phase 1 warms the workers; without it, phase 2 would count the first jobs'
                # imports and the background connector imports (`settle`) as its own.
                warm_up(bench, [solo], args.procs * 2)
                say(f"  the workers idle {settle(workers):.1f} s after {args.procs * 2} warm-ups")
            bench.reset_stats(tenants)
            plan = [tenants[i % len(tenants)] for i in range(args.people)]
            before = meter.snapshot()
            jobs, submit_s, t0 = run_batch(bench, plan, timeout=600)
            costs["2"], after = meter.cost(before, [j["pk"] for j in jobs])
            stats = bench.stats(tenants)
            statuses = Counter(j["status"] for j in jobs)
            wall = wall_s(jobs, t0)
            ok = statuses["succeeded"]
            calls_served = served(stats)
            share = calls_served / wall / ceiling
            bursts = args.burst * len(tenants)
            share_no_burst = (calls_served - bursts) / wall / ceiling
            people_per_s = ok / wall
            figures["ceiling_share"] = share
            figures["vs_sequential_at_ceiling"] = people_per_s / sequential_rate
            figures["calls_per_onboarding"] = api_calls(stats) / max(1, len(jobs))
            latencies = sorted(
                ms(j["finished_at"] - j["created_at"]) for j in jobs if j["finished_at"]
            )
            say(
                f"  submitted in {submit_s:.1f} s ({len(plan) / submit_s:.0f}/s); "
                f"statuses {dict(statuses)}; all done after {wall:.1f} s"
            )
            say(
                f"  {calls_served} calls served ({stats['throttled']} answered 429), "
                f"{calls_served / wall:.1f} calls/s of {ceiling:g}: share {share:.3f} "
                f"({share_no_burst:.3f} without the initial bursts; target >= 0.9)"
            )
            say(
                f"  {people_per_s:.2f} people/s vs sequential {sequential_rate:.2f}: "
                f"{figures['vs_sequential_at_ceiling']:.1f}x; job latency p50 "
                f"{latencies[len(latencies) // 2]:.0f} ms, p95 "
                f"{latencies[int(len(latencies) * 0.95)]:.0f} ms; "
                f"task runs per job {sum(j['runs'] for j in jobs) / len(jobs):.2f}"
            )
            say(
                f"  round trips per onboarding {round_trips(stats) / len(jobs):.2f}, API calls "
                f"{figures['calls_per_onboarding']:.2f}; routes {stats['calls']}"
            )
            say("  " + costs["2"].line())
            say("  " + cores_line("phase 2", costs["2"].span))
            if args.times:
                time_split(counts, [j["pk"] for j in jobs], Path(f"{args.times}.phase2"))

        # 3. Fairness --------------------------------------------------------------------
        if "3" not in skip:
            nine = tenants[:9]
            rounds = "ABBA" if args.fair_rounds > 1 else "AB"
            say(
                f"== 3. fairness: nine tenants x {args.fair_people} onboardings alone (A), and "
                f"with a tenant throttled to 1 call/s submitting {args.throttled_people} (B); "
                f"rounds {rounds}"
            )
            walls: dict[str, list[float]] = {"A": [], "B": []}
            for kind in rounds:
                time.sleep(max(1.0, args.burst / (args.rate or args.burst)))  # buckets refill
                wall = fairness_round(bench, meter, nine, throttled if kind == "B" else None, args)
                walls[kind].append(wall)
            alone, together = sum(walls["A"]), sum(walls["B"])
            figures["fairness_slowdown"] = together / alone
            say(
                f"  the nine's wall times alone {[round(w, 2) for w in walls['A']]} s, with the "
                f"throttled tenant {[round(w, 2) for w in walls['B']]} s: slowdown "
                f"{together / alone:.3f} (target <= 1.10)"
            )

        # 4. The engine's own throughput: no rate limit -----------------------------------
        if "4" not in skip:
            unlimited = [
                bench.make_tenant(f"bench-u{i:02d}", None, None)
                for i in range(1, args.engine_tenants + 1)
            ]
            warm_tenant = bench.make_tenant("bench-uwarm", None, None)
            engine = phase_engine(bench, meter, unlimited, args, sequential_rate, warm_tenant)
            figures["engine_people_per_s"] = engine.people_per_s
            figures["vs_sequential"] = engine.people_per_s / sequential_rate
            figures["engine_cpu_ms_per_onboarding"] = engine.cost.cpu_ms
            figures["engine_sql_per_onboarding"] = engine.cost.sql
            figures["sandbox_cpu_ms"] = engine.sandbox_cpu_ms()
            if args.times:
                time_split(counts, engine.job_ids, Path(args.times))

        cost_phase = "2" if "2" in costs else "1"
        if cost_phase in costs:
            cost = costs[cost_phase]
            figures["cpu_ms_per_onboarding"] = cost.cpu_ms
            figures["worker_cpu_ms"] = cost.per(cost.worker_cpu_s)
            figures["postgres_cpu_ms"] = cost.postgres_ms
            figures["sql_per_onboarding"] = cost.sql
            say(f"== CPU and SQL per onboarding on the last line: phase {cost_phase}")
        say(
            "== SQL statements the workers ran outside any job (other tasks; outside a task): "
            f"{counts.not_jobs() or 'none'}"
        )
        run.append(cpu.span(run_start, cpu.sample()))
        say("== the whole run: " + run[0].machine())
    finally:
        if workers is not None:
            workers.stop()
        if bench is not None:
            cleanup_redis(queue)
        _harness.close_stack(sandbox, db_name, keep_db=args.keep_db, tmp=tmp)

    def fmt(name: str, digits: int) -> str:
        value = figures.get(name)
        return "nan" if value is None else f"{value:.{digits}f}"

    say(
        f"round_trips={fmt('round_trips', 0)} latency_ms={fmt('latency_ms', 0)} "
        f"ceiling_share={fmt('ceiling_share', 3)} vs_sequential={fmt('vs_sequential', 2)} "
        f"vs_sequential_at_ceiling={fmt('vs_sequential_at_ceiling', 2)} "
        f"engine_people_per_s={fmt('engine_people_per_s', 2)} "
        f"fairness_slowdown={fmt('fairness_slowdown', 3)} "
        f"calls_per_onboarding={fmt('calls_per_onboarding', 2)} "
        f"cpu_ms_per_onboarding={fmt('cpu_ms_per_onboarding', 1)} "
        f"worker_cpu_ms={fmt('worker_cpu_ms', 1)} postgres_cpu_ms={fmt('postgres_cpu_ms', 1)} "
        f"sql_per_onboarding={fmt('sql_per_onboarding', 1)} "
        f"engine_cpu_ms_per_onboarding={fmt('engine_cpu_ms_per_onboarding', 1)} "
        f"engine_sql_per_onboarding={fmt('engine_sql_per_onboarding', 1)} "
        f"sandbox_cpu_ms={fmt('sandbox_cpu_ms', 1)} "
        + (run[0].keys() if run else f"loadavg={_harness.loadavg_text()}")
    )


if __name__ == "__main__":
    main()
