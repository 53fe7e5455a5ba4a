"""Retention: remove a chain's events older than a cutoff, behind a signed checkpoint.

Only a prefix of the chain is removed (every event up to the first one that is not older
than the cutoff), so what remains is one unbroken run that starts at the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditCheckpoint, AuditEvent


@dataclass(frozen=True)
class Pruned:
    chain_key: str
    removed: int
    checkpoint: AuditCheckpoint | None


def prune_chain(chain_key: str, before: datetime) -> Pruned:
    """Remove the chain's oldest events, all older than `before`; sign where it now starts."""
    with transaction.atomic():
        events = AuditEvent.objects.filter(chain_key=chain_key)
        first_kept = events.filter(timestamp__gte=before).order_by("seq").values("seq").first()
        if first_kept is None:
            last = events.order_by("-seq").values("seq").first()
            through = last["seq"] if last else 0
        else:
            through = first_kept["seq"] - 1
        anchor = latest_checkpoint(chain_key)
        if through <= (anchor.seq if anchor else 0):
            return Pruned(chain_key, 0, None)
        last_removed = events.get(seq=through)
        removed = events.filter(seq__lte=through).count()
        checkpoint = AuditCheckpoint(
            chain_key=chain_key,
            seq=through,
            hash=last_removed.hash,
            events_removed=removed + (anchor.events_removed if anchor else 0),
            removed_before=before,
            created_at=timezone.now(),
        )
        checkpoint.sign()
        checkpoint.save()
        _delete_through(chain_key, through)
    return Pruned(chain_key, removed, checkpoint)


def _delete_through(chain_key: str, seq: int) -> None:
    """Raw SQL on purpose: the model and queryset refuse deletes, and on PostgreSQL the
    trigger lets these rows go only because the checkpoint above now covers them."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE chain_key = %s AND seq <= %s", [chain_key, seq])  # noqa: S608


def latest_checkpoint(chain_key: str) -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.filter(chain_key=chain_key).order_by("-seq").first()
