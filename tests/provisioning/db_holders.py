"""What other processes hold open on the test database: a transaction, or on SQLite any lock
of the file. A worker frozen (SIGSTOP) while it holds one keeps it until it is woken or
dies, and keeps every other worker from what it locked: on PostgreSQL the rows (a claim waits
for the job's row, a round's fence for the person's), on SQLite the whole file (a write
transaction, or a read a commit must wait out). No lease can end that: a lease fences what a
run writes, not the locks a stopped process holds (docs/engine.md)."""

from __future__ import annotations

import sqlite3
import time

from django.db import connection

SETTLE_S = 0.5  # for a statement already sent to finish (its answer waits in the socket)


def held_by_others() -> list[str]:
    """What processes other than this one hold on the test database now; none: []."""
    if connection.vendor == "sqlite":
        return _sqlite_locks()
    deadline = time.monotonic() + SETTLE_S
    held = _postgresql_transactions()
    while any(state == "active" for state, _ in held) and time.monotonic() < deadline:
        time.sleep(0.02)
        held = _postgresql_transactions()
    return [f"{state}: {query}" for state, query in held]


def _sqlite_locks() -> list[str]:
    """An exclusive lock taken at once succeeds only while no other connection reads or
    writes the file (a shared, reserved or pending lock)."""
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN EXCLUSIVE")
        probe.execute("ROLLBACK")
        return []
    except sqlite3.OperationalError as exc:
        return [f"the database file: {exc}"]
    finally:
        probe.close()


def _postgresql_transactions() -> list[tuple[str, str]]:
    """(state, query) of the other backends in a transaction: an autocommit statement on
    its way counts while it is `active`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, left(query, 120) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        )
        return cursor.fetchall()
