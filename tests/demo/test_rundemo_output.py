"""What `make demo` prints before its logins: only phases, warnings and errors. As root, the
worker's start says nothing about running as superuser, and every other warning and error still
reaches the terminal; a second start's sandbox, loading its saved state, is no warning."""

import logging
import os
import subprocess
import sys
import textwrap

from portal.management.commands import rundemo
from sandbox.server import make_state

# What the worker does at its start, as root (whoever runs the test): Celery's own privilege
# check for the JSON the portal's worker accepts, then for pickle, which it must still refuse.
AS_ROOT_AT_START = textwrap.dedent(
    """
    import os, warnings
    from celery.exceptions import SecurityError
    from celery.platforms import check_privileges
    for name in ("getuid", "geteuid", "getgid", "getegid"):
        setattr(os, name, lambda: 0)
    check_privileges({"json"})
    warnings.warn("another warning")
    try:
        check_privileges({"pickle"})
    except SecurityError:
        print("pickle refused")
    """
)


def worker_start_output(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", AS_ROOT_AT_START], env=env, capture_output=True, text=True
    )


def test_the_worker_started_as_root_does_not_warn_of_it():
    base = {**os.environ, "PYTHONWARNINGS": "default"}
    unacknowledged = worker_start_output(base)
    assert "superuser privileges" in unacknowledged.stderr  # what the demo printed

    started = worker_start_output(rundemo.worker_environment(base, as_root=True))
    assert "superuser privileges" not in started.stderr
    assert "another warning" in started.stderr
    assert started.stdout.strip() == "pickle refused"


def test_a_worker_not_run_as_root_gets_the_environment_as_it_is():
    env = {"PYTHONWARNINGS": "error"}
    assert rundemo.worker_environment(env, as_root=False) == env


def test_a_second_start_loads_the_sandbox_state_without_a_warning(tmp_path, caplog):
    """It printed "WARNING sandbox.server sandbox state loaded from …" among the phases."""
    state_file = tmp_path / "state.json"
    make_state(state_file, "demo")  # the first start seeds and saves
    with caplog.at_level(logging.INFO, logger="sandbox"):
        make_state(state_file, "demo")
    loaded = [r for r in caplog.records if "state loaded" in r.getMessage()]
    assert loaded, "the load is still logged (for `runsandbox` at INFO)"
    assert all(r.levelno < logging.WARNING for r in loaded)
