"""`Tenant.config_version`, and the database triggers that give it a new random value
whenever the tenant's row, or a row of its connections, role templates or attribute
mappings, is inserted, changed or deleted: whatever writes it (a save, a queryset update, a
bulk write, raw SQL), so a worker that keeps those rows by the version never uses stale ones
(provisioning/engine/memo.py). A Django signal would miss queryset updates and bulk writes.

A write of the tenant's own row gets a new value too: a save of a tenant read before a
change of its connections would otherwise write back the version of before that change."""

import uuid

from django.db import migrations, models

CONFIG_TABLES = ("tenants_directoryconnection", "tenants_roletemplate", "tenants_attributemapping")

POSTGRESQL = [
    """
    CREATE FUNCTION tenants_new_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.config_version := gen_random_uuid();
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER tenants_tenant_config_version BEFORE UPDATE ON tenants_tenant
    FOR EACH ROW EXECUTE FUNCTION tenants_new_config_version()
    """,
    """
    CREATE FUNCTION tenants_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE tenants_tenant SET config_version = gen_random_uuid() WHERE id = OLD.tenant_id;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id)
        THEN
            UPDATE tenants_tenant SET config_version = gen_random_uuid() WHERE id = NEW.tenant_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION tenants_config_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tenants_tenant SET config_version = gen_random_uuid();
        RETURN NULL;
    END $$
    """,
    *(
        sql
        for table in CONFIG_TABLES
        for sql in (
            f"""
            CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION tenants_config_changed()
            """,
            f"""
            CREATE TRIGGER {table}_config_truncated AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION tenants_config_truncated()
            """,
        )
    ),
]
POSTGRESQL_REVERSE = [
    *(f"DROP TRIGGER {table}_config_version ON {table}" for table in CONFIG_TABLES),
    *(f"DROP TRIGGER {table}_config_truncated ON {table}" for table in CONFIG_TABLES),
    "DROP TRIGGER tenants_tenant_config_version ON tenants_tenant",
    "DROP FUNCTION tenants_config_truncated()",
    "DROP FUNCTION tenants_config_changed()",
    "DROP FUNCTION tenants_new_config_version()",
]

# SQLite: a BEFORE trigger cannot set NEW, so the tenant's AFTER UPDATE sets the row again
# (recursive triggers are off: that UPDATE does not fire it once more). A UUIDField is stored
# as 32 hex digits. SQLite has no TRUNCATE (a DELETE without WHERE fires the row triggers).
NEW_VERSION = "lower(hex(randomblob(16)))"
SQLITE = [
    f"""
    CREATE TRIGGER tenants_tenant_config_version AFTER UPDATE ON tenants_tenant
    FOR EACH ROW BEGIN
        UPDATE tenants_tenant SET config_version = {NEW_VERSION} WHERE id = NEW.id;
    END
    """,
    *(
        f"""
        CREATE TRIGGER {table}_config_{event.lower()} AFTER {event} ON {table}
        FOR EACH ROW BEGIN
            UPDATE tenants_tenant SET config_version = {NEW_VERSION}
            WHERE id IN ({", ".join(rows)});
        END
        """
        for table in CONFIG_TABLES
        for event, rows in (
            ("INSERT", ["NEW.tenant_id"]),
            ("UPDATE", ["OLD.tenant_id", "NEW.tenant_id"]),
            ("DELETE", ["OLD.tenant_id"]),
        )
    ),
]
SQLITE_REVERSE = [
    "DROP TRIGGER tenants_tenant_config_version",
    *(
        f"DROP TRIGGER {table}_config_{event}"
        for table in CONFIG_TABLES
        for event in ("insert", "update", "delete")
    ),
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0011_connection_credential_expiry_read"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="config_version",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
