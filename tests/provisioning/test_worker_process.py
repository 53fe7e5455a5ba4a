"""The test worker dies with the test process that started it: a pytest run killed from
outside (a timeout, Ctrl-C twice, an out-of-memory kill) left its Celery workers running for
hours, each a session of its own, polling the broker of a queue nobody fills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# A stand-in for the test process: it starts a long sleep the way the test worker is started
# (tied to it, in a session of its own), prints its pid, and waits to be killed.
STARTER = """
import subprocess, sys
from tests.provisioning.worker import tied_to_this_process
child = subprocess.Popen(tied_to_this_process(["sleep", "120"]), start_new_session=True)
print(child.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie no one reaps is gone too
        return stat.read().split(") ")[-1][0] != "Z"


def test_a_worker_ends_when_the_test_process_that_started_it_is_killed():
    starter = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", STARTER],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    child = int(starter.stdout.readline())
    try:
        assert _alive(child)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 10  # the signal is sent at once; 10 s is a wide margin
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the worker outlived the test process that started it"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
