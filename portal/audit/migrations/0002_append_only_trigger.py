"""On PostgreSQL, refuse UPDATE and DELETE on the audit events table in the database itself.

The model and queryset guards stop the application; this stops raw SQL and other clients.
TRUNCATE stays possible, so test-database flushes keep working. Retention (pruning a chain's
oldest events behind a signed checkpoint) will replace the function in a later migration
with one that lets through only deletes below the checkpoint; CREATE OR REPLACE keeps that
a one-function change.
"""

from django.db import migrations

TABLE = "audit_auditevent"
FUNCTION = "audit_event_append_only"
TRIGGER = "audit_event_append_only"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % on {TABLE} is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
