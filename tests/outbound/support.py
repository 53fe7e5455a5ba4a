"""Helpers of the outbound webhook tests: receivers in the sandbox, endpoints, due deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.outbound import deliveries, services
from provisioning.outbound.models import Delivery, WebhookEndpoint

ALL_KINDS = list(Event.Kind.values)


def receiver(sandbox, statuses=(), then=200, retry_after=None) -> str:
    """A new receiver in the sandbox; its URL."""
    name = f"r-{uuid.uuid4().hex[:12]}"
    body = {"statuses": list(statuses), "then": then, "retry_after": retry_after}
    with sandbox.control() as control:
        control.put(f"/_sandbox/webhook-receivers/{name}", json=body).raise_for_status()
    return f"{sandbox.url}/hooks/{name}"


def received(sandbox, url: str) -> list[dict]:
    name = url.rsplit("/", 1)[1]
    with sandbox.control() as control:
        response = control.get(f"/_sandbox/webhook-receivers/{name}")
    response.raise_for_status()
    return response.json()["received"]


def make_endpoint(tenant, url: str, kinds=None, name="PSA") -> tuple[WebhookEndpoint, str]:
    wanted = services.EndpointSettings(name, url, kinds or ALL_KINDS)
    return services.create_endpoint(tenant, wanted, actor="system")


def delivery_of(tenant, endpoint, kind=Event.Kind.JOB_FAILED, data=None) -> Delivery:
    """An event emitted for `tenant`, and its delivery to `endpoint` (not yet attempted)."""
    event = emit(kind, tenant=tenant, data=data or {"job": {"id": 7, "kind": "join"}})
    ids = deliveries.create_for_event(event)
    return Delivery.objects.get(pk__in=ids, endpoint=endpoint)


def make_due(delivery: Delivery) -> None:
    """Stand in for the countdown: the next attempt is due now."""
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
