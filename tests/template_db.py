"""Each test database made from one migrated database, not migrated again.

Every pytest-xdist worker creates its own test database; each ran all the migrations (18 to
38 s, the three at once on two cores). Now the first process to take a file lock migrates a
template database, and every test database is a copy of it: PostgreSQL's `CREATE DATABASE
... TEMPLATE ...` (what Django's own parallel runner does in `clone_test_db`), a copy of the
file on SQLite. The template is kept between runs with a fingerprint of the migrations it
was made from (their files, Django's version): one that is missing or made from other
migrations is migrated again first. A copy holds what the migrations wrote, the content
types, permissions and data migrations' rows included, the same as a migration of its own.

A reused test database (`--reuse-db` without `--create-db`) that exists is migrated by
Django as before; teardown (dropping a test database) is Django's.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import django
from django.conf import settings
from django.db.migrations.loader import MigrationLoader

SQLITE_FINGERPRINT_SUFFIX = ".migrations"


def migrations_fingerprint(vendor: str) -> str:
    """What the template must have been migrated from: every migration file's bytes."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(f"{django.get_version()} {vendor}".encode())
    for key in sorted(loader.disk_migrations):
        module = sys.modules[type(loader.disk_migrations[key]).__module__]
        digest.update(repr(key).encode())
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def template_name(settings_dict: dict) -> str:
    """The template of a database's test databases, named after the database itself."""
    name = str(settings_dict["NAME"])
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        root, ext = os.path.splitext(name)
        return f"{root}-test-template{ext}"
    return f"test_{name}_template"


def supported(connection) -> bool:
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and not connection.creation.is_in_memory_db(
        connection.creation._get_test_db_name()
    )


def made_from_template(create_test_db: Callable) -> Callable:
    """Django's `BaseDatabaseCreation.create_test_db`, copying the migrated template."""

    @functools.wraps(create_test_db)
    def create(creation, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        connection = creation.connection
        test_name = creation._get_test_db_name()
        if not supported(connection) or (keepdb and _exists(connection, test_name)):
            return create_test_db(creation, verbosity, autoclobber, serialize, keepdb)
        template = template_name(connection.settings_dict)
        with _locked(connection, template):
            if _fingerprint(connection, template) != migrations_fingerprint(connection.vendor):
                _migrate_template(creation, create_test_db, template, verbosity)
            _copy(connection, template, test_name)
        settings.DATABASES[connection.alias]["NAME"] = test_name
        connection.settings_dict["NAME"] = test_name
        connection.ensure_connection()
        if serialize:
            connection._test_serialized_contents = creation.serialize_db_to_string()
        return test_name

    create.copies_template = True
    return create


def _migrate_template(creation, create_test_db: Callable, template: str, verbosity: int):
    """Django's own creation of a test database, under the template's name, then marked."""
    connection = creation.connection
    test = connection.settings_dict.setdefault("TEST", {})
    name, test_name = connection.settings_dict["NAME"], test.get("NAME")
    _set_fingerprint(connection, template, None)
    test["NAME"] = template
    try:
        create_test_db(creation, verbosity, autoclobber=True, serialize=False, keepdb=False)
    finally:
        _close(connection)
        test["NAME"] = test_name
        settings.DATABASES[connection.alias]["NAME"] = name
        connection.settings_dict["NAME"] = name
    _set_fingerprint(connection, template, migrations_fingerprint(connection.vendor))


@contextlib.contextmanager
def _locked(connection, template: str) -> Iterator[None]:
    """One process at a time checks, migrates and copies a template (PostgreSQL refuses to
    copy a database someone is connected to)."""
    if connection.vendor == "sqlite":
        path = Path(f"{template}.lock")
    else:
        where = f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        key = hashlib.sha256(f"{where}/{template}".encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"portal-test-template-{key}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _close(connection) -> None:
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def _exists(connection, name: str) -> bool:
    if connection.vendor == "sqlite":
        return os.path.exists(name)
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def _fingerprint(connection, template: str) -> str | None:
    """The fingerprint the template was marked with; None if it is missing or unmarked."""
    if connection.vendor == "sqlite":
        marked = Path(template + SQLITE_FINGERPRINT_SUFFIX)
        if not (os.path.exists(template) and marked.exists()):
            return None
        return marked.read_text()
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _set_fingerprint(connection, template: str, fingerprint: str | None) -> None:
    """Mark the template (a database comment, a file beside SQLite's); None: unmark it."""
    if connection.vendor == "sqlite":
        marked = Path(template + SQLITE_FINGERPRINT_SUFFIX)
        if fingerprint is None:
            marked.unlink(missing_ok=True)
        else:
            marked.write_text(fingerprint)
        return
    if fingerprint is None and not _exists(connection, template):
        return
    quoted = connection.ops.quote_name(template)
    if fingerprint is not None:
        int(fingerprint, 16)  # hex digits only: nothing to quote
    comment = "NULL" if fingerprint is None else f"'{fingerprint}'"
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"COMMENT ON DATABASE {quoted} IS {comment}")


def _copy(connection, template: str, test_name: str) -> None:
    _close(connection)
    if connection.vendor == "sqlite":
        shutil.copyfile(template, test_name)
        return
    quote = connection.ops.quote_name
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(test_name)}")
        cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")
