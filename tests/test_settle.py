"""The teardown of transactional tests (tests/settle.py): what it cancels, what it waits for,
when it stops the workers, and that a leaked audit event is named and cleared."""

import re
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.commands import flush as flush_command
from django.db import ProgrammingError, connection, connections, transaction

from portal.audit.events import record
from portal.audit.models import AuditChainHead, AuditEvent
from provisioning.models import Job
from tenants.models import Tenant
from tests import settle

pytestmark = pytest.mark.django_db

UNFINISHED = [s for s in Job.Status.values if s not in Job.DONE]


class StandInWorker:
    """What settle_jobs asks of a worker process: is it alive, and to be killed."""

    def __init__(self) -> None:
        self.killed = False

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


def job_in(world, status: str) -> Job:
    return Job.objects.create(
        tenant=world.tenant, identity=world.identity, kind=Job.Kind.JOIN, status=status
    )


def statuses(jobs: list[Job]) -> list[str]:
    return [Job.objects.get(pk=job.pk).status for job in jobs]


def test_every_job_no_worker_runs_is_cancelled_and_finished_ones_are_kept(alpha):
    idle = [job_in(alpha, s) for s in UNFINISHED if s != Job.Status.RUNNING]
    done = [job_in(alpha, s) for s in Job.DONE]
    worker = StandInWorker()
    assert settle.settle_jobs([worker]) == settle.Settled([], [])
    assert statuses(idle) == [Job.Status.CANCELLED] * len(idle)
    assert statuses(done) == list(Job.DONE) and not worker.killed


def test_a_job_running_at_the_deadline_is_named_and_its_workers_are_killed(alpha):
    running = job_in(alpha, Job.Status.RUNNING)
    worker, dead = StandInWorker(), StandInWorker()
    dead.kill()
    settled = settle.settle_jobs([worker, dead], timeout=0.3)
    assert settled.killed == [worker] and worker.killed
    assert settled.stuck == [f"job {running.pk} (join, running, tenant {alpha.tenant.pk})"]
    assert statuses([running]) == [Job.Status.CANCELLED]  # nobody can run it any more


def test_a_running_job_without_a_live_worker_is_cancelled_at_once(alpha):
    running = job_in(alpha, Job.Status.RUNNING)
    dead = StandInWorker()
    dead.kill()
    assert settle.settle_jobs([dead], timeout=60) == settle.Settled([], [])
    assert statuses([running]) == [Job.Status.CANCELLED]


def test_a_leaked_event_is_named_and_the_trail_forgotten(alpha):
    event = record("job.plan", actor="system", tenant=alpha.tenant, job_id=alpha.job.pk)
    [leaked] = settle.leaked_events()
    assert leaked.startswith(f"event {event.pk} job.plan by system (tenant {alpha.tenant.pk}")
    assert f"job {alpha.job.pk}," in leaked
    settle.forget_audit_trail()  # through the append-only trigger: TRUNCATE, not DELETE
    assert settle.leaked_events() == [] and not AuditChainHead.objects.exists()
    assert f"event {event.pk} job.plan" in settle.describe_leak([leaked], "here")


def flushed_tables() -> list[str]:
    """The tables whose rows the flush deletes, in its order (another each process: Django
    lists them from a set)."""
    sql = flush_command.sql_flush(no_style(), connection, reset_sequences=False)
    return [re.match(r'DELETE FROM "([^"]+)"', s)[1] for s in sql if s.startswith("DELETE")]


def with_rows(tables: list[str]) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")')  # noqa: S608 - Django's table name
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def relation_files() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relfilenode FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')"
        )
        return dict(cursor.fetchall())


def flush() -> None:
    """A transactional test's flush, as Django's TransactionTestCase asks for it."""
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False)


@pytest.mark.django_db(transaction=True)
def test_the_flush_deletes_every_row_but_the_content_types_made_at_the_start(alpha):
    """Django's flush emptied the content types and permissions too, and its `post_migrate`
    wrote them again, under new ids (0.35 s a flush at a load of 10; docs/testing.md,
    session 28)."""
    record("job.plan", actor="system", tenant=alpha.tenant, job_id=alpha.job.pk)
    tables = connection.introspection.django_table_names(only_existing=True)
    kept = ["auth_permission", "django_content_type"]
    made = {table: ids(table) for table in kept}
    assert AuditEvent._meta.db_table in with_rows(tables)
    flush()
    assert sorted(with_rows(tables)) == kept
    assert {table: ids(table) for table in kept} == made


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's flush deletes already")
@pytest.mark.django_db(transaction=True)
def test_the_flush_gives_no_table_new_files_and_the_audit_trigger_stays(alpha):
    """A TRUNCATE gave every table and index new files and waited for the disk: 2.5 to 3.5 s
    a transactional test at a load of 10 (docs/testing.md, session 28)."""
    record("job.plan", actor="system", tenant=alpha.tenant, job_id=alpha.job.pk)
    files = relation_files()
    flush()
    assert relation_files() == files
    event = record("job.plan", actor="system", tenant=None)
    refused = pytest.raises(ProgrammingError, match="append-only")  # the trigger is on again
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])


def ids(table: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id FROM "{table}" ORDER BY id')  # noqa: S608 - Django's table name
        return [row[0] for row in cursor.fetchall()]


def someone_waits_for_me(cursor) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
        " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
    )
    return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes one at a time")
@pytest.mark.django_db(transaction=True)
def test_a_flush_a_late_workers_transaction_deadlocks_is_done_again(alpha):
    """A worker's claim that began after settle_jobs (its message taken before the purge)
    holds a row the flush wants to delete and then locks one the flush deleted first."""
    audit = AuditEvent._meta.db_table
    tables = [t for t in with_rows(flushed_tables()) if t != audit]
    holds, locks_next = tables[-1], tables[0]
    worker_locked: list[bool] = []
    holding = threading.Event()

    def late_claim() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")  # the flush sees it first
                cursor.execute(f'SELECT 1 FROM "{holds}" LIMIT 1 FOR UPDATE')  # noqa: S608 - Django's table name
                holding.set()
                while not someone_waits_for_me(cursor):
                    time.sleep(0.01)
                cursor.execute(f'SELECT 1 FROM "{locks_next}" LIMIT 1 FOR UPDATE')  # noqa: S608 - Django's table name
                worker_locked.append(True)
        finally:
            holding.set()
            connections.close_all()

    worker = threading.Thread(target=late_claim)
    worker.start()
    assert holding.wait(timeout=30)
    flush()
    worker.join(timeout=60)
    assert worker_locked == [True]  # the worker's transaction went on
    assert not Job.objects.exists() and not Tenant.objects.exists()  # and the flush was done
