"""Ctrl-C on `make demo`: rundemo stops its processes in order, within the time it promises.

No upper bound on wall time here (a loaded machine makes any of them flaky): the order of
what happened, what was killed, and a deadline a run never reaches where a stop must end
because its processes did."""

import dataclasses
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx

from portal.management.commands import rundemo
from tests.sandbox.server import free_port, start, wait_until_up

# A child that notes when it was asked to stop, then takes `linger` seconds to end (or never).
CHILD = textwrap.dedent(
    """
    import signal, sys, time
    log, linger = sys.argv[1], float(sys.argv[2])
    def stop(signum, frame):
        open(log, "a").write(f"{time.monotonic()}\\n")
        if linger >= 0:
            time.sleep(linger)
            open(log + ".ended", "w").write(f"{time.monotonic()}\\n")
            sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    open(log + ".ready", "w").close()
    while True:
        time.sleep(0.05)
    """
)


def child(tmp_path, name: str, linger: float, calls_the_sandbox: bool = True) -> rundemo.Child:
    log = tmp_path / name
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", CHILD, str(log), str(linger)], process_group=0
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / f"{name}.ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return rundemo.Child(name, process, signal.SIGTERM, calls_the_sandbox)


def asked_at(tmp_path, name: str) -> float:
    return float((tmp_path / name).read_text().split()[0])


def ended_at(tmp_path, name: str) -> float:
    return float((tmp_path / f"{name}.ended").read_text())


def test_the_sandbox_is_stopped_after_the_processes_that_call_it(tmp_path):
    worker = child(tmp_path, "worker", linger=0.5)
    web = child(tmp_path, "web", linger=0)
    sandbox = child(tmp_path, "sandbox", linger=0, calls_the_sandbox=False)
    # A deadline no run reaches: the stop returns because its processes ended, not at a time.
    assert rundemo.stop_children([sandbox, worker, web], seconds=3600) == []
    assert asked_at(tmp_path, "sandbox") >= ended_at(tmp_path, "worker")
    assert asked_at(tmp_path, "worker") + 0.5 <= ended_at(tmp_path, "worker")
    assert all(c.process.returncode == 0 for c in (worker, web, sandbox))


def test_a_process_that_does_not_stop_is_killed_with_its_group_in_time(tmp_path, monkeypatch):
    busy = child(tmp_path, "worker", linger=-1)  # asked, never ends (a job mid-call)
    grandchild = subprocess.Popen(  # noqa: S603 - in the busy child's group, as beat is
        [sys.executable, "-c", "import time; time.sleep(60)"], process_group=busy.process.pid
    )
    sandbox = child(tmp_path, "sandbox", linger=0, calls_the_sandbox=False)
    kills, real_killpg = [], os.killpg

    def killpg(pgid, signum):
        kills.append((pgid, signum, time.monotonic()))
        real_killpg(pgid, signum)

    monkeypatch.setattr(rundemo.os, "killpg", killpg)
    began = time.monotonic()
    assert rundemo.stop_children([busy, sandbox], seconds=2.0) == ["worker"]
    [(pgid, signum, killed_at)] = kills
    assert (pgid, signum) == (busy.process.pid, signal.SIGKILL)
    assert killed_at - began >= 2.0  # not before the deadline
    assert busy.process.returncode == -signal.SIGKILL and sandbox.process.returncode == 0
    assert grandchild.wait(timeout=5) == -signal.SIGKILL
    # The sandbox was asked once the busy worker had its second, before the kill, and ended
    # by itself (its state file is flushed then).
    assert began + 1.0 <= asked_at(tmp_path, "sandbox") < killed_at


def test_what_a_stopped_process_leaves_in_its_group_is_ended_too(tmp_path):
    """A worker asked to stop between its embedded beat's start and its own ends at once
    ("not fully started") and leaves beat running in its process group: the stop used to
    kill the group only when the worker itself outlived the deadline."""
    worker = dataclasses.replace(child(tmp_path, "worker", linger=0), helpers="beat")
    beat = subprocess.Popen(  # noqa: S603 - in the worker's group, as the embedded beat is
        [sys.executable, "-c", "import time; time.sleep(600)"], process_group=worker.process.pid
    )
    killed = rundemo.stop_children([worker], seconds=1.0)  # beat has until the deadline
    assert worker.process.returncode == 0
    assert beat.wait(timeout=60) == -signal.SIGKILL, "beat outlived the stop"
    assert killed == ["worker's beat"]


def test_a_helper_that_ends_by_itself_before_the_deadline_is_left_to_end(tmp_path):
    """The worker stops its beat without waiting for it: a stop that killed what was left in
    the group at once said "the worker's beat did not stop in time" after every clean stop."""
    worker = dataclasses.replace(child(tmp_path, "worker", linger=0), helpers="beat")
    beat = subprocess.Popen(  # noqa: S603 - ends by itself, a moment after the worker
        [sys.executable, "-c", "import time; time.sleep(0.5)"], process_group=worker.process.pid
    )
    assert rundemo.stop_children([worker], seconds=3600) == []
    assert beat.wait() == 0


def test_the_sandbox_stops_at_once_with_an_idle_keep_alive_client(tmp_path):
    """A client holding a TLS connection idle in its pool used to hold the stop for
    timeout_graceful_shutdown and end it with "Cancel 0 running task(s)"."""
    port = free_port()
    process = start(tmp_path, port, "token", stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{port}"
    wait_until_up(url, tmp_path / "ca.pem", process)
    with httpx.Client(verify=str(tmp_path / "ca.pem")) as client:
        assert client.get(f"{url}/_sandbox/health").is_success  # its connection stays pooled
        process.send_signal(signal.SIGTERM)
        _, said = process.communicate(timeout=60)
    # What uvicorn says when its graceful shutdown ran out of time on the idle connection.
    assert "timeout graceful shutdown exceeded" not in said, said


def test_the_stop_says_in_words_which_process_was_ended_and_what_follows(monkeypatch):
    """It printed "Stopped in 3.5 s (worker busy: ended)."; a newcomer could not tell whether
    something had gone wrong."""
    monkeypatch.setattr(rundemo, "stop_children", lambda children: ["worker"])
    monkeypatch.setattr(rundemo.signal, "signal", lambda signum, handler: None)
    out = io.StringIO()
    rundemo.Command(stdout=out).stop([object()])
    said = out.getvalue()
    assert "busy: ended" not in said
    assert "The worker did not stop in time and was ended" in said
    assert "a job cut short resumes at the next start" in said
