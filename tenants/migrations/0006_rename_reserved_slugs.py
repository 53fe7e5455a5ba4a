"""Rename tenants whose slug is reserved (issue 12): "global" opened the MSP-wide audit
chain to its client admin, and "new" was shadowed by /tenants/new/.

The reserved words are frozen here as tenants.slugs.reserved_slugs() gave them when this
migration was written. A migration must not depend on the URLconf of the day it runs: the
URLconf imports every app's views, which may import models newer than this migration's
state, or be changed later, and a migration has to do the same thing on every database.
A word reserved later needs a migration of its own.

It changes only the slug of those tenants: no audit event, no other field.
"""

from django.db import migrations

MAX_LENGTH = 60
RESERVED = frozenset(
    {
        "access", "accessattempt", "accessfailurelog", "accesslog", "account", "actions",
        "add", "admin", "all", "any", "audit", "auditchainhead", "auditevent", "auth",
        "autocomplete", "axes", "batches", "bulk", "cancel", "change", "clone", "config",
        "confirm", "connections", "copy", "csv", "dashboard", "decide", "decline", "default",
        "delete", "directories", "directoryconnection", "discard", "done", "edit", "emails",
        "everyone", "export", "extend", "from-msp", "global", "group", "history", "home",
        "hooks", "hr", "hr-webhook", "jobs", "jsi18n", "licences", "lifecycle", "login",
        "logout", "me", "media", "mfa", "msp", "msp-wide", "new", "none", "null", "offboard",
        "onboard", "otp_totp", "password", "password_change", "people", "portal", "preview",
        "qrcode", "r", "refresh", "release", "reports", "requests", "resources", "restore",
        "result", "retry", "revoke", "role-templates", "roles", "roletemplate", "schedule",
        "secret", "self", "staff", "staffprofile", "start", "static", "system", "template",
        "tenant", "tenants", "test", "totpdevice", "undefined", "upload", "user", "verify",
        "webhook",
    }
)


def new_slug(slug: str, taken: set[str]) -> str:
    """``<slug>-tenant``, or ``<slug>-tenant-2``, ...: the first that is free and not reserved."""
    n = 1
    while True:
        suffix = "-tenant" if n == 1 else f"-tenant-{n}"
        candidate = slug[: MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken and candidate.lower() not in RESERVED:
            return candidate
        n += 1


def rename_reserved_slugs(apps, schema_editor) -> None:
    Tenant = apps.get_model("tenants", "Tenant")
    taken = set(Tenant.objects.values_list("slug", flat=True))
    for pk, slug in Tenant.objects.order_by("pk").values_list("pk", "slug"):
        if slug.lower() in RESERVED:
            renamed = new_slug(slug, taken)
            Tenant.objects.filter(pk=pk).update(slug=renamed)
            taken.add(renamed)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_audit_retention"),
    ]

    operations = [
        migrations.RunPython(rename_reserved_slugs, migrations.RunPython.noop, elidable=False),
    ]
