import gc
import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import (
    beat_embedded_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def keep_database_connections(**kwargs) -> None:
    """A worker's connections live across tasks (settings.CELERY_DB_REUSE_MAX), for at most
    WORKER_DB_CONN_MAX_AGE seconds, checked before reuse. Only in workers: the web server's
    development threads would leave persistent connections behind."""
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        database = connections.settings[alias]
        database["CONN_MAX_AGE"] = settings.WORKER_DB_CONN_MAX_AGE
        database["CONN_HEALTH_CHECKS"] = True
        if settings.WORKER_PREPARE_THRESHOLD >= 0 and database["ENGINE"].endswith(".postgresql"):
            # The engine's statements are the same texts run after run (the claim, the audit
            # appends, the steps' outcomes): sent with their parameters apart (psycopg's
            # server-side binding), each is prepared once per connection, and PostgreSQL
            # parses it once and, after five runs, plans it once (docs/benchmarks.md,
            # pgprepare1). Not in the web process: its statements vary more, and it keeps no
            # connection across requests.
            database["OPTIONS"] = {
                **database.get("OPTIONS", {}),
                "server_side_binding": True,
                "prepare_threshold": settings.WORKER_PREPARE_THRESHOLD,
            }


@worker_init.connect
def end_with_the_starter(**kwargs) -> None:
    """A worker given WORKER_ENDS_WITH_PID shuts down once that process is gone (the test
    workers, in sessions of their own: portal/watchdog.py). Runs in the main process, before
    a prefork pool forks: the children end with it."""
    from django.conf import settings

    if settings.WORKER_ENDS_WITH_PID:
        from portal import watchdog

        watchdog.start(settings.WORKER_ENDS_WITH_PID, settings.WORKER_WATCH_SECONDS)


# The worker's main process, noted before its embedded beat (a process of its own) forks.
_worker_pid = 0


@worker_init.connect
def note_the_worker(**kwargs) -> None:
    global _worker_pid
    _worker_pid = os.getpid()


@beat_embedded_init.connect
def beat_ends_with_its_worker(**kwargs) -> None:
    """The embedded beat watches its worker (portal/watchdog.py): a worker asked to stop
    between beat's start and its own ends without stopping beat (Celery's "not fully
    started"), as does a worker killed alone, and beat went on sending the periodic tasks.
    The pid noted before the fork: by now the worker may be gone, and getppid() is then
    another process."""
    from django.conf import settings

    from portal import watchdog

    watchdog.start(_worker_pid, settings.WORKER_WATCH_SECONDS)


@task_prerun.connect
@task_postrun.connect
def drop_old_database_connections(sender=None, **kwargs) -> None:
    """What Django does around each request: close the connection past its age or broken (a
    task that failed mid-transaction, a restarted server), so the next task opens a new one.
    Not for a task run eagerly, inside its caller's transaction."""
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


# How many modules were loaded when a task run last froze the heap (freeze_what_was_imported).
_modules_when_frozen = 0


@task_postrun.connect
def freeze_what_was_imported(sender=None, **kwargs) -> None:
    """After a task run that left new modules loaded (the first runs import the SDKs: the
    Graph SDK's models alone are some 2,400 classes), move every object the collector tracks
    into its permanent generation (`gc.freeze`), so that a full collection no longer walks
    them: in a worker holding ~450,000 tracked objects each full collection took ~0.3 s of
    CPU with the GIL held, stalling every thread. Objects made by later runs are collected as
    before; only cyclic garbage alive at a freeze is never collected, and freezes happen only
    while modules are still being imported. Only in a worker (after `worker_init`, the
    pool's children too), and not for a task run eagerly, in its caller."""
    global _modules_when_frozen
    if not _worker_pid or getattr(getattr(sender, "request", None), "is_eager", False):
        return
    if len(sys.modules) != _modules_when_frozen:
        _modules_when_frozen = len(sys.modules)
        gc.freeze()


@worker_ready.connect
def say_ready(**kwargs) -> None:
    """Touches WORKER_READY_FILE once the worker consumes: `rundemo` prints the portal's
    address only then (a quiet worker prints nothing to wait for)."""
    if path := os.environ.get("WORKER_READY_FILE"):
        Path(path).touch()
