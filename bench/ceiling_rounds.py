"""What the rate ceiling itself costs the workers: the same onboardings in interleaved rounds
on one stack (the sandbox, database, Redis and two workers as `bench/onboard.py` starts
them), so that a loaded machine's drift falls on every kind of round alike:

- F: ten directories with no rate limit, the round submitted at once (phase 4's kind);
- P: the same directories, the submits paced at `--pace` people/s (about the ceiling's
  people/s): the arrival of phase 2 without its ceiling;
- C: ten directories at `--rate` calls/s (burst `--burst`), the connections paced to match,
  submitted at once: `bench/onboard.py`'s phase 2.

P against F is what waiting between jobs costs (idle polling, wake-ups); C against P what
the pacing costs (parked runs, 429s, the line's timers). Every tenant-process pair is warmed
first, so no round pays a tenant's first job in a worker. Per round: CPU an onboarding
(workers + PostgreSQL + submit, as `bench/onboard.py` reads them), the sandbox's, SQL
statements and task runs a job, the load.

    .venv/bin/python bench/ceiling_rounds.py [--people 150] [--pace 6] [--rounds FPCCPF]

Last line: flat_worker_ms=<ms> paced_worker_ms=<ms> ceiling_worker_ms=<ms>
ceiling_runs=<n> loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m> (each the mean of
that kind's rounds; docs/benchmarks.md, "session 30: cpu22").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402
import onboard  # noqa: E402

TENANTS = 10
KINDS = {"F": "flat", "P": "paced", "C": "ceiling"}


def submit_round(bench: onboard.Bench, plan: list, pace: float) -> list[int]:
    """One onboarding per entry of `plan`: at once, or `pace` a second (0: at once)."""
    if not pace:
        return [bench.submit(t) for t in plan]
    start, ids = time.monotonic(), []
    for index, tenant in enumerate(plan):
        time.sleep(max(0.0, start + index / pace - time.monotonic()))
        ids.append(bench.submit(tenant))
    return ids


def run_round(kind: str, bench: onboard.Bench, meter: onboard.Meter, plan: list, pace: float):
    before = meter.snapshot()
    ids = submit_round(bench, plan, pace if kind == "P" else 0.0)
    bench.wait(ids, timeout=600)
    cost, _ = meter.cost(before, ids)
    people = len(ids)
    onboard.say(
        f"  {kind} ({KINDS[kind]}, {time.strftime('%H:%M:%S', time.gmtime())} UTC): "
        f"{cost.line()}; sandbox {cost.span.ms_per(people, 'sandbox'):.1f} ms; "
        f"{cost.span.machine()}"
    )
    return cost


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=150, help="onboardings a round")
    parser.add_argument("--pace", type=float, default=6.0, help="P: people/s submitted")
    parser.add_argument("--rate", type=float, default=10.0, help="C: calls/s per directory")
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--rounds", default="FPCCPF", help="F, P and C rounds in this order")
    args = parser.parse_args()
    if set(args.rounds) - set(KINDS):
        parser.error("--rounds takes F, P and C")
    load_start = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="bench-rounds-")
    root = Path(tmp.name)
    queue = f"bench-onboard-{os.getpid()}"
    db_name = f"{onboard.DB_PREFIX}_{os.getpid()}"
    sandbox = workers = None
    try:
        (root / "tls").mkdir()
        sandbox = _harness.start_sandbox(root / "tls")
        env = _harness.setup_stack(
            sandbox, db_name, queue, onboard.REDIS, BENCH_COUNTS_KEY=f"{queue}:counts"
        )
        bench = onboard.Bench(sandbox)
        free = [bench.make_tenant(f"bench-u{i:02d}", None, None) for i in range(TENANTS)]
        paced = [
            bench.make_tenant(f"bench-t{i:02d}", args.rate, args.burst) for i in range(TENANTS)
        ]
        workers = _harness.Workers(
            env, queue, root, procs=2, concurrency=8, pool="threads", include="bench._instrument"
        ).start()
        bench.workers = workers
        cpu = onboard.cpu_meter(sandbox.process.pid, [workers])
        meter = onboard.Meter(bench.submits, cpu, onboard.Counts(env["BENCH_COUNTS_KEY"]))
        onboard.warm_up(bench, free + paced, 4 * TENANTS)  # two a tenant: both workers, mostly
        onboard.warm_up(bench, free, 4 * TENANTS)
        onboard.say(
            f"== {args.rounds}: {args.people} onboardings a round over {TENANTS} tenants; "
            f"the workers idle {onboard.settle(workers):.1f} s after the warm-ups"
        )
        workers_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
        runs: list[float] = []
        for kind in args.rounds:
            tenants = paced if kind == "C" else free
            plan = [tenants[i % TENANTS] for i in range(args.people)]
            cost = run_round(kind, bench, meter, plan, args.pace)
            workers_ms[kind].append(cost.per(cost.worker_cpu_s))
            if kind == "C":
                runs.append(cost.task_runs / max(1, cost.onboardings))
                time.sleep(max(1.0, args.burst / args.rate))  # the buckets refill
    finally:
        if workers is not None:
            workers.stop()
        onboard.cleanup_redis(queue)
        _harness.close_stack(sandbox, db_name, keep_db=False, tmp=tmp)

    def mean(values: list[float]) -> str:
        return f"{statistics.fmean(values):.1f}" if values else "nan"

    onboard.say(
        f"flat_worker_ms={mean(workers_ms['F'])} paced_worker_ms={mean(workers_ms['P'])} "
        f"ceiling_worker_ms={mean(workers_ms['C'])} ceiling_runs="
        f"{statistics.fmean(runs) if runs else float('nan'):.2f} "
        f"loadavg_start={_harness.loadavg_text(load_start)} loadavg={_harness.loadavg_text()}"
    )


if __name__ == "__main__":
    main()
