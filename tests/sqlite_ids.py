"""On SQLite, no id is given twice in a session, as PostgreSQL's sequences never give one.

SQLite counts a table's ids in `sqlite_sequence` (Django's AUTOINCREMENT keys), a table like
any other: a test rolled back takes its counts back with its rows, and the next test's rows
get the same ids. A Celery task the rolled-back test sent (an on-commit callback a capture
executed, a `run_job.delay` of its own) carries those ids; a session worker that takes it
late, while a later test runs, then claims that test's job or person (session 29: "run 1
ended early"). The counts are read inside the test's transaction, before its rollback
(`counted`), and written back after it (`keep_counting`), never lower than they are: the
rolled-back ids are used up, whatever a late task asks of them finds nothing.
"""

from __future__ import annotations

import sqlite3

from django.db import connection, transaction

READ = "SELECT name, seq FROM sqlite_sequence"


def counted() -> dict[str, int]:
    """The id counts as this connection's open transaction sees them (on SQLite; nothing
    elsewhere, nor without a connection). Read through the driver's own connection: a test
    that failed inside an atomic block leaves Django refusing queries until the rollback."""
    raw = connection.connection
    if connection.vendor != "sqlite" or raw is None or not connection.in_atomic_block:
        return {}
    try:
        return dict(raw.execute(READ).fetchall())
    except sqlite3.ProgrammingError:  # closed by the test (as a task's end closes it): its
        return {}  # transaction, and the counts it took, went with it


def keep_counting(counts: dict[str, int]) -> None:
    """Raise each table's count to at least `counts`, committed at once (outside any
    atomic block). A count is only ever raised: a session worker may have counted further;
    the transaction (SQLite's IMMEDIATE, settings.py) keeps its writes out meanwhile."""
    if not counts:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(READ)
        now = dict(cursor.fetchall())
        for table, seq in counts.items():
            if table not in now:
                cursor.execute("INSERT INTO sqlite_sequence VALUES (%s, %s)", [table, seq])
            elif now[table] < seq:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [seq, table])
