"""Check every connection's credential expiry now, as beat does daily (the demo runs it at
start so that Northwind's secret, ending within 30 days, shows on its first page)."""

from django.core.management.base import BaseCommand

from provisioning.alerts import expiry
from provisioning.alerts.tasks import check_credential_expiry


class Command(BaseCommand):
    help = "Read credential expiry dates and emit credential.expiring where a threshold is due."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", action="store_true", help="Hand it to a worker instead of running here."
        )

    def handle(self, *args, queue: bool, **options):
        if queue:
            check_credential_expiry.delay()
            self.stdout.write("Queued the credential expiry check.")
            return
        self.stdout.write(f"Told {expiry.check_all()} expiring credential(s).")
