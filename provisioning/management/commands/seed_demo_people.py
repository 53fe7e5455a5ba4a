"""Queue the onboarding of the demo tenants' people (the worker provisions them)."""

from django.core.management.base import BaseCommand

from provisioning.demo import seed_people


class Command(BaseCommand):
    help = "Onboard a few people in each demo tenant through the normal onboarding service."

    def handle(self, *args, **options):
        queued = seed_people()
        self.stdout.write(f"Demo people: {queued} onboarding jobs queued.")
