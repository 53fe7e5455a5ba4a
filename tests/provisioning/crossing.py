"""Two asks crossing on PostgreSQL's row locks: one pauses holding a lock until the other
is seen waiting for one, then both go on (the crossing tests: leaves, files, drift,
adoption)."""

from __future__ import annotations

import threading
import time

from django.db import connection, connections

WAIT_S = 20  # a deadline no run reaches: the other ask is seen waiting within a second
FIRST = "takes its lock first"  # the thread that pauses holding it


def someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def released_once_waiting(first, second, release: threading.Event) -> None:
    """`first` (which pauses holding a lock until `release`, in the thread named FIRST) and
    `second` run; once a transaction waits for a lock, `release` is set. Neither may fail."""
    errors: list[str] = []

    def guarded(work):
        def run():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{work.__name__}: {type(exc).__name__}: {exc}")
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=guarded(first), name=FIRST)]
    threads.append(threading.Thread(target=guarded(second)))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT_S
    while not someone_waits_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
