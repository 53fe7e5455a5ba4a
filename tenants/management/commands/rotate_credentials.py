"""Re-encrypt every stored directory credential with the first key in CREDENTIAL_KEYS."""

from django.core.management.base import BaseCommand

from tenants import services
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection


class Command(BaseCommand):
    help = "Re-encrypt every directory credential with the first CREDENTIAL_KEYS key."

    def handle(self, *args, **options):
        rotated, failed = 0, 0
        connections = DirectoryConnection.objects.exclude(secret_ciphertext="").select_related(
            "tenant"
        )
        for connection in connections:
            try:
                services.rotate_connection_secret(connection)
                rotated += 1
            except CredentialError as exc:
                failed += 1
                self.stderr.write(f"{connection} (id {connection.pk}): {exc}")
        self.stdout.write(f"Re-encrypted {rotated} credential(s); {failed} could not be read.")
        if failed:
            raise SystemExit(1)
