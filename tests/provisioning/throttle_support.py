"""Shared by the throttle and quarantine tests: both backends, and other processes.

`limiter_backend` runs a test once on the database (no REDIS_URL, the embedded default) and
once on Redis (db 15 of the local server; this run's keys, under its own REDIS_KEY_PREFIX,
are removed before and after, so runs side by side never disturb each other).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection, connections

# A run beside others may name a Redis of its own (their keys are this run's prefix's anyway).
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["database", "redis"])
def limiter_backend(request, settings) -> Iterator[str]:
    if request.param == "database":
        settings.REDIS_URL = ""
        yield "database"
        return
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        _forget_our_keys(client, settings.REDIS_KEY_PREFIX)
    except redis.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    settings.REDIS_URL = REDIS_TEST_URL
    yield "redis"
    _forget_our_keys(client, settings.REDIS_KEY_PREFIX)
    client.close()


def _forget_our_keys(client, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def database_shared_between_threads() -> bool:
    """False for SQLite in memory, where other connections get "table is locked" at once
    instead of waiting; a test database in a file (or PostgreSQL) serialises them properly."""
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def run_threads(count: int, target: Callable[[int], object]) -> list[object]:
    """Start `count` threads together; each one's result, or the exception it raised."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(n: int) -> None:
        try:
            start.wait()
            results[n] = target(n)
        except BaseException as error:  # handed to the test, which asserts on it
            results[n] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def this_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_hammers(count: int, redis_url: str, *args: str) -> list[subprocess.Popen]:
    """`count` processes of tests/provisioning/throttle_hammer.py, each waiting for "go"."""
    env = {**os.environ, "DATABASE_URL": this_database_url(), "REDIS_URL": redis_url}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [sys.executable, "-m", "tests.provisioning.throttle_hammer", *args]
    processes = [
        subprocess.Popen(  # noqa: S603
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        ready = process.stdout.readline().strip()
        assert ready == "ready", process.stderr.read()
    return processes
