"""The sandbox server ends with the process that started it, given as SANDBOX_ENDS_WITH_PID.

The tests start their sandbox servers as processes of their own, and `rundemo` starts the
demo's in a process group of its own: a starter killed with SIGKILL stops none of them, and
they went on answering (and holding their ports) for ever. The same contract as the portal's
workers (WORKER_ENDS_WITH_PID), written again here: the sandbox shares no code with the
product. A thread polls the starter every SANDBOX_WATCH_SECONDS and asks the server to stop,
gracefully (the state file is flushed), once it is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def _started_at(pid: int) -> str | None:
    """The start time (clock ticks since boot) of a live process of that pid, else None: it
    tells the starter from a later process given the same pid. Without /proc, only whether a
    process of that pid exists ("?")."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] in "ZX" else fields[19]  # a zombie has ended too


def start_from_env(stop: Callable[[], None]) -> threading.Thread | None:
    """Watch SANDBOX_ENDS_WITH_PID, if given, and call `stop` once when it is gone."""
    pid = int(os.environ.get("SANDBOX_ENDS_WITH_PID") or 0)
    if not pid:
        return None
    interval_s = float(os.environ.get("SANDBOX_WATCH_SECONDS") or 1.0)
    seen = _started_at(pid)

    def watch() -> None:
        while seen is not None and _started_at(pid) == seen:
            threading.Event().wait(interval_s)
        log.warning("The process that started the sandbox (pid %s) is gone: stopping", pid)
        stop()

    thread = threading.Thread(target=watch, name=f"watch-{pid}", daemon=True)
    thread.start()
    return thread
