"""The teardown of transactional tests (tests/settle.py): what it cancels, what it waits for,
when it stops the workers, and that a leaked audit event is named and cleared."""

import re
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import connection, connections, transaction

from portal.audit.events import record
from portal.audit.models import AuditChainHead
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


def truncated_tables() -> list[str]:
    """The tables of the flush's TRUNCATE, in the order it locks them (another each process:
    Django lists them from a set)."""
    [truncate] = sql_flush(no_style(), connection, allow_cascade=False)
    return re.findall(r'"([^"]+)"', truncate)


def flush_waits_for(cursor, table: str) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted"
        " AND mode = 'AccessExclusiveLock' AND relation = %s::regclass)",
        [table],
    )
    return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes one at a time")
@pytest.mark.django_db(transaction=True)
def test_a_flush_a_late_workers_transaction_deadlocks_is_done_again(alpha):
    """A worker's claim that began after settle_jobs (its message taken before the purge)
    holds a table the flush's TRUNCATE wants and then reads one the TRUNCATE took first."""
    tables = truncated_tables()
    holds, reads_next = tables[-1], tables[0]
    worker_read: list[bool] = []
    holding = threading.Event()

    def late_claim() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")  # the flush sees it first
                cursor.execute(f'LOCK TABLE "{holds}" IN ACCESS SHARE MODE')
                holding.set()
                while not flush_waits_for(cursor, holds):
                    time.sleep(0.01)
                cursor.execute(f'SELECT 1 FROM "{reads_next}" LIMIT 1')  # noqa: S608 - Django's table name
                worker_read.append(True)
        finally:
            holding.set()
            connections.close_all()

    worker = threading.Thread(target=late_claim)
    worker.start()
    assert holding.wait(timeout=30)
    call_command("flush", verbosity=0, interactive=False)
    worker.join(timeout=60)
    assert worker_read == [True]  # the worker's transaction went on
    assert not Job.objects.exists() and not Tenant.objects.exists()  # and the flush was done
