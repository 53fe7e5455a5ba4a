"""CPU of a worker per task message that does no work: what Celery, kombu and the Redis
broker and cache cost around each task run, before any engine code.

Starts one Celery worker as the other benches do (`_harness.Workers`: threads, without
gossip, mingle, heartbeat) on a fresh PostgreSQL database (`--db`, default
`msp_portal_bench_<pid>`, dropped at the end) and on `BENCH_REDIS_URL` (own queue and key
prefix), waits for it to settle, then sends `--messages` `run_job` messages of jobs marked
ended in the cache, each of which returns at `fallback_after_the_end` after one cache `GET`,
and reads the worker's CPU from /proc over them (until the queue and kombu's unacked record
are empty). `--countdown` sends them with a countdown (held by the worker as ETA tasks).
No sandbox is started: no task here calls a directory.

    .venv/bin/python bench/task_messages.py [--messages 1000] [--countdown 0] [--db NAME]

Last line: worker_cpu_ms_per_message=<ms> messages=<n> seconds=<wall>
loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
FIRST_JOB_ID = 10_000_000  # no such job: the cache's "ended" mark is all a run reads
SETTLED_CPU_S = 0.04  # a worker using less than this over 2 s has finished its start-up


def settle(workers: _harness.Workers, timeout_s: float = 90) -> None:
    """Until the worker's start-up (imports, the background connector warm-up) is over."""
    last = workers.cpu_seconds()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(2)
        now = workers.cpu_seconds()
        if now - last < SETTLED_CPU_S:
            return
        last = now


def send_and_wait(count: int, countdown: float, queue: str) -> None:
    import redis
    from django.core.cache import cache

    from provisioning.engine import admission
    from provisioning.engine.tasks import run_job

    ids = range(FIRST_JOB_ID, FIRST_JOB_ID + count)
    for job_id in ids:
        cache.set(admission._ended_key(job_id), True, timeout=3600)  # noqa: SLF001 - the bench's mark
    broker = redis.Redis.from_url(REDIS)
    for job_id in ids:
        run_job.apply_async((job_id,), countdown=countdown or None)
    while broker.llen(queue) or broker.zcard("unacked_index") or broker.hlen("unacked"):
        time.sleep(0.05)
    broker.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--countdown", type=float, default=0.0)
    parser.add_argument("--db", default="", help="database name (default msp_portal_bench_<pid>)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="bench-messages-")
    db_name = args.db or f"msp_portal_bench_{os.getpid()}"
    prefix = f"bench-messages-{os.getpid()}"
    no_sandbox = SimpleNamespace(url="https://127.0.0.1:9", ca=Path(tmp.name) / "none.pem")
    workers = None
    try:
        env = _harness.setup_stack(no_sandbox, db_name, prefix, REDIS)
        workers = _harness.Workers(
            env=env, queue=prefix, log_dir=Path(tmp.name), procs=1, concurrency=8, pool="threads"
        ).start()
        settle(workers)
        load_start = os.getloadavg()
        cpu, wall = workers.cpu_seconds(), time.monotonic()
        send_and_wait(args.messages, args.countdown, prefix)
        cpu, wall = workers.cpu_seconds() - cpu, time.monotonic() - wall
        print(
            f"worker_cpu_ms_per_message={cpu * 1000 / args.messages:.3f} "
            f"messages={args.messages} seconds={wall:.1f} "
            f"loadavg_start={_harness.loadavg_text(load_start)} "
            f"loadavg={_harness.loadavg_text()}",
            flush=True,
        )
    finally:
        if workers is not None:
            workers.stop()
        _harness.close_stack(None, db_name, keep_db=False, tmp=tmp)


if __name__ == "__main__":
    main()
