"""A Celery worker keeps its database connection from one task to the next (a new PostgreSQL
connection per task run cost more than most tasks), and drops it when it is too old or broken,
as Django does around a request."""

from __future__ import annotations

import time

import pytest
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import connection, connections

from portal.celery import app, keep_database_connections
from provisioning.models import Job
from provisioning.tasks import run_job


@pytest.fixture
def worker_settings(monkeypatch):
    """What `worker_init` does to a worker's connection settings, undone after the test."""
    database = connections.settings["default"]
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
        monkeypatch.setitem(database, key, database.get(key))
    keep_database_connections()
    connection.close()  # the next connect reads the worker's settings
    yield database
    connection.close()


def a_task_runs() -> None:
    task_prerun.send(sender=run_job, task_id="t", task=run_job, args=(0,), kwargs={})
    connection.ensure_connection()
    task_postrun.send(sender=run_job, task_id="t", task=run_job, args=(0,), kwargs={})


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_connection_between_tasks(worker_settings):
    assert app.conf.get("CELERY_DB_REUSE_MAX")  # else Celery's fixup closes it every time
    connection.ensure_connection()
    opened = connection.connection
    for _ in range(3):
        a_task_runs()
    assert connection.connection is opened


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_age_is_dropped_after_a_task(worker_settings):
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() - 1
    a_task_runs()
    assert connection.connection is not opened


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite's connections do not break (is_usable)"
)
@pytest.mark.django_db(transaction=True)
def test_the_next_task_works_after_the_server_dropped_the_connection(worker_settings):
    connection.ensure_connection()
    opened = connection.connection
    admin = connections.create_connection("default")
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [opened.info.backend_pid])
    finally:
        admin.close()
    task_prerun.send(sender=run_job, task_id="t", task=run_job, args=(0,), kwargs={})
    with connection.cursor() as cursor:  # checked before use: a new connection, not an error
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not opened


def prepared(text: str) -> list[tuple[str, int]]:
    """This connection's prepared statements whose text has `text` in it, with how many times
    each ran (its plans, custom or generic)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
            " WHERE strpos(statement, %s) > 0",
            [text],
        )
        return cursor.fetchall()


def a_repeated_statement(times: int) -> None:
    for _ in range(times):
        assert not Job.objects.filter(pk=0, status=Job.Status.RUNNING).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.django_db(transaction=True)
def test_a_worker_prepares_a_statement_it_repeats(worker_settings):
    """The workers send their parameters apart and prepare what they repeat: PostgreSQL
    parses each of the engine's same texts once per connection, and plans it once after five
    runs (docs/benchmarks.md, pgprepare1)."""
    runs = settings.WORKER_PREPARE_THRESHOLD + 3
    a_repeated_statement(runs)
    [(statement, ran)] = prepared('FROM "provisioning_job"')
    assert '"provisioning_job"."status" = $' in statement
    assert ran == runs - settings.WORKER_PREPARE_THRESHOLD


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.django_db(transaction=True)
def test_the_web_process_prepares_nothing():
    connection.close()
    a_repeated_statement(10)
    assert prepared('FROM "provisioning_job"') == []
    assert "server_side_binding" not in connections.settings["default"].get("OPTIONS", {})


def may_lock(database, key: int) -> bool:
    with database.cursor() as cursor:  # autocommit: taken and let go in the one statement
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL ends idle sessions")
@pytest.mark.django_db(transaction=True)
def test_a_worker_stalled_inside_a_transaction_lets_go_of_its_locks(worker_settings):
    """A worker frozen between two statements of a transaction (a paused VM) would hold what it
    locked for as long as it is frozen; the server ends its session after
    DATABASE_IDLE_IN_TRANSACTION_S (60 s, under the 120 s lease; 600 in the tests), so that
    another worker can take the job over (docs/engine.md). Here a second, not a minute."""
    stalled = connections.create_connection("default")
    other = connections.create_connection("default")
    key = 6_041_977
    try:
        with stalled.cursor() as cursor:
            cursor.execute(
                "SELECT setting::int / 1000 FROM pg_settings"
                " WHERE name = 'idle_in_transaction_session_timeout'"
            )
            assert cursor.fetchone() == (settings.DATABASE_IDLE_IN_TRANSACTION_S,)
        stalled.set_autocommit(False)
        with stalled.cursor() as cursor:
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = '1s'")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        assert not may_lock(other, key)
        deadline = time.monotonic() + 30
        while not may_lock(other, key):
            assert time.monotonic() < deadline, "the stalled session kept its lock"
            time.sleep(0.1)
        assert not stalled.is_usable()
    finally:
        other.close()
        stalled.close()
