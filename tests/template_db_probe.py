"""A process of its own whose test database is made by tests/template_db.py (its `default`
database is the probe's: the data migrations write to `default`). Run by
tests/test_template_db.py: `python -m tests.template_db_probe ACTION TEST_NAME`; prints JSON."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.base.creation import BaseDatabaseCreation  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from tests import template_db  # noqa: E402

MARKER = {"app_label": "probe", "model": "written_into_the_template"}


def create(test_name: str) -> dict:
    """A test database as a pytest worker makes one, and what it holds."""
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = test_name
    create_test_db = template_db.made_from_template(BaseDatabaseCreation.create_test_db)
    create_test_db(connection.creation, verbosity=0, autoclobber=True, serialize=False)
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return {
        "name": connection.settings_dict["NAME"],
        "unapplied": len(unapplied),
        "content_types": ContentType.objects.count(),
        "marked": ContentType.objects.filter(**MARKER).exists(),
    }


def on_template(action: str) -> dict:
    template = template_db.template_name(connection.settings_dict)
    if action == "stale":
        template_db._set_fingerprint(connection, template, "0" * 64)
    elif action == "mark":
        connection.settings_dict["NAME"] = template
        ContentType.objects.create(**MARKER)
    elif action == "fingerprint":
        return {
            "fresh": template_db._fingerprint(connection, template)
            == template_db.migrations_fingerprint(connection.vendor)
        }
    elif action == "drop":
        connection.creation._destroy_test_db(template, verbosity=0)
    return {}


if __name__ == "__main__":
    action, *names = sys.argv[1:]
    if action == "create":
        found = create(names[0])
    elif action == "destroy":
        connection.creation._destroy_test_db(names[0], verbosity=0)
        found = {}
    else:
        found = on_template(action)
    connection.close()
    print(json.dumps(found))
