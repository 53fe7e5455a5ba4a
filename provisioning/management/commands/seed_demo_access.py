"""Make the demo's groups and apps requestable and file a few pending requests (idempotent).

Run by `rundemo` once the sandbox answers: a requestable resource holds the directory's id of
the group or app, and the demo directories (Okta's ids are random) exist only while it runs.
"""

from django.core.management.base import BaseCommand

from provisioning.demo import seed_access


class Command(BaseCommand):
    help = "Requestable groups/apps and pending access requests for the demo tenants."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for the directories"
        )

    def handle(self, *args, wait: float, **options):
        made, filed = seed_access(wait_seconds=wait)
        self.stdout.write(
            f"Demo access requests: {made} requestable groups/apps, {filed} pending requests "
            "(sign in as ca.contoso, ca.fabrikam or ca.northwind to decide on them)."
        )
