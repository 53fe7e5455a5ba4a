"""`manage.py seed_scale --tenants 200 --identities 50000 --events 1000000` (PostgreSQL)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from reports import scale
from tenants.models import Tenant
from tenants.staff import save_person

PASSWORD = "scale-pass-2026"  # noqa: S105 - benchmark logins of a throwaway database


class Command(BaseCommand):
    help = "Fill an empty database with scale data for bench/pages.py (bulk inserts and COPY)."

    def add_arguments(self, parser):
        parser.add_argument("--tenants", type=int, default=200)
        parser.add_argument("--identities", type=int, default=50_000)
        parser.add_argument("--events", type=int, default=1_000_000)

    def handle(self, *args, tenants: int, identities: int, events: int, **options):
        if Tenant.objects.filter(slug__startswith=scale.PREFIX).exists():
            raise CommandError("Scale data is here already: seed a fresh database.")
        started = time.monotonic()
        figures = scale.seed(tenants, identities, events, log=self.stdout.write)
        self.people()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # the planner needs statistics of the new rows
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {figures} in {time.monotonic() - started:.0f} s. "
                f"Logins scale-admin, scale-tech, scale-am, scale-ca (password {PASSWORD})."
            )
        )

    def people(self) -> None:
        some = list(Tenant.objects.filter(slug__startswith=scale.PREFIX).order_by("slug"))
        for username, role, all_tenants, assigned in [
            ("scale-admin", "msp_admin", False, []),
            ("scale-tech", "technician", True, []),
            ("scale-am", "account_manager", False, some[:20]),
            ("scale-ca", "client_admin", False, some[:1]),
        ]:
            save_person(
                {
                    "username": username,
                    "first_name": username.split("-")[1].title(),
                    "last_name": "Scale",
                    "email": f"{username}@msp.example",
                    "role": role,
                    "all_tenants": all_tenants,
                    "tenants": assigned,
                    "password": PASSWORD,
                    "is_active": True,
                },
                actor="system",
            )
