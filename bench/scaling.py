"""How the engine's throughput grows with worker processes and hosts, with no rate limit.

Starts its own sandbox, a fresh PostgreSQL database (`msp_portal_bench_scaling_<pid>`), and
Redis queue, as bench/onboard.py does (its Bench, Meter and phase 4 are reused). Then, for
each configuration of `--configs` (default `1,2,3,1+1`: one host with 1, 2 and 3 worker
processes, then two hosts with one each), starts the workers, warms them up, onboards
`--people` people (1 licence, 5 groups, 1 app) over `--tenants` tenants whose directories
answer in 30 ms with no rate limit, measures, and stops the workers. A host is a
`_harness.Fleet` entry: its own copy of the environment, its own process groups and
database connections; on this machine every host shares the same cores, so a host adds
nothing a worker process does not, except what would break if two processes shared state
they should not.

Per configuration: people/s from the first submit to the last job done, CPU milliseconds per
person (the worker processes from /proc, the PostgreSQL backends serving the jobs read by the
workers through bench/_instrument.py, the submits here and in their backend), SQL statements
per person, the ratio to one worker process, and the machine's busy cores and load average
meanwhile (a shared machine: a ratio means little when the machine had no core to give).

    .venv/bin/python bench/scaling.py [--configs 1,2,3,1+1] [--people 100] [--tenants 10]
        [--concurrency 8] [--pool threads] [--submitters 4]

Last line, per configuration (`<processes>w<hosts>h`): people_per_s_1w1h=<n> ...
cpu_ms_per_person_1w1h=<ms> ... ratio_2w1h=<n> ... and loadavg_start=, loadavg=,
busy_cores= over the whole run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402
from onboard import (  # noqa: E402
    LATENCY_MS,
    REDIS,
    Bench,
    Counts,
    Meter,
    Throughput,
    cleanup_redis,
    cpu_meter,
    engine_throughput,
    submitted_line,
    warm_up,
)

DB_PREFIX = "msp_portal_bench_scaling"


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Config:
    per_host: list[int]  # worker processes on each host

    @classmethod
    def parse(cls, text: str) -> Config:
        return cls([int(n) for n in text.split("+")])

    @property
    def processes(self) -> int:
        return sum(self.per_host)

    @property
    def key(self) -> str:
        return f"{self.processes}w{len(self.per_host)}h"

    @property
    def label(self) -> str:
        hosts = len(self.per_host)
        where = "one host" if hosts == 1 else f"{hosts} hosts ({'+'.join(map(str, self.per_host))})"
        return f"{self.processes} worker process{'es' if self.processes > 1 else ''}, {where}"


def measure(bench: Bench, counts: Counts, config: Config, tenants: list, args, env, root):
    """Start the config's workers, warm them up, measure `args.people` onboardings, stop."""
    fleet = _harness.Fleet(
        env,
        env["CELERY_QUEUE"],
        root,
        config.per_host,
        concurrency=args.concurrency,
        pool=args.pool,
        include="bench._instrument",
    )
    try:
        fleet.start()
        bench.workers = fleet
        meter = Meter(bench.submits, cpu_meter(bench.sandbox.process.pid, [fleet]), counts)
        warm_up(bench, tenants, config.processes * 4)
        return engine_throughput(bench, meter, tenants, args.people, args.submitters)
    finally:
        bench.workers = None
        fleet.stop()


def one_worker(results: list[tuple[Config, Throughput]]) -> float | None:
    """People/s of one worker process on one host, the ratios' base (None if not run)."""
    return next((r.people_per_s for c, r in results if c.key == "1w1h"), None)


