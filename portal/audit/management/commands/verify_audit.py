"""`manage.py verify_audit [--tenant ID] [--witness FILE]`: exit 1 when a chain is broken."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit.models import chain_key_for
from portal.audit.verify import Witness, check_witness, format_report, verify_all, witness_of


class Command(BaseCommand):
    help = (
        "Walk the audit chains, recompute every keyed hash, check every link and every chain "
        "head's signature; report the first broken link per chain. Exit status 1 when broken, "
        "0 when intact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", type=int, help="Verify only this tenant's chain (its id).")
        parser.add_argument(
            "--witness",
            type=Path,
            help="A file kept outside the database: each chain must have reached at least where "
            "this file saw it last time (no rollback, no chain deleted whole); when all is "
            "intact the file is updated to where the chains end now.",
        )

    def handle(
        self, *args: Any, tenant: int | None = None, witness: Path | None = None, **options: Any
    ) -> None:
        report = verify_all(tenant_id=tenant)
        seen = read_witness(witness) if witness else {}
        if witness:
            only = None if tenant is None else chain_key_for(tenant)
            check_witness(report, seen, only=only)
        for line in format_report(report):
            if line.startswith("BROKEN"):
                self.stderr.write(line)
            else:
                self.stdout.write(line)
        if not report.ok:
            raise SystemExit(1)
        if witness:
            write_witness(witness, witness_of(report, seen))


def read_witness(path: Path) -> Witness:
    if not path.exists():
        return {}
    try:
        chains = json.loads(path.read_text())["chains"]
        return {
            str(key): {"seq": int(m["seq"]), "hash": str(m["hash"])} for key, m in chains.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CommandError(f"{path} is not a witness file written by verify_audit") from exc


def write_witness(path: Path, witness: Witness) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"chains": witness}, indent=1, sort_keys=True) + "\n")
    os.replace(partial, path)
