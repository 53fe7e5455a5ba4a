"""A test's sandbox server ends with the process that started it (SANDBOX_ENDS_WITH_PID), as
the tests' workers do: a pytest run killed from outside (SIGKILL, an out-of-memory kill)
stops none of its fixtures, and its sandbox servers went on answering for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx

from tests.sandbox.server import REPO_ROOT

# A stand-in for pytest: it starts a sandbox with the tests' own function, prints its pid and
# port, and waits to be killed.
STARTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.sandbox.server import free_port, start
    port = free_port()
    print(start(Path(sys.argv[1]), port, "token").pid, port, flush=True)
    sys.stdin.read()
    """
)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False


def test_the_sandbox_server_ends_when_its_starter_is_killed(tmp_path):
    starter = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", STARTER, str(tmp_path)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "SANDBOX_WATCH_SECONDS": "0.2"},
    )
    pid, port = map(int, starter.stdout.readline().split())
    try:
        # The deadlines are safety nets only (a loaded machine), never what a run waits for.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _running(pid):
            try:
                ca = str(tmp_path / "ca.pem")
                if httpx.get(f"https://127.0.0.1:{port}/_sandbox/health", verify=ca).is_success:
                    break
            except (httpx.TransportError, OSError):
                time.sleep(0.1)
        assert _running(pid), "the sandbox did not start"
        starter.send_signal(signal.SIGKILL)  # pytest stops nothing: it is simply gone
        starter.wait()
        deadline = time.monotonic() + 60
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pid), "the sandbox server outlived the process that started it"
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
        starter.kill()
        starter.wait()
