"""Appending many events with their own timestamps: seeded history and scale data.

Live code writes through ``events.record``. This writes the same chain (sequence numbers,
previous hashes, the head) in bulk for events that happened "earlier": the demo's month of
history and ``seed_scale``'s million events. Events of one call are appended in the order
given, so pass them sorted by time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from .events import _actor_fields, _clean_state, _lock_head, seal_after
from .models import AuditEvent, chain_key_for

BATCH = 5000


def history_event(
    action: str,
    *,
    timestamp,
    actor: Any,
    tenant=None,
    target: tuple[str, Any, str] | None = None,
    before: dict | None = None,
    after: dict | None = None,
    result: str = "success",
    job_id: int | str | None = None,
) -> AuditEvent:
    """An unsaved event as ``record`` would build it, stamped with `timestamp`."""
    tenant_id = None if tenant is None else int(tenant.pk)
    target_type, target_id, target_display = target or ("", "", "")
    return AuditEvent(
        timestamp=timestamp,
        chain_key=chain_key_for(tenant_id),
        tenant_id=tenant_id,
        tenant_name="" if tenant is None else str(tenant)[:255],
        action=action,
        result=result,
        before=_clean_state(before),
        after=_clean_state(after),
        job_id="" if job_id is None else str(job_id),
        target_type=target_type,
        target_id=str(target_id),
        target_display=str(target_display)[:255],
        **_actor_fields(actor),
    )


def append_events(
    events: Iterable[AuditEvent], *, insert: Callable[[list[AuditEvent]], None] | None = None
) -> int:
    """Chain and insert `events` (all of one chain), continuing from its head.

    `insert` writes the sealed events (seed_scale passes COPY); bulk inserts by default."""
    events = list(events)
    if not events:
        return 0
    chain_key, tenant_id = events[0].chain_key, events[0].tenant_id
    if any(e.chain_key != chain_key for e in events):
        raise ValueError("append_events takes the events of one chain at a time")
    with transaction.atomic():
        head = _lock_head(chain_key, tenant_id)
        seal_after(head, events)
        (insert or _bulk_insert)(events)
        head.save(update_fields=head.ADVANCED_FIELDS)
    return len(events)


def _bulk_insert(events: list[AuditEvent]) -> None:
    for start in range(0, len(events), BATCH):
        AuditEvent.objects.bulk_create(events[start : start + BATCH])
