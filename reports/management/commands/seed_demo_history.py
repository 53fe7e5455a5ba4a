"""A month of past work in the demo tenants (reports/demo_history.py), then a licence reading."""

from django.core.management.base import BaseCommand
from django.db import transaction

from reports.demo_history import seed_history
from reports.tasks import refresh_licence_snapshots


class Command(BaseCommand):
    help = "Give each demo tenant 30 days of past joiners, movers, leavers and access requests."

    def handle(self, *args, **options):
        made = seed_history()
        for slug, figures in made.items():
            summary = ", ".join(f"{n} {what}" for what, n in sorted(figures.items()))
            self.stdout.write(f"History of {slug}: {summary}.")
        if not made:
            self.stdout.write("Demo history: already there.")
        # The dashboard shows licence seats from a reading; take the first once the worker runs.
        transaction.on_commit(lambda: refresh_licence_snapshots.apply_async(countdown=10))
