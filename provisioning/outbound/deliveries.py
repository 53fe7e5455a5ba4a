"""From an event to signed POSTs: a Delivery row per endpoint that hears it, each attempt
claimed by a conditional UPDATE (so a task that runs twice sends once), retried with back-off
and jitter scheduled as a countdown (never a sleep in a worker), and an endpoint that keeps
failing switched off with an alert."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from provisioning.events.models import Event
from provisioning.outbound import alerts, payloads, sending, signing
from provisioning.outbound.models import ERROR_CHARS, Delivery, WebhookEndpoint
from tenants.crypto import CredentialError

DELIVER_TASK = "provisioning.outbound.tasks.deliver"
# The wait after the 1st, 2nd, ... failed attempt; the attempt after the last is the final one.
BACKOFF_S = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
JITTER = 0.1  # +-10 %, so that one receiver's outage does not come back as one burst
# An attempt's claim outlives the request's timeout; a worker that died frees it then.
CLAIM_S = sending.TIMEOUT_S + 50
# An endpoint is switched off after this many failed attempts in a row spanning this long.
SWITCH_OFF_FAILURES = 8
SWITCH_OFF_AFTER = timedelta(days=1)
GONE = 410  # the receiver wants no more: the endpoint is switched off (Standard Webhooks)


# -- from an event to deliveries ----------------------------------------------------------------


def on_event(event: Event) -> None:
    """Subscribed to events.publish: rows now, the requests in tasks after the commit."""
    for delivery_id in create_for_event(event):
        enqueue(delivery_id)


def sending_to(kind: str, tenant_id: int | None):
    """The endpoints switched on that may hear an event of the tenant: its own and the MSP's
    (whether one hears `kind` is `WebhookEndpoint.hears`, on the rows read). Asked by the
    event's INSERT (registered with `events.publish` in apps.py): with none, no read after."""
    return WebhookEndpoint.objects.filter(active=True, disabled_at__isnull=True).filter(
        Q(tenant__isnull=True) | Q(tenant_id=tenant_id)
    )


def create_for_event(event: Event) -> list[int]:
    made = [
        Delivery(endpoint=endpoint, event=event, kind=event.kind, message_id=event.pk)
        for endpoint in sending_to(event.kind, event.tenant_id)
        if endpoint.hears(event)
    ]
    return [d.pk for d in Delivery.objects.bulk_create(made)] if made else []


def enqueue(delivery_id: int, countdown: float = 0) -> None:
    current_app.send_task(DELIVER_TASK, args=[delivery_id], countdown=max(countdown, 0))


def enqueue_on_commit(delivery_id: int) -> None:
    transaction.on_commit(lambda: enqueue(delivery_id))


# -- one attempt -------------------------------------------------------------------------------


def attempt(delivery_id: int) -> Delivery | None:
    """Send the delivery if it is due and nobody else is sending it; None when it was not
    this call's to send (delivered already, not due yet, claimed by another run)."""
    if not claim(delivery_id):
        return None
    delivery = Delivery.objects.select_related(
        "endpoint", "endpoint__tenant", "event", "event__tenant"
    ).get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_sending:
        answer = sending.Answer(False, error="The endpoint is switched off or paused.")
        return record_answer(delivery, answer, final=True)
    body = payloads.body_of(delivery)
    try:
        secrets = endpoint.secrets()
    except CredentialError:
        answer = sending.Answer(False, error="The signing secret cannot be read: rotate it.")
        return record_answer(delivery, answer)
    headers = signing.headers(secrets, str(delivery.message_id), int(time.time()), body)
    return record_answer(delivery, sending.post(endpoint.url, body, headers))


def claim(delivery_id: int, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        Delivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            pk=delivery_id,
            status__in=Delivery.DUE,
            next_attempt_at__lte=now,
        ).update(
            claimed_until=now + timedelta(seconds=CLAIM_S),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    )


def record_answer(delivery: Delivery, answer: sending.Answer, *, final: bool = False) -> Delivery:
    now = timezone.now()
    with transaction.atomic():
        delivery.refresh_from_db(fields=["attempts"])
        delivery.claimed_until = None
        delivery.last_response_code = answer.status_code
        delivery.last_error = answer.error[:ERROR_CHARS]
        gone = answer.status_code == GONE
        if answer.delivered:
            delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
            _endpoint_succeeded(delivery.endpoint)
        elif final or gone or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = Delivery.Status.GIVEN_UP
        else:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = now + timedelta(seconds=wait_after(delivery, answer))
        delivery.save(
            update_fields=[
                "claimed_until",
                "last_response_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        if gone:
            _endpoint_gone(delivery.endpoint, now)
        elif not answer.delivered and not final:
            _endpoint_failed(delivery.endpoint, now)
        if delivery.status == Delivery.Status.FAILED:
            wait = (delivery.next_attempt_at - now).total_seconds()
            delivery_id = delivery.pk
            transaction.on_commit(lambda: enqueue(delivery_id, countdown=wait))
    return delivery


def wait_after(delivery: Delivery, answer: sending.Answer) -> float:
    """Seconds until the next attempt: what a 429/503 asked for, else the back-off."""
    if answer.retry_after_s is not None:
        return max(answer.retry_after_s, 1.0)
    return backoff_s(delivery.attempts)


def backoff_s(failed_attempts: int) -> float:
    base = BACKOFF_S[min(failed_attempts, len(BACKOFF_S)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter, not a secret


# -- the endpoint's health ---------------------------------------------------------------------


def _endpoint_succeeded(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=0, failing_since=None
    )


def _endpoint_failed(endpoint: WebhookEndpoint, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if should_switch_off(current, now):
        alerts.switch_off(current, now)


def _endpoint_gone(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Standard Webhooks, *Delivery success and failure*: a 410 Gone says the receiver wants
    no more, and the "Sender should disable the webhook endpoint": at once, not after a day
    of retries."""
    current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if current.disabled_at is None:
        alerts.switch_off(current, now, reason="the receiver answered 410 Gone: it wants no more")


def should_switch_off(endpoint: WebhookEndpoint, now: datetime) -> bool:
    return (
        endpoint.disabled_at is None
        and endpoint.consecutive_failures >= SWITCH_OFF_FAILURES
        and endpoint.failing_since is not None
        and now - endpoint.failing_since >= SWITCH_OFF_AFTER
    )


# -- the sweep (beat) --------------------------------------------------------------------------


def due_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Due deliveries nobody holds: a task lost with a worker is sent again from here."""
    now = now or timezone.now()
    rows = Delivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        status__in=Delivery.DUE,
        next_attempt_at__lte=now - timedelta(seconds=30),
    ).order_by("next_attempt_at")
    return list(rows.values_list("pk", flat=True)[:limit])
