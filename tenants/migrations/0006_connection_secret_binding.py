"""Bind every stored connection secret to the ids and endpoints it was entered for (issue 12).

A secret used to survive an endpoint change, so an MSP admin could point a connection at a
host of their choosing and have a technician's "Test connection" send it there. From now on
the ciphertext holds the secret together with a fingerprint of the connection's kind, ids and
endpoints (tenants.endpoints.secret_binding, sealed by tenants.crypto.encrypt_bound); a row
whose fields no longer match is refused by the connectors.

Existing rows are re-encrypted with the fingerprint of what they hold now. A row whose secret
no configured key decrypts is left as it is: it was unusable before and still is, and the
connection page asks for the secret again. Both helpers are plain functions without models,
so this migration does the same on every database.
"""

from django.db import migrations

from tenants import crypto, endpoints


def _binding(row) -> str:
    return endpoints.secret_binding(
        row.kind,
        row.directory_id,
        row.client_id,
        row.login_base_url,
        row.graph_base_url,
        row.org_url,
    )


def bind_secrets(apps, schema_editor):
    DirectoryConnection = apps.get_model("tenants", "DirectoryConnection")
    for row in DirectoryConnection.objects.exclude(secret_ciphertext="").iterator():
        try:
            bound = crypto.bind_legacy(row.secret_ciphertext, _binding(row))
        except crypto.CredentialError:
            continue
        if bound != row.secret_ciphertext:
            DirectoryConnection.objects.filter(pk=row.pk).update(secret_ciphertext=bound)


def unbind_secrets(apps, schema_editor):
    DirectoryConnection = apps.get_model("tenants", "DirectoryConnection")
    for row in DirectoryConnection.objects.exclude(secret_ciphertext="").iterator():
        try:
            plain = crypto.unbind(row.secret_ciphertext)
        except crypto.CredentialError:
            continue
        if plain != row.secret_ciphertext:
            DirectoryConnection.objects.filter(pk=row.pk).update(secret_ciphertext=plain)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_audit_retention"),
    ]

    operations = [
        migrations.RunPython(bind_secrets, unbind_secrets),
    ]
