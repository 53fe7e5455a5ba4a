"""Hears every event after its commit and only enqueues the alert e-mails."""

from __future__ import annotations

from uuid import UUID

from provisioning.alerts.rules import PREFERENCE_OF
from provisioning.alerts.tasks import send_event_alerts
from provisioning.events.models import Event


def on_event(event_id: UUID) -> None:
    kind = Event.objects.filter(pk=event_id).values_list("kind", flat=True).first()
    if kind in PREFERENCE_OF:
        send_event_alerts.delay(str(event_id))
