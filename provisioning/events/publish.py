"""Emit an event; who hears of it registers from above.

`emit` writes the Event inside the caller's transaction, so an event exists exactly when
the change it tells of committed. After the commit, every subscriber is called with the
event (a task it enqueues reads the row by id): outbound webhooks and alert e-mails
subscribe when their app is ready and only enqueue work there, so a slow receiver never
holds the change that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from provisioning.events.models import Event
from tenants.models import Tenant

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(callback: Subscriber) -> Subscriber:
    """Call `callback(event)` after the commit of every emitted event."""
    if callback not in _subscribers:
        _subscribers.append(callback)
    return callback


def emit(kind: str, *, tenant: Tenant | None, data: dict) -> Event:
    if kind not in Event.Kind.values:
        raise ValueError(f"Unknown event kind {kind!r}")
    # No savepoint: inside the change's transaction an event that cannot be written fails
    # the change with it, and every job's end would pay two more statements for one.
    with transaction.atomic(savepoint=False):
        event = Event.objects.create(kind=kind, tenant=tenant, data=data)
        transaction.on_commit(lambda: _tell(event))
    return event


def _tell(event: Event) -> None:
    for callback in _subscribers:
        try:
            callback(event)
        except Exception:  # one subscriber's broken queue must not silence the others
            log.exception("Subscriber %r failed for event %s", callback, event.pk)
