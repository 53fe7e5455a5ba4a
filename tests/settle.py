"""A transactional test's background work ends with the test, and what escapes is named.

A transactional test commits, so the session's Celery workers see its jobs and run them;
its tables are truncated when it ends. Whatever a worker still writes after that truncation
survives into the tests that follow. The audit trail shows it first: `AuditEvent.tenant_id`
is a plain integer, not a foreign key, so a `job.plan` or `job.finish` of a job that outlived
its test is kept (with the id of a tenant that is gone), and an MSP admin of every later test
on that pytest worker sees one event too many.

Before the flush, `settle_jobs` ends every unfinished job of the test: the ones no worker
runs are cancelled by a conditional UPDATE on their status (so a worker either claimed one
first, and it is waited for, or never will), the running ones are waited for until they
leave RUNNING, the step that commits a worker's last write of that run. Only job statuses
are relied on, not how the engine runs a job. A job still running at the deadline is not
flushed under a live worker: the workers are killed, so that nothing they do can reach the
next test, and the test fails naming the jobs.

A worker can still begin a transaction after that: a message it took before the queue was
purged, or a claim that waited behind `_claims_under_way`'s own locks, starts at the moment
of the flush. Its claim locks rows of the person and job tables, then others, while the flush
deletes the tables' rows one table at a time in the order of a set of names (another each
process); when each holds a row the other wants next, PostgreSQL ends one of them as a
deadlock's victim, usually the flush, which waited first. `flush_outlasting_deadlocks`
does the flush again then: it rolled back whole, and the claim, which found its job
cancelled, has ended. Whatever the worker wrote meanwhile is deleted with the rest. (The
flush deletes rows rather than truncating the tables since session 28: `rows_deleted`.)

After the flush, and before every later database test, `leaked_events` must be empty: an
event committed outside any test's transaction is a write that outlived its test.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.management.color import no_style
from django.db import OperationalError, connection, transaction
from django.db.models import Q

from portal.audit.models import AuditChainHead, AuditEvent
from provisioning.models import Identity, Job
from tests.provisioning.worker import WorkerProcess

SETTLE_TIMEOUT_S = 30.0
POLL_S = 0.1
SHOWN = 20  # leaked events named in a failure; the count says how many more
FLUSH_TRIES = 5
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE deadlock_detected
APPEND_ONLY_TRIGGER = "audit_event_append_only"  # portal/audit/migrations/0002
# What the flush's `post_migrate` writes again, the same rows but for their ids: kept.
KEPT_TABLES = ("django_content_type", "auth_permission")


@dataclass(frozen=True)
class Settled:
    """How a test's jobs ended: `stuck` names those still running at the deadline (their
    workers were killed: `killed`, to be started again after the flush)."""

    stuck: list[str]
    killed: list[WorkerProcess]


def settle_jobs(workers: Iterable[WorkerProcess], timeout: float = SETTLE_TIMEOUT_S) -> Settled:
    """Cancel every unfinished job no worker is running and wait for the running ones."""
    workers = list(workers)
    deadline = time.monotonic() + timeout
    while True:
        _cancel_idle(anyone_running=any(w.alive() for w in workers))
        running = _unfinished()
        if not running and not _claims_under_way():
            return Settled([], [])
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    # Still running: stop the workers themselves, then nothing of theirs can reach the flush.
    killed = [w for w in workers if w.alive()]
    for worker in killed:
        worker.kill()
    _cancel_idle(anyone_running=False)
    return Settled(running, killed)


def _claims_under_way() -> bool:
    """Whether a worker was claiming a job just now. A claim holds its person's row lock
    (provisioning.engine.serial) while it reads the person's jobs: one that began before a
    job was cancelled is still open, and a truncation under it deadlocks. Taking every
    person's lock waits for such claims to end; then the statuses are read again."""
    with transaction.atomic():
        started = time.monotonic()
        list(Identity.objects.select_for_update().values_list("pk", flat=True))
    return time.monotonic() - started > POLL_S


def _cancel_idle(anyone_running: bool) -> int:
    """Cancel the jobs nobody runs. With a worker alive, a RUNNING job may be mid-step in it
    (a lease can run out under a slow call), so only a dead worker's RUNNING jobs go."""
    idle = ~Q(status__in=Job.DONE)
    if anyone_running:
        idle &= ~Q(status=Job.Status.RUNNING)
    return Job.objects.filter(idle).update(status=Job.Status.CANCELLED)


def _unfinished() -> list[str]:
    rows = Job.objects.exclude(status__in=Job.DONE).order_by("pk")
    return [
        f"job {pk} ({kind}, {status}, tenant {tenant_id})"
        for pk, kind, status, tenant_id in rows.values_list("pk", "kind", "status", "tenant_id")
    ]


