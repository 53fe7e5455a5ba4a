"""The live server stops before the test database is dropped: a session whose first test
asks for `live_server` before the database (every browser file: `page` needs the server, the
database comes from the `django_db` marker, asked for later) started the server first, so it
was stopped last, after the drop, and a connection of one of its request threads failed the
drop ("database ... is being accessed by other users", a warning at the end of the run that
left the test database behind)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_live_server_is_started_after_the_test_database_and_stopped_before_its_drop():
    # test_live_server_transport's test asks for the live server first, as a browser file does.
    ran = subprocess.run(  # noqa: S603
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q",
            "--setup-show", "-W", "ignore",
            "tests/test_live_server_transport.py::test_each_connection_to_the_live_server_sends_at_once",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:]
    shown = [line.split()[0:3] for line in ran.stdout.splitlines() if " S " in line]
    order: list[str] = []
    for what, _, name in shown:  # tests/conftest.py's fixture of a name and the plugin's: once
        if name in ("live_server", "django_db_setup") and order[-1:] != [f"{what} {name}"]:
            order.append(f"{what} {name}")
    assert order == [
        "SETUP django_db_setup",
        "SETUP live_server",
        "TEARDOWN live_server",
        "TEARDOWN django_db_setup",
    ], ran.stdout[-3000:]
