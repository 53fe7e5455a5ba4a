"""Hears every event after its commit and only enqueues the alert e-mails."""

from __future__ import annotations

from provisioning.alerts.rules import PREFERENCE_OF
from provisioning.alerts.tasks import send_event_alerts
from provisioning.events.models import Event


def on_event(event: Event) -> None:
    if event.kind in PREFERENCE_OF:
        send_event_alerts.delay(str(event.pk))
