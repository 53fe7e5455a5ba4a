"""The demo's Celery worker ends with the rundemo that started it: a rundemo killed with
SIGKILL (an out-of-memory kill, `kill -9`, a closed container) cannot stop its children, and
the worker, in a process group of its own, went on polling the broker and running beat.

rundemo gives the worker its own pid as WORKER_ENDS_WITH_PID (portal/watchdog.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from portal import watchdog
from tests.provisioning.worker import is_running, standin_env

REPO_ROOT = Path(__file__).resolve().parents[2]

# A stand-in for rundemo: it starts the worker with rundemo's own function (beat's schedule in
# a folder of the test's), prints the worker's pid and waits to be killed.
STARTER = """
import os, sys
import django
django.setup()
from pathlib import Path
from django.conf import settings
settings.VAR_DIR = Path(sys.argv[1])
from portal.management.commands import rundemo
print(rundemo.start_worker(dict(os.environ)).process.pid, flush=True)
sys.stdin.read()
"""


def _group(pgid: int) -> list[int]:
    """The live processes of a process group: the worker's is its own (rundemo starts each
    child so), with the embedded beat in it."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := watchdog._stat(int(entry))) and int(stat[2]) == pgid:
            found.append(int(entry))
    return [pid for pid in found if is_running(pid)]


@contextlib.contextmanager
def demo_worker(tmp_path) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """(the stand-in rundemo, the worker's pid, its log) once the worker consumes; whatever
    is left of the worker's group is killed at the end."""
    ready = tmp_path / "ready"
    env = {
        **standin_env(tmp_path, "rundemo"),
        "WORKER_READY_FILE": str(ready),  # as rundemo waits for it before seeding
    }
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        starter = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", STARTER, str(tmp_path)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    worker = int(starter.stdout.readline())
    try:
        # The deadlines are safety nets only (a loaded machine), never what a run waits for.
        deadline = time.monotonic() + 120
        while not ready.exists() and is_running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), log.read_text()[-2000:]
        assert worker in _group(worker)
        yield starter, worker, log
    finally:
        if _group(worker):
            os.killpg(worker, signal.SIGKILL)  # its own group: beat's too
        starter.kill()
        starter.wait()


def _gone_within(pids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds  # a safety net, never what a run waits for
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(is_running(pid) for pid in pids)


def test_the_demo_worker_ends_when_rundemo_is_killed(tmp_path):
    with demo_worker(tmp_path) as (starter, worker, log):
        group = _group(worker)
        starter.send_signal(signal.SIGKILL)  # rundemo stops nothing: it is simply gone
        starter.wait()
        assert _gone_within(group, 60), "the demo's worker outlived the rundemo that started it"
        assert "The process that started this worker" in log.read_text()


def test_the_embedded_beat_ends_when_its_worker_has_ended_without_stopping_it(tmp_path):
    """A worker asked to stop between its beat's start and its own ends without stopping
    beat (Celery's "not fully started, can safely exit"); so does a worker killed alone.
    Beat, a process of its own, went on sending the periodic tasks."""
    with demo_worker(tmp_path) as (_, worker, log):
        [beat] = [pid for pid in _group(worker) if pid != worker]
        os.kill(worker, signal.SIGKILL)  # the worker alone, as the early stop leaves beat
        assert _gone_within([beat], 60), "the embedded beat outlived its worker"
