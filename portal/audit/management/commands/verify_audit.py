"""`manage.py verify_audit [--tenant ID]`: exit 1 when any audit chain is broken."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.audit.verify import format_report, verify_all


class Command(BaseCommand):
    help = (
        "Walk the audit chains, recompute every hash and check every link; report the first "
        "broken link per chain. Exit status 1 when broken, 0 when intact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", type=int, help="Verify only this tenant's chain (its id).")

    def handle(self, *args: Any, tenant: int | None = None, **options: Any) -> None:
        report = verify_all(tenant_id=tenant)
        for line in format_report(report):
            if line.startswith("BROKEN"):
                self.stderr.write(line)
            else:
                self.stdout.write(line)
        if not report.ok:
            raise SystemExit(1)