def flush_outlasting_deadlocks(execute_sql_flush: Callable) -> Callable:
    """Django's `DatabaseOperations.execute_sql_flush`, done again when the database ended
    it as a deadlock's victim (the module's docstring says how a late worker causes one)."""

    @functools.wraps(execute_sql_flush)
    def execute(ops, sql_list) -> None:
        for tries_left in reversed(range(FLUSH_TRIES)):
            try:
                return execute_sql_flush(ops, sql_list)
            except OperationalError as exc:
                if tries_left == 0 or getattr(exc.__cause__, "sqlstate", None) != DEADLOCK:
                    raise

    return execute


def rows_deleted(sql_flush: Callable) -> Callable:
    """The flush command's `sql_flush`, deleting every table's rows on PostgreSQL instead of
    truncating the tables. A TRUNCATE gives each of the some 60 tables and 300 indexes new
    files, and its commit waits for the disk whatever `synchronous_commit` says: 2.5 to 3.5 s
    at a load of 10, 0.03 s for the DELETEs, with every one of the 349 transactional tests'
    teardowns paying it (docs/testing.md, session 28). The rows are gone all the same; the
    foreign keys are deferred (Django makes them so) and checked at the commit; the audit
    events' append-only trigger is off for the flush's own transaction only. Sequences keep
    counting, as with Django's TRUNCATE; a flush that resets them or cascades is Django's.
    On both databases the content types and permissions stay (KEPT_TABLES): no test writes
    them, and the `post_migrate` after the flush would only write them again."""

    @functools.wraps(sql_flush)
    def flush_sql(style, connection, reset_sequences=True, allow_cascade=False) -> list[str]:
        if reset_sequences or allow_cascade:
            return sql_flush(
                style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        tables = [
            table
            for table in connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            if table not in KEPT_TABLES
        ]
        if connection.vendor != "postgresql":
            return connection.ops.sql_flush(style, tables)  # DELETEs already
        return deleting_sql(connection.ops.quote_name, tables)

    return flush_sql


def post_migrate_once_kept(emit_post_migrate_signal: Callable) -> Callable:
    """The flush command's `post_migrate`, left out when the flush kept the content types
    (`rows_deleted`): its handlers would only read the content types and permissions they
    made at the database's creation, some 75 queries (0.35 s of a flush at a load of 10).
    After a flush of every table (one that resets the sequences) it runs as before."""

    @functools.wraps(emit_post_migrate_signal)
    def emit(verbosity, interactive, db, **kwargs) -> None:
        from django.contrib.contenttypes.models import ContentType

        if not ContentType.objects.using(db).exists():
            emit_post_migrate_signal(verbosity, interactive, db, **kwargs)

    return emit


def deleting_sql(quote: Callable[[str], str], tables: list[str]) -> list[str]:
    audit = AuditEvent._meta.db_table
    deletes = [f"DELETE FROM {quote(table)}" for table in tables]  # noqa: S608 - Django's tables
    if audit not in tables:
        return deletes
    return [
        f"ALTER TABLE {quote(audit)} DISABLE TRIGGER {APPEND_ONLY_TRIGGER}",
        *deletes,
        f"ALTER TABLE {quote(audit)} ENABLE TRIGGER {APPEND_ONLY_TRIGGER}",
    ]


def purge_queue() -> int:
    """Drop the messages still queued for this test process's workers (those of cancelled or
    finished jobs): they would only keep a worker busy in the next test."""
    from portal.celery import app

    return app.control.purge()


def leaked_events() -> list[str]:
    """The audit events committed outside any test's transaction, oldest first."""
    rows = AuditEvent.objects.order_by("pk").values_list(
        "pk", "action", "actor_username", "tenant_id", "job_id", "timestamp"
    )
    return [
        f"event {pk} {action} by {actor or '-'} (tenant {tenant}, job {job or '-'}, {at:%T.%f})"
        for pk, action, actor, tenant, job, at in rows[: SHOWN + 1]
    ]


def forget_audit_trail() -> None:
    """Truncate the audit tables (the append-only trigger lets TRUNCATE through), so that one
    leak fails one test and not every test after it."""
    tables = [AuditEvent._meta.db_table, AuditChainHead._meta.db_table]
    with connection.cursor() as cursor:
        for sql in connection.ops.sql_flush(no_style(), tables, allow_cascade=False):
            cursor.execute(sql)


def describe_leak(events: list[str], where: str) -> str:
    more = "\n  ... and more" if len(events) > SHOWN else ""
    listed = "\n  ".join(events[:SHOWN])
    return (
        f"Audit events were committed {where}: something of an earlier test outlived it "
        f"(a worker still running a job after the flush?). They are removed now.\n  {listed}{more}"
    )
