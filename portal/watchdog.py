"""A Celery worker that ends with the process that started it.

A worker started with WORKER_ENDS_WITH_PID watches that process from a daemon thread of its
main process and shuts itself down (warm, as SIGTERM asks; cold if that has not ended it a
while later) once the process is gone. The tests start their workers in sessions of their
own, so that a test can kill one with its pool; a pytest run killed from outside left them
polling the broker for an hour. A death signal (`prctl(PR_SET_PDEATHSIG)`, `setpriv
--pdeathsig`) does not do: it fires when the *thread* that started the child ends, not the
process, and a test's worker may be started from a thread that ends long before the run.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name, or None with no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def identity(pid: int) -> str | None:
    """What tells this process from a later one given the same pid: its start time (in clock
    ticks since boot) where /proc has it, else only that a process of that pid exists."""
    if os.path.isdir("/proc/self"):
        fields = _stat(pid)
        return fields[19] if fields else None  # field 22, starttime
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"


def is_gone(pid: int, seen: str | None) -> bool:
    """Whether the process that `identity` saw as `seen` has ended: no such pid, a zombie
    (dead, not yet reaped), or another process that was given the pid since."""
    if os.path.isdir("/proc/self"):
        fields = _stat(pid)
        return fields is None or fields[0] in "ZX" or fields[19] != seen
    return identity(pid) is None


def group_runs(pgid: int) -> bool:
    """Whether a live process (not a zombie) is left in the process group."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    for entry in os.listdir("/proc"):
        fields = _stat(int(entry)) if entry.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


def watch(
    pid: int,
    wait: Callable[[], bool],
    alive: Callable[[], bool],
    shut_down: Callable[[], None],
) -> int:
    """Poll `alive` after each `wait` (which returns True when the watch is to end) and
    call `shut_down` once, at the first poll that finds the process gone. Returns the polls
    made."""
    polls = 0
    while not wait():
        polls += 1
        if not alive():
            logger.warning(
                "The process that started this worker (pid %s) is gone: shutting down", pid
            )
            shut_down()
            return polls
    return polls


def _shut_down(grace_s: float) -> None:
    """Warm shutdown (the running tasks finish), then a cold one if that has not ended the
    worker after `grace_s` seconds (a task hung on a call that never returns)."""
    os.kill(os.getpid(), signal.SIGTERM)
    threading.Event().wait(grace_s)
    logger.warning("The warm shutdown took over %.0f s: cold shutdown", grace_s)
    os.kill(os.getpid(), signal.SIGQUIT)


def start(pid: int, interval_s: float, grace_s: float = 60.0) -> threading.Thread:
    """Watch `pid` from a daemon thread of this process, every `interval_s` seconds."""
    seen = identity(pid)
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(
            pid,
            lambda: stop.wait(interval_s),
            lambda: seen is not None and not is_gone(pid, seen),
            lambda: _shut_down(grace_s),
        ),
        name=f"watch-{pid}",
        daemon=True,
    )
    thread.start()
    return thread
