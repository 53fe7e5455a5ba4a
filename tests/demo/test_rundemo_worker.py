"""`make demo` as root: the worker's start says nothing about running as superuser (the demo's
logins come last and clean), and every other warning and error still reaches the terminal."""

import os
import subprocess
import sys
import textwrap

from portal.management.commands import rundemo

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
