"""The test worker ends with the test process that started it: a pytest run killed from
outside (a timeout, Ctrl-C twice, an out-of-memory kill) left its Celery workers running for
an hour, each a session of its own, polling the broker of a queue nobody fills.

The worker watches its starter's pid itself (portal/watchdog.py); a death signal
(`setpriv --pdeathsig`, reverted in b66b5b5) followed the thread that started the worker and
killed workers whose starting thread had ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from portal import watchdog
from tests.provisioning.worker import is_running, standin_env

REPO_ROOT = Path(__file__).resolve().parents[2]

# A stand-in for the test process: it starts a worker the way the tests do, from a thread
# that ends at once, prints the worker's pid, and waits to be killed.
STARTER = """
import sys, threading
import django
django.setup()
from pathlib import Path
from tests.provisioning.worker import WorkerProcess, worker_env

class Sandbox:
    url, ca = "https://127.0.0.1:9", "/nonexistent"

started = []
def start():
    started.append(WorkerProcess(worker_env(Sandbox()), Path(sys.argv[1]), concurrency=1).start())
thread = threading.Thread(target=start)
thread.start()
thread.join()
print(started[0].process.pid, flush=True)
sys.stdin.read()
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := watchdog._stat(int(entry))) and int(stat[1]) == pid:
            found.append(int(entry))
    return found


def test_a_worker_ends_when_the_test_process_that_started_it_is_killed(tmp_path):
    env = standin_env(tmp_path, "watchdog")
    log = tmp_path / "worker.log"
    starter = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", STARTER, str(log)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    worker = int(starter.stdout.readline())
    pool = _children(worker)
    try:
        # The thread that started the worker has ended: the worker stays (five polls).
        time.sleep(1.0)
        assert is_running(worker), log.read_text()[-2000:]
        assert pool and all(is_running(child) for child in pool)

        starter.send_signal(signal.SIGKILL)
        starter.wait()
        # The event: the worker's main process and its pool end. The deadline is a safety
        # net only (a warm shutdown of an idle worker on a loaded machine).
        deadline = time.monotonic() + 60
        while any(map(is_running, [worker, *pool])) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_running(worker), "the worker outlived the test process that started it"
        assert not any(map(is_running, pool)), "the worker's pool outlived it"
        assert "The process that started this worker" in log.read_text()
    finally:
        for pid in [worker, *pool]:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_watch_shuts_down_at_the_first_poll_after_the_process_is_gone():
    polls, shut = [], []
    state = {"alive": True}

    def wait() -> bool:
        polls.append(1)
        if len(polls) == 4:  # the starter dies between the third and the fourth poll
            state["alive"] = False
        return len(polls) > 100

    made = watchdog.watch(123, wait, lambda: state["alive"], lambda: shut.append(1))
    assert (made, shut) == (4, [1])


def test_the_watch_ends_without_a_shutdown_when_it_is_stopped():
    shut = []
    made = watchdog.watch(123, iter([False, False, True]).__next__, lambda: True, shut.append)
    assert (made, shut) == (2, [])


def test_a_process_is_gone_once_dead_even_before_it_is_reaped():
    child = subprocess.Popen(["sleep", "30"])  # noqa: S607
    try:
        seen = watchdog.identity(child.pid)
        assert seen is not None
        assert not watchdog.is_gone(child.pid, seen)
        assert watchdog.is_gone(child.pid, "another start time")  # the pid given again
        child.kill()
        while watchdog._stat(child.pid)[0] not in "ZX":  # the kill has landed
            time.sleep(0.01)
        assert watchdog.is_gone(child.pid, seen)  # a zombie
    finally:
        child.kill()
        child.wait()
    assert watchdog.is_gone(child.pid, seen)  # reaped