def table(results: list[tuple[Config, Throughput]]) -> None:
    """People/s, CPU and SQL per person by configuration; the cores our processes got (the
    workers, the sandbox, the bench and the whole local PostgreSQL server) and the cores
    the whole machine was busy: a ratio means little when the machine had none to give."""
    base = one_worker(results)
    say(
        f"  {'workers':<36}{'people/s':>9}{'ratio':>7}{'CPU ms/person':>15}"
        f"{'(workers':>10}{'PG':>7}{'submit)':>9}{'SQL':>6}{'ours':>6}{'machine':>9}  load average"
    )
    for config, result in results:
        cost, span = result.cost, result.cost.span
        ratio = f"{result.people_per_s / base:7.2f}" if base else f"{'–':>7}"
        say(
            f"  {config.label:<36}{result.people_per_s:9.2f}{ratio}{cost.cpu_ms:15.1f}"
            f"{cost.per(cost.worker_cpu_s):10.1f}{cost.postgres_ms:7.1f}"
            f"{cost.per(cost.submit_cpu_s):9.1f}{cost.sql:6.1f}{span.cpu_s / span.wall:6.2f}"
            f"{span.busy_cores:9.2f}  "
            f"{_harness.loadavg_text(span.loadavg_start)} -> "
            f"{_harness.loadavg_text(span.loadavg_end)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="1,2,3,1+1", help="worker processes per host")
    parser.add_argument("--people", type=int, default=100, help="onboardings per configuration")
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--submitters", type=int, default=4, help="threads submitting at once")
    parser.add_argument("--concurrency", type=int, default=8, help="pool size per worker")
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--db", default="", help="database name (default ..._scaling_<pid>)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    configs = [Config.parse(text) for text in args.configs.split(",")]

    tmp = tempfile.TemporaryDirectory(prefix="bench-scaling-")
    root = Path(tmp.name)
    sandbox = None
    queue = f"bench-scaling-{os.getpid()}"
    db_name = args.db or f"{DB_PREFIX}_{os.getpid()}"
    results: list[tuple[Config, Throughput]] = []
    run: list[_harness.Span] = []
    try:
        (root / "tls").mkdir()
        sandbox = _harness.start_sandbox(root / "tls")
        env = _harness.setup_stack(
            sandbox, db_name, queue, REDIS, BENCH_COUNTS_KEY=f"{queue}:counts"
        )

        bench = Bench(sandbox)
        tenants = [bench.make_tenant(f"bench-u{i:02d}", None, None) for i in range(args.tenants)]
        counts = Counts(env["BENCH_COUNTS_KEY"])
        machine = _harness.CpuMeter()
        run_start = machine.sample()
        say(
            f"== stack: sandbox {sandbox.url}, PostgreSQL {db_name}, Redis {REDIS} queue {queue}; "
            f"{args.people} onboardings over {len(tenants)} tenants per configuration, no rate "
            f"limit, {LATENCY_MS} ms; {args.pool} x {args.concurrency} per worker process; "
            f"{os.cpu_count()} CPUs, load average {_harness.loadavg_text()}"
        )
        for config in configs:
            say(f"== {config.label}")
            result = measure(bench, counts, config, tenants, args, env, root)
            results.append((config, result))
            say(f"  {result.people_per_s:.2f} people/s; " + submitted_line(result, args.submitters))
            say("  " + result.cost.line())
            say("  " + result.cost.span.line(args.people, "person"))
        run.append(machine.span(run_start, machine.sample()))
        say("== throughput by worker processes (no rate limit)")
        table(results)
        say("== the whole run: " + run[0].machine())
    finally:
        cleanup_redis(queue)
        _harness.close_stack(sandbox, db_name, keep_db=args.keep_db, tmp=tmp)

    base = one_worker(results)
    figures = []
    for config, result in results:
        figures.append(f"people_per_s_{config.key}={result.people_per_s:.2f}")
    for config, result in results:
        figures.append(f"cpu_ms_per_person_{config.key}={result.cost.cpu_ms:.1f}")
    for config, result in results:
        if base and config.key != "1w1h":
            figures.append(f"ratio_{config.key}={result.people_per_s / base:.2f}")
    say(" ".join([*figures, run[0].keys() if run else f"loadavg={_harness.loadavg_text()}"]))


if __name__ == "__main__":
    main()
