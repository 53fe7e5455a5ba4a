"""The test workers' freeze (tests/provisioning/worker.py) leaves the database free for the
others: a worker frozen inside a transaction would hold its locks until woken."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from django.db import connection, transaction

from tests.provisioning import worker

pytestmark = pytest.mark.django_db(transaction=True)

LOCK = 4242  # the holder's advisory lock on PostgreSQL

# Two seconds in a transaction, a fifth of a second out, saying when it has begun one.
HOLDER_SQLITE = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
while True:
    db.execute("BEGIN IMMEDIATE")
    print("begun", flush=True)
    time.sleep(2)
    db.execute("COMMIT")
    time.sleep(0.2)
"""
HOLDER_POSTGRESQL = """
import psycopg, sys, time
db = psycopg.connect(sys.argv[1])
while True:
    db.execute("SELECT pg_advisory_xact_lock(%s)", (int(sys.argv[2]),))
    print("begun", flush=True)
    time.sleep(2)
    db.commit()
    time.sleep(0.2)
"""


def start_holder(tmp_path) -> worker.WorkerProcess:
    """A process that spends most of its time in a transaction, frozen as a worker is."""
    if connection.vendor == "sqlite":
        command = [sys.executable, "-c", HOLDER_SQLITE, connection.settings_dict["NAME"]]
    else:
        command = [sys.executable, "-c", HOLDER_POSTGRESQL, worker.test_database_url(), str(LOCK)]
    holder = worker.WorkerProcess({}, tmp_path / "holder.log")
    holder.process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    return holder


def can_write_now() -> bool:
    """Whether another connection can begin writing at once (what the holder would keep)."""
    if connection.vendor == "sqlite":
        db = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.1, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            db.close()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
        return cursor.fetchone()[0]


def test_a_worker_is_frozen_only_outside_its_transactions(tmp_path):
    holder = start_holder(tmp_path)
    try:
        for _ in range(3):
            assert holder.process.stdout.readline().strip() == "begun"  # inside one now
            freezes = holder.freeze_outside_transactions()
            try:
                assert can_write_now()
            finally:
                holder.thaw()
            assert freezes > 1  # the first freeze found it inside its transaction
    finally:
        holder.kill()
