"""A Celery worker keeps its database connection from one task to the next (a new PostgreSQL
connection per task run cost more than most tasks), and drops it when it is too old or broken,
as Django does around a request."""

from __future__ import annotations

import time

import pytest
from celery.signals import task_postrun, task_prerun
from django.db import connection, connections

from portal.celery import app, keep_database_connections
from provisioning.tasks import run_job


@pytest.fixture
def worker_settings(monkeypatch):
    """What `worker_init` does to a worker's connection settings, undone after the test."""
    database = connections.settings["default"]
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS"):
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
