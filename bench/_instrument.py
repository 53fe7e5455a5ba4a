"""What a bench loads into its Celery workers: SQL statements and PostgreSQL CPU per job.

Loaded with `celery -A portal worker --include bench._instrument` (see `_harness.Workers`)
and active only when the bench sets `BENCH_COUNTS_KEY` (a Redis key prefix) and `REDIS_URL`:
the product's code is not touched and a worker started any other way counts nothing.

Per task run, in the thread that runs it:
- every SQL statement Django sends through a cursor (a `connection.execute_wrapper`, added
  to each database connection as it opens; an `executemany` is one statement; the BEGIN and
  COMMIT psycopg sends on its own are not seen);
- the CPU time of the PostgreSQL backend serving the thread's connection, from
  `/proc/<backend pid>/stat`, read at `task_postrun` before Celery's Django fixup closes the
  connection (its receivers are connected at `worker_init`, after `--include` modules are
  imported, and receivers run in the order they were connected).

At `task_postrun` the run's figures are added, in one Redis round trip, to hashes keyed by
the job id (`<prefix>:sql`, `<prefix>:pg_cpu_s`, `<prefix>:runs`); tasks without a job id
count under `other:<task name>`, statements outside any task under `outside`.
`<prefix>:running` counts the task runs of each job in progress (+1 at `task_prerun`, -1
with the flush), so a bench can wait until every run of its jobs has been flushed.

With `BENCH_SQL_SITES=1` as well, each statement of a job's run is also counted under where
the engine sent it, in `<prefix>:sites` keyed `<job id>|<engine step>|<caller>`: the engine
step is the two outermost frames below `executor.execute` / `_run` (`serial.claim`,
`executor.plan_job>executor.write_steps` ...), the caller the innermost frame of the
product's own code (not Django's). With `BENCH_TIMES=1`, each task run's wall time is split
into what its thread waited for and what it ran, pushed as one JSON row to `<prefix>:times`:
the thread's CPU, the wall time in SQL statements and in `bridge.run` (waiting for the SDK's
loop), how long each bridge call waited before the loop began it (the loop's backlog), and
the runs in flight in the process at its start; the rest of the wall time is time the thread
was runnable without running (the GIL, the cores) or in Redis. A run that parks the job
(`parking.wait`) says why in the row's `parked`: the reason's first words, the engine's
functions that called the park, and the pacing's options on the job as it parked (what the
round has paid, its calls to come, its reservations). With `BENCH_PROFILE=<folder>`,
every task run is profiled with cProfile and written there as `<job id>-<n>.prof`. Both cost
CPU: for a diagnostic run (`bench/onboard.py --diagnose`), never in the figures.

Not a bench: `make bench` skips files starting with `_`.
"""

from __future__ import annotations

import cProfile
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import connection as default_connection
from django.db.backends.signals import connection_created

from bench._harness import process_cpu_seconds

KEY = os.environ.get("BENCH_COUNTS_KEY", "")
JOB_TASKS = {"provisioning.tasks.run_job"}
SITES = os.environ.get("BENCH_SQL_SITES") == "1"
PROFILE_DIR = os.environ.get("BENCH_PROFILE", "")
TIMES = os.environ.get("BENCH_TIMES") == "1"
PRODUCT = ("/portal/", "/provisioning/", "/tenants/", "/accounts/")
ENGINE_TOP = {"execute", "_run"}
_profile_serial = itertools.count(1)

_state = threading.local()
_lock = threading.Lock()
_outside = 0
_redis: Any = None
_in_flight = 0


