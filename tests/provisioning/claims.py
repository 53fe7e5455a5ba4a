"""Another worker's claim of a job while this test's run is inside a transaction: on its
own connection (a thread), as far as it can get meanwhile, then what it reads once it holds
the job. PostgreSQL only: SQLite writes one at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection, connections

from provisioning.engine import serial


class ClaimMeanwhile(threading.Thread):
    def __init__(self, job_id: int, read: Callable[[], object]) -> None:
        super().__init__()
        self.job_id, self.read = job_id, read
        self.backend: int | None = None
        self.seen: list = []  # what `read` found once the claim was done
        self.errors: list[BaseException] = []
        self.connected = threading.Event()

    def run(self) -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.backend = cursor.fetchone()[0]
            self.connected.set()
            claimed, _ = serial.claim(self.job_id, 60)
            assert claimed is not None
            self.seen.append(self.read())
        except BaseException as error:  # reported to the main thread by finish()
            self.errors.append(error)
        finally:
            self.connected.set()
            connections.close_all()

    def claim_meanwhile(self) -> None:
        """Start the claim; return once it is done or waits for a lock of this thread's
        transaction (which returning lets end)."""
        self.start()
        assert self.connected.wait(timeout=30)
        for _ in range(3000):
            self.join(timeout=0.01)
            if not self.is_alive() or self.waits_for_a_lock():
                return
        raise AssertionError("the claim neither ended nor waited for a lock")

    def waits_for_a_lock(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", [self.backend])
            return cursor.fetchone() is not None

    def finish(self) -> None:
        self.join(timeout=60)
        assert not self.is_alive() and self.errors == [], self.errors
