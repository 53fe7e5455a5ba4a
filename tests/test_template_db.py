"""Each test database is a copy of one migrated template (tests/template_db.py), and a
template that is missing or made from other migrations is migrated again first."""

import json
import os
import subprocess
import sys
import uuid

from django.conf import settings
from django.db import connection

from tests import template_db


def _settings_name() -> str:
    """The database the session's test database was named after (its NAME now is the test
    database's own)."""
    if connection.vendor == "sqlite":
        return str(settings.VAR_DIR / "portal.sqlite3")
    name = connection.settings_dict["NAME"].removeprefix("test_")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return name.removesuffix(f"_{worker}") if worker else name


def test_the_sessions_test_database_came_from_a_fresh_template(django_db_blocker):
    from django.db.backends.base.creation import BaseDatabaseCreation

    assert getattr(BaseDatabaseCreation.create_test_db, "copies_template", False)
    template = template_db.template_name({**connection.settings_dict, "NAME": _settings_name()})
    with django_db_blocker.unblock():
        fingerprint = template_db._fingerprint(connection, template)
    assert fingerprint == template_db.migrations_fingerprint(connection.vendor), template


def _probe(env: dict, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.template_db_probe", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_workers_copy_the_template_and_a_stale_one_is_migrated_again(tmp_path):
    """The first worker finds no template and migrates one; the next copies it (a row
    written into the template is in its database); after the migrations change (a
    fingerprint of other files), the template is migrated again, the row gone with it."""
    env = dict(os.environ, PYTHONPATH=str(settings.BASE_DIR))
    env.pop("PYTEST_XDIST_WORKER", None)
    probe = f"probe_{uuid.uuid4().hex[:8]}"
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / probe}.sqlite3"
        names = [str(tmp_path / f"test-{probe}-{n}.sqlite3") for n in "abc"]
    else:
        url = env["DATABASE_URL"]
        env["DATABASE_URL"] = url[: url.rindex("/") + 1] + probe
        names = [f"test_{probe}_{n}" for n in "abc"]
    try:
        first = _probe(env, "create", names[0])
        assert _probe(env, "fingerprint") == {"fresh": True}
        _probe(env, "mark")
        second = _probe(env, "create", names[1])
        _probe(env, "stale")
        third = _probe(env, "create", names[2])
        assert _probe(env, "fingerprint") == {"fresh": True}
    finally:
        for name in names:
            _probe(env, "destroy", name)
        _probe(env, "drop")
    assert [first["name"], second["name"], third["name"]] == names
    assert [first["unapplied"], second["unapplied"], third["unapplied"]] == [0, 0, 0]
    assert [first["marked"], second["marked"], third["marked"]] == [False, True, False]
    assert first["content_types"] > 0
    assert second["content_types"] == first["content_types"] + 1
    assert third["content_types"] == first["content_types"]