def count_statement(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    global _outside
    if getattr(_state, "key", None) is None:
        with _lock:
            _outside += 1
    else:
        _state.sql += 1
        if SITES:
            site = _site()
            _state.sites[site] = _state.sites.get(site, 0) + 1
        if TIMES:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                _state.sql_s += time.perf_counter() - started
    return execute(sql, params, many, context)


def _site() -> str:
    """`<engine step>|<caller>` of the statement being sent (see the module's docstring)."""
    frame = sys._getframe(2)
    chain: list[str] = []  # the product's frames, innermost first
    while frame is not None:
        path = frame.f_code.co_filename
        if "/site-packages/" not in path and any(part in path for part in PRODUCT):
            if "/engine/" in path and frame.f_code.co_name in ENGINE_TOP:
                break
            chain.append(f"{Path(path).stem}.{frame.f_code.co_name}")
        frame = frame.f_back
    step = ">".join(reversed(chain[-2:])) or "?"
    return f"{step}|{chain[0] if chain else '?'}"


def _with_counter(wrapper: Any) -> None:
    if count_statement not in wrapper.execute_wrappers:
        wrapper.execute_wrappers.append(count_statement)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _with_counter(connection)


def _job_key(task: Any, args: Any, kwargs: Any) -> str:
    if task is not None and task.name in JOB_TASKS:
        job_id = args[0] if args else (kwargs or {}).get("job_id")
        if job_id is not None:
            return str(job_id)
    return f"other:{getattr(task, 'name', '?')}"


def _backend_cpu_delta() -> float:
    """CPU the thread's PostgreSQL backend used since we last looked at it (0 if closed).
    Remembered per thread with the connection object: a backend pid can come back."""
    raw = default_connection.connection
    if raw is None:
        return 0.0
    now = process_cpu_seconds(raw.info.backend_pid)
    if now is None:
        return 0.0
    seen = _state.seen if getattr(_state, "raw", None) is raw else 0.0
    _state.raw, _state.seen = raw, now
    return now - seen


def _on_prerun(task: Any = None, args: Any = None, kwargs: Any = None, **extra: Any) -> None:
    _with_counter(default_connection)
    _backend_cpu_delta()  # an open connection's earlier CPU belongs to earlier runs
    _state.key, _state.sql, _state.sites = _job_key(task, args, kwargs), 0, {}
    _redis.hincrby(f"{KEY}:running", _state.key, 1)
    if TIMES:
        _start_times()
    if PROFILE_DIR:
        _state.profile = cProfile.Profile()
        _state.profile.enable()


def _on_postrun(**extra: Any) -> None:
    global _outside
    key = getattr(_state, "key", None)
    if key is None:
        return
    if PROFILE_DIR and getattr(_state, "profile", None) is not None:
        _state.profile.disable()
        _state.profile.dump_stats(Path(PROFILE_DIR) / f"{key}-{next(_profile_serial)}.prof")
        _state.profile = None
    pg_cpu = _backend_cpu_delta()
    with _lock:
        outside, _outside = _outside, 0
    pipe = _redis.pipeline(transaction=False)
    pipe.hincrby(f"{KEY}:sql", key, _state.sql)
    pipe.hincrbyfloat(f"{KEY}:pg_cpu_s", key, pg_cpu)
    pipe.hincrby(f"{KEY}:runs", key, 1)
    for site, n in _state.sites.items():
        pipe.hincrby(f"{KEY}:sites", f"{key}|{site}", n)
    if outside:
        pipe.hincrby(f"{KEY}:sql", "outside", outside)
    pipe.hincrby(f"{KEY}:running", key, -1)
    if TIMES:
        pipe.rpush(f"{KEY}:times", json.dumps(_end_times(key)))
    pipe.execute()
    _state.key = None


def _start_times() -> None:
    global _in_flight
    with _lock:
        _in_flight += 1
        _state.in_flight = _in_flight
    _state.sql_s = _state.bridge_s = _state.backlog_s = 0.0
    _state.bridge_n = 0
    _state.parked = None
    _state.t0, _state.cpu0 = time.time(), time.thread_time()


def _end_times(key: str) -> dict:
    global _in_flight
    with _lock:
        _in_flight -= 1
    return {
        "job": key, "pid": os.getpid(), "t0": _state.t0, "t1": time.time(),
        "cpu": time.thread_time() - _state.cpu0, "sql_n": _state.sql, "sql_s": _state.sql_s,
        "bridge_n": _state.bridge_n, "bridge_s": _state.bridge_s,
        "backlog_s": _state.backlog_s, "in_flight": _state.in_flight, "loop_cpu": _loop_cpu(),
        "parked": _state.parked,
        "tid": threading.get_native_id(),
        "threads": {t.native_id: t.name for t in threading.enumerate()},
    }  # fmt: skip


def _loop_cpu() -> float:
    """CPU seconds the bridge's loop thread has used so far (0 before it started)."""
    loop = next((t for t in threading.enumerate() if t.name == "sdk-bridge"), None)
    if loop is None or loop.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(loop.ident))


def _timed_bridge() -> None:
    """`bridge.run` timed: the wall time the calling thread waits, and how long each call
    waited on the loop before it began (the loop busy with other threads' calls)."""
    from provisioning.connectors import bridge

    original = bridge.run

    def run(coroutine: Any, timeout: float = bridge.CALL_TIMEOUT_S) -> Any:
        sent = time.perf_counter()
        began: list[float] = []

        async def marked() -> Any:
            began.append(time.perf_counter())
            return await coroutine

        try:
            return original(marked(), timeout)
        finally:
            if getattr(_state, "key", None) is not None and TIMES:
                _state.bridge_n += 1
                _state.bridge_s += time.perf_counter() - sent
                _state.backlog_s += (began[0] if began else time.perf_counter()) - sent

    bridge.run = run


def _parks_said() -> None:
    """`parking.wait` in every engine module that imported it, wrapped to keep why the run
    parked (no statement more: what the run holds, and its stack)."""
    from provisioning.engine import admission, crashes, executor, parking, steps

    original = parking.wait
    paced = ("paid", "round_calls", "reserved", "turn_wants", "round")

    def wait(job: Any, reason: str, retry_in: float | None) -> Any:
        if getattr(_state, "key", None) is not None:
            frame, chain = sys._getframe(1), []
            while frame is not None and frame.f_code.co_name not in ENGINE_TOP:
                if "/provisioning/" in frame.f_code.co_filename:
                    chain.append(frame.f_code.co_name)
                frame = frame.f_back
            options = job.options or {}
            _state.parked = {
                "reason": " ".join(reason.split()[:3]),
                "by": "<".join(chain[:5]),
                "retry_in": retry_in,
                **{k: options[k] for k in paced if k in options},
            }
        return original(job, reason, retry_in)

    for module in (admission, crashes, executor, steps):
        if getattr(module, "wait", None) is original:
            module.wait = wait


if KEY and os.environ.get("REDIS_URL"):
    import redis

    _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    connection_created.connect(_on_connection_created, weak=False)
    task_prerun.connect(_on_prerun, weak=False)
    task_postrun.connect(_on_postrun, weak=False)
    if TIMES:
        _timed_bridge()
        _parks_said()
