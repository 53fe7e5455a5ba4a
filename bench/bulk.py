"""Bulk CSV onboarding, then offboarding, over the demo tenants, end to end on one machine.

Starts its own sandbox seeded with the demo directories (Contoso: Entra ID; Fabrikam: Okta;
Northwind: both), every directory answering with 30 ms latency and limited to `--rate`
calls/s; a fresh PostgreSQL database (`msp_portal_bench_bulk_<pid>`, migrated, `seed_demo`);
real Celery workers on Redis (own queue); `bench/sequential.py` for the baseline. Stops all
of it at the end, also on error. Then:

1. validation of a 5,000-row onboarding file (parse, check every row against the portal and
   the directory, store the preview): the time a technician waits for the preview;
2. a 1,000-row CSV onboarding split evenly over the demo tenants (one file each, every row
   through `provisioning.bulk.service`: upload, then start), until every job is done, after
   a warm-up (2 joiners per worker process and tenant, not measured);
3. the same 1,000 people offboarded by CSV (the tenants' presets); each file is held by the
   circuit breaker (it offboards everyone) and confirmed by an MSP admin at once;
4. the engine's own throughput: `--engine-rows` more joiners by CSV with the directories'
   rate limit lifted (30 ms latency still): people/s from the start of the files to the
   last job done, and against bench/sequential.py's people/s at the same latency.

Throughput is rate-limited calls the directories served per second ÷ the sum of their rates
(the ceiling), over phases 2 and 3. The demo SKUs get 2,000 more seats each, so that
licences run out for nobody. Per phase, CPU milliseconds per person (the workers from /proc,
the PostgreSQL backends serving the jobs read by the workers through bench/_instrument.py,
this process and its backend while it uploads and starts the files, as the web requests
would) and SQL statements per person (workers + uploads and starts), with the machine's
busy cores and load average (`_harness.CpuMeter`).

    .venv/bin/python bench/bulk.py [--rows 1000] [--rate 100] [--burst 200] [--procs 2]
        [--concurrency 8] [--validate-rows 5000] [--engine-rows 300] [--skip 4] [--keep-db]

Last line: rows=<n> wall_s=<seconds> ceiling_share=<0..1> rate=<calls/s per directory>
failed=<n> cpu_ms_per_onboarding=<ms> sql_per_onboarding=<n> engine_people_per_s=<n>
vs_sequential=<ratio> engine_cpu_ms_per_onboarding=<ms> loadavg_start=<1m>,<5m>,<15m>
loadavg=<1m>,<5m>,<15m> busy_cores=<n>
(cpu_ms and sql_per_onboarding from phase 2; loadavg and busy_cores over the whole run)
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402
from onboard import (  # noqa: E402
    DONE,
    REDIS,
    Cost,
    Counts,
    Meter,
    add_stats,
    cleanup_redis,
    cores_line,
    cpu_meter,
    run_sequential,
    served,
)

DB_PREFIX = "msp_portal_bench_bulk"
LATENCY_MS = 30
EXTRA_SEATS = 2_000
ENTRA_USERS = {"contoso": 120, "northwind": 60}  # as sandbox.seed.seed_state makes them


def say(text: str) -> None:
    print(text, flush=True)


# --- the stack -------------------------------------------------------------------------------


def directories() -> list[tuple[str, str, str]]:
    """(tenant slug, kind, sandbox id) of every demo directory."""
    from tenants import demo

    entra = [(slug, "entra", d["directory_id"]) for slug, d in demo.SANDBOX_ENTRA.items()]
    okta = [(slug, "okta", d["org"]) for slug, d in demo.SANDBOX_OKTA.items()]
    return entra + okta


def widen_seats(sandbox: _harness.Sandbox) -> None:
    """The demo Entra directories again, with EXTRA_SEATS more seats on every SKU."""
    from sandbox.seed import entra_demo_body

    with sandbox.control() as control:
        for key, users in ENTRA_USERS.items():
            body = entra_demo_body(key, users)
            for sku in body["skus"]:
                sku["seats"] += EXTRA_SEATS
            control.delete(f"/_sandbox/entra/{body['tenant_id']}").raise_for_status()
            control.post("/_sandbox/entra/tenants", json=body).raise_for_status()


def limit_directories(sandbox: _harness.Sandbox, rate: float | None, burst: int | None) -> None:
    """Latency and a rate limit on every demo directory (None: none); each connection paced
    to match ("unlimited" is a pace never reached)."""
    from provisioning import throttle
    from tenants.models import DirectoryConnection

    with sandbox.control() as control:
        for _, kind, ident in directories():
            settings = {"latency_ms": LATENCY_MS, "rate_per_s": rate, "burst": burst}
            control.put(f"/_sandbox/{kind}/{ident}/behaviour", json=settings).raise_for_status()
    for connection in DirectoryConnection.objects.all():
        connection.rate_limit_per_s, connection.rate_burst = rate or 100_000, burst or 100_000
        connection.save(update_fields=["rate_limit_per_s", "rate_burst"])
        throttle.reset(connection)


def directory_stats(sandbox: _harness.Sandbox) -> dict[str, dict]:
    """The stats of each demo directory, by "slug kind"."""
    with sandbox.control() as control:
        return {
            f"{slug} {kind}": control.get(f"/_sandbox/{kind}/{ident}/stats")
            .raise_for_status()
            .json()
            for slug, kind, ident in directories()
        }


def reset_stats(sandbox: _harness.Sandbox) -> None:
    with sandbox.control() as control:
        for _, kind, ident in directories():
            control.delete(f"/_sandbox/{kind}/{ident}/stats").raise_for_status()


# --- the files -------------------------------------------------------------------------------


def joiners_csv(tenant, first: int, count: int) -> bytes:
    from provisioning.bulk import columns, export
    from tenants.models import RoleTemplate

    roles = list(RoleTemplate.objects.filter(tenant=tenant).values_list("name", flat=True))
    header = columns.names(columns.ONBOARD)
    rows = [header]
    for n in range(first, first + count):
        cells = {"first_name": "Bulk", "last_name": f"P{n:05d}", "role": roles[n % len(roles)],
                 "employee_id": f"B{n:05d}"}  # fmt: skip
        rows.append([cells.get(name, "") for name in header])
    return export.write_rows(rows).encode()


def leavers_csv(usernames: list[str]) -> bytes:
    from provisioning.bulk import export

    return export.write_rows([["username", "leave_at"], *[[u, ""] for u in usernames]]).encode()


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- the phases ------------------------------------------------------------------------------


def phase_validate(tenant, rows: int, actor) -> float:
    """Seconds to parse, check and store a file of `rows` joiners: cold (the process's first
    directory read: SDK imports, token) and warm (what every later upload waits)."""
    from provisioning.bulk import parse, service, validate
    from provisioning.lifecycle import services as lifecycle

    data = joiners_csv(tenant, 900_000, rows)
    timings = []
    for label in ("cold", "warm"):
        started = time.monotonic()
        batch = service.upload(tenant, "onboard", "validate.csv", data, actor=actor)
        timings.append(time.monotonic() - started)
        say(
            f"  {label}: {rows:,} rows ({len(data) / 1024:.0f} KB) for {tenant.slug} parsed, "
            f"checked and stored in {timings[-1]:.2f} s; {batch.rows_valid:,} valid, "
            f"{batch.rows_total - batch.rows_valid} with errors"
        )
        lifecycle.cancel_batch(batch, actor=actor)
    started = time.monotonic()
    parsed = parse.parse(data, "onboard")
    parsed_s = time.monotonic() - started
    validate.validate(tenant, parsed)
    say(
        f"  of which parsing {parsed_s:.2f} s, checking {time.monotonic() - started - parsed_s:.2f}"
        f" s (one listing per directory), the rest storing {rows:,} rows and the audit event"
    )
    return timings[-1]


def wait_for(batches: list, timeout: float) -> list[dict]:
    from provisioning.models import Job

    deadline = time.monotonic() + timeout
    ids = [b.pk for b in batches]
    while time.monotonic() < deadline:
        if not Job.objects.filter(batch_id__in=ids).exclude(status__in=DONE).exists():
            break
        time.sleep(0.5)
    return list(Job.objects.filter(batch_id__in=ids).values("pk", "status", "finished_at", "error"))


def run_phase(label: str, sandbox, meter: Meter, upload, start, timeout: float) -> dict:
    """Upload the files (`upload()`: the batches), start each (`start(batch)`), wait, and
    measure: the wall time from the first start, the calls served, and the Cost of the jobs
    (the uploads and starts counted as their submits)."""
    from django.utils import timezone

    before = meter.snapshot()
    with meter.submits.count():
        uploads = upload()
    reset_stats(sandbox)
    t0 = timezone.now()
    began = time.monotonic()
    for batch in uploads:
        with meter.submits.count():
            start(batch)
    start_s = time.monotonic() - began
    jobs = wait_for(uploads, timeout)
    cost, _ = meter.cost(before, [j["pk"] for j in jobs])
    statuses = Counter(j["status"] for j in jobs)
    finished = [j["finished_at"] for j in jobs if j["finished_at"]]
    wall = (max(finished) - t0).total_seconds() if finished else float("nan")
    per_directory = directory_stats(sandbox)
    stats = add_stats(list(per_directory.values()))
    failed = len(jobs) - statuses["succeeded"]
    say(
        f"  {label}: {len(jobs)} jobs, {dict(statuses)}; jobs created in {start_s:.1f} s, "
        f"all done after {wall:.1f} s ({statuses['succeeded'] / wall:.2f} people/s); "
        f"{served(stats)} calls served, {stats['throttled']} answered 429"
    )
    say(
        "    calls served per directory: "
        + ", ".join(f"{name} {served(s)}" for name, s in per_directory.items())
    )
    say("    " + cost.line().replace("per onboarding", "per person"))
    say("    " + cores_line("CPU", cost.span))
    for error in sorted({j["error"] for j in jobs if j["status"] != "succeeded"})[:5]:
        say(f"    failure: {error[:200]}")
    return {
        "jobs": jobs,
        "wall": wall,
        "served": served(stats),
        "failed": failed,
        "uploads": uploads,
        "cost": cost,
        "people_per_s": statuses["succeeded"] / wall,
    }


def main() -> None:  # noqa: PLR0915 - one run, phase after phase, reads best top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--validate-rows", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls/s per directory")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--engine-rows", type=int, default=300, help="phase 4, no rate limit")
    parser.add_argument("--sequential-people", type=int, default=40)
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: 4")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--timeout", type=float, default=900.0, help="per phase, seconds")
    parser.add_argument(
        "--db", default="", help="database name (default msp_portal_bench_bulk_<pid>)"
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    sequential_rate = None
    if "4" not in skip:
        say(f"== baseline: bench/sequential.py, {args.sequential_people} people, {LATENCY_MS} ms")
        sequential_rate = run_sequential(args.sequential_people)

    tmp = tempfile.TemporaryDirectory(prefix="bench-bulk-")
    root = Path(tmp.name)
    sandbox = workers = None
    queue = f"bench-bulk-{os.getpid()}"
    prefix = f"bench-bulk-{os.getpid()}"
    db_name = args.db or f"{DB_PREFIX}_{os.getpid()}"
    figures: dict[str, float] = {}
    run: list[_harness.Span] = []  # workers started to stopped: the load line's figures
    try:
        (root / "tls").mkdir()
        sandbox = _harness.start_sandbox(root / "tls", seed="demo")
        widen_seats(sandbox)
        # bench/_instrument.py, which the workers --include, counts SQL statements and
        # PostgreSQL CPU per job into Redis under BENCH_COUNTS_KEY.
        env = _harness.setup_stack(
            sandbox, db_name, prefix, REDIS, BENCH_COUNTS_KEY=f"{prefix}:counts"
        )
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from provisioning.bulk import service
        from provisioning.lifecycle import services as lifecycle
        from tenants.models import Tenant

        call_command("seed_demo", verbosity=0, stdout=io.StringIO())
        limit_directories(sandbox, args.rate, args.burst)
        users = get_user_model().objects
        tech, admin = users.get(username="tech"), users.get(username="admin")
        tenants = list(Tenant.objects.filter(slug__in=["contoso", "fabrikam", "northwind"]))
        ceiling = args.rate * len(directories())
        workers = _harness.Workers(
            env,
            queue,
            root,
            procs=args.procs,
            concurrency=args.concurrency,
            pool=args.pool,
            include="bench._instrument",
        ).start()
        cpu = cpu_meter(sandbox.process.pid, [workers])
        run_start = cpu.sample()
        meter = Meter(_harness.Submits(), cpu, Counts(env["BENCH_COUNTS_KEY"]))
        say(
            f"== stack: sandbox {sandbox.url} (demo directories: {len(directories())}, "
            f"{LATENCY_MS} ms, {args.rate:g} calls/s, burst {args.burst}: ceiling {ceiling:g} "
            f"calls/s), PostgreSQL {db_name}, {args.procs} worker(s) x {args.pool} "
            f"{args.concurrency}; load average {_harness.loadavg_text()}"
        )

        say(f"== 1. validation of a {args.validate_rows:,}-row onboarding file")
        contoso = next(t for t in tenants if t.slug == "contoso")
        figures["validate_s"] = phase_validate(contoso, args.validate_rows, tech)

        def joiner_files(rows: int, first: int) -> list:
            files = []
            for tenant, count in zip(tenants, split(rows, len(tenants)), strict=True):
                data = joiners_csv(tenant, first, count)
                files.append(service.upload(tenant, "onboard", "joiners.csv", data, actor=tech))
                first += count
            return files

        def start(batch):
            service.start(batch, actor=tech)

        # Every worker process runs the engine once (imports, each directory's first token)
        # before anything is measured.
        warm_up = joiner_files(args.procs * 2 * len(tenants), 800_000)
        for batch in warm_up:
            start(batch)
        wait_for(warm_up, args.timeout)

        say(f"== 2. CSV onboarding: {args.rows:,} rows over {len(tenants)} demo tenants")
        onboarding = run_phase(
            "onboarding", sandbox, meter, lambda: joiner_files(args.rows, 0), start, args.timeout
        )
        joiners = onboarding["uploads"]
        invalid = sum(b.rows_total - b.rows_valid for b in joiners)
        say(f"    uploaded {len(joiners)} files; {invalid} invalid rows")

        say("== 3. CSV offboarding of the same people (held, then confirmed by an MSP admin)")

        def leaver_files() -> list:
            files = []
            for batch in joiners:
                usernames = batch.rows.filter(job__status="succeeded").values_list(
                    "identity__username", flat=True
                )
                data = leavers_csv(list(usernames))
                files.append(
                    service.upload(batch.tenant, "offboard", "leavers.csv", data, actor=tech)
                )
            return files

        def start_and_confirm(batch):
            started = service.start(batch, actor=tech)
            if started.held:
                lifecycle.confirm_batch(batch, actor=admin)

        offboarding = run_phase(
            "offboarding", sandbox, meter, leaver_files, start_and_confirm, args.timeout
        )

        phases = (onboarding, offboarding)
        wall = sum(p["wall"] for p in phases)
        share = sum(p["served"] for p in phases) / wall / ceiling
        for label, phase in (("onboarding", onboarding), ("offboarding", offboarding)):
            say(
                f"  {label}: {len(phase['jobs']) / phase['wall']:.1f} people/s, "
                f"{phase['served'] / phase['wall']:.1f} calls/s of {ceiling:g}: share "
                f"{phase['served'] / phase['wall'] / ceiling:.3f}"
            )
        onboarding_cost: Cost = onboarding["cost"]
        figures |= {
            "rows": args.rows,
            "wall_s": wall,
            "ceiling_share": share,
            "failed": sum(p["failed"] for p in phases) + invalid,
            "cpu_ms_per_onboarding": onboarding_cost.cpu_ms,
            "sql_per_onboarding": onboarding_cost.sql,
        }

        if "4" not in skip and sequential_rate is not None:
            say(
                f"== 4. the engine's throughput: {args.engine_rows:,} more joiners by CSV, the "
                f"directories' rate limit lifted ({LATENCY_MS} ms)"
            )
            limit_directories(sandbox, None, None)
            engine = run_phase(
                "onboarding, no rate limit",
                sandbox,
                meter,
                lambda: joiner_files(args.engine_rows, args.rows),
                start,
                args.timeout,
            )
            figures["engine_people_per_s"] = engine["people_per_s"]
            figures["vs_sequential"] = engine["people_per_s"] / sequential_rate
            figures["engine_cpu_ms_per_onboarding"] = engine["cost"].cpu_ms
            figures["failed"] += engine["failed"]
            say(
                f"  {engine['people_per_s']:.2f} people/s vs sequential {sequential_rate:.2f} "
                f"(one SDK call at a time, same latency): "
                f"{figures['vs_sequential']:.1f}x (target >= 20)"
            )
        run.append(cpu.span(run_start, cpu.sample()))
        say("== the whole run: " + run[0].machine())
        say(f"validate_rows={args.validate_rows} validate_s={figures['validate_s']:.2f}")
    finally:
        if workers is not None:
            workers.stop()
        cleanup_redis(queue)
        _drop_prefixed(prefix)
        _harness.close_stack(sandbox, db_name, keep_db=args.keep_db, tmp=tmp)

    def fmt(name: str, digits: int) -> str:
        value = figures.get(name)
        return "nan" if value is None else f"{value:.{digits}f}"

    say(
        f"rows={fmt('rows', 0)} wall_s={fmt('wall_s', 1)} "
        f"ceiling_share={fmt('ceiling_share', 3)} rate={args.rate:g} failed={fmt('failed', 0)} "
        f"cpu_ms_per_onboarding={fmt('cpu_ms_per_onboarding', 1)} "
        f"sql_per_onboarding={fmt('sql_per_onboarding', 1)} "
        f"engine_people_per_s={fmt('engine_people_per_s', 2)} "
        f"vs_sequential={fmt('vs_sequential', 2)} "
        f"engine_cpu_ms_per_onboarding={fmt('engine_cpu_ms_per_onboarding', 1)} "
        + (run[0].keys() if run else f"loadavg={_harness.loadavg_text()}")
    )


def _drop_prefixed(prefix: str) -> None:
    """Our token buckets and quarantine windows in Redis (keys under our own prefix)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


if __name__ == "__main__":
    main()
