"""Give the demo history's people their sandbox accounts (and seed a little drift), then read
every demo connection's inventory. Queued for the worker unless --now."""

from django.core.management.base import BaseCommand

from provisioning import demo_accounts
from provisioning.tasks import seed_demo_accounts


class Command(BaseCommand):
    help = "Sandbox accounts for the demo history's people, then an inventory read."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run here instead of the worker")

    def handle(self, *args, now: bool, **options):
        if now:
            made = demo_accounts.seed_accounts()
            self.stdout.write(f"Demo accounts: {made}")
        else:
            seed_demo_accounts.delay()
