"""Indexes behind the audit pages' filters (reports/audit_queries.py), so that every filter
combination, newest first with keyset pagination on (timestamp, id), is an index scan at a
million events.

The composite indexes exist on both databases (SQLite's EXPLAIN QUERY PLAN tests see them).
PostgreSQL also gets:
- ``varchar_pattern_ops`` on ``action``, so an action prefix (``LIKE 'directory.%'``) is an
  index range under any collation, not only under C;
- a pg_trgm GIN index on ``UPPER(target_display::text)``: exactly the expression Django's
  ``icontains`` compares, so free text on target names is an index scan, not a scan of the table.
  pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.

Not atomic: on PostgreSQL the indexes are built CONCURRENTLY, because the events table takes
writes all the time and a plain CREATE INDEX would hold every audited change for the build.
They are not in the model's Meta: Django cannot express the operator classes and the GIN
expression, and one place for all of them reads better than two.
"""

from django.db import migrations

TABLE = "audit_auditevent"

# name -> (columns on SQLite, or None to skip there; columns on PostgreSQL)
BTREE = {
    "audit_actor_name_time_idx": ("actor_username, timestamp, id",) * 2,
    "audit_tenant_action_time_idx": (
        "tenant_id, action, timestamp, id",
        "tenant_id, action varchar_pattern_ops, timestamp, id",
    ),
    "audit_action_prefix_idx": (None, "action varchar_pattern_ops, timestamp, id"),
    "audit_tenant_result_time_idx": ("tenant_id, result, timestamp, id",) * 2,
    "audit_result_time_idx": ("result, timestamp, id",) * 2,
}
TRGM = "audit_target_display_trgm_idx"


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, (sqlite_columns, pg_columns) in BTREE.items():
        columns = pg_columns if postgres else sqlite_columns
        if columns:
            schema_editor.execute(_create_index(name, columns, postgres), params=None)
    if postgres:
        schema_editor.execute(
            _create_index(TRGM, "UPPER(target_display::text) gin_trgm_ops", postgres, "gin"),
            params=None,
        )


def drop(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    concurrently = "CONCURRENTLY " if postgres else ""
    for name in [*BTREE, TRGM]:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}", params=None)


def _create_index(name: str, columns: str, postgres: bool, method: str = "") -> str:
    concurrently = "CONCURRENTLY " if postgres else ""
    using = f" USING {method}" if method else ""
    return f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {TABLE}{using} ({columns})"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_checkpoints")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
