"""Every change to an endpoint, one function each: the change, its audit event, and what
follows after the commit. Secrets are returned for the one time they are shown and never
enter an audit event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit.events import record
from provisioning.outbound import deliveries, signing
from provisioning.outbound.models import TEST_KIND, Delivery, WebhookEndpoint
from tenants.models import Tenant

# After a rotation the old secret keeps signing (a second signature) this long.
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class EndpointSettings:
    name: str
    url: str
    kinds: list[str]
    active: bool = True


def _described(endpoint: WebhookEndpoint) -> dict:
    return {
        "name": endpoint.name,
        "url": endpoint.url,
        "kinds": sorted(endpoint.kinds),
        "active": endpoint.active,
        "scope": endpoint.tenant.slug if endpoint.tenant else "msp",
    }


def create_endpoint(
    tenant: Tenant | None, wanted: EndpointSettings, *, actor, http_request=None
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (shown once)."""
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint(
            tenant=tenant,
            name=wanted.name,
            url=wanted.url,
            kinds=sorted(wanted.kinds),
            active=wanted.active,
        )
        endpoint.set_secret(secret)
        endpoint.save()
        record(
            "webhook.endpoint_create",
            actor=actor,
            tenant=tenant,
            target=endpoint,
            after=_described(endpoint),
            request=http_request,
        )
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint, wanted: EndpointSettings, *, actor, http_request=None
) -> WebhookEndpoint:
    """Name, URL, kinds and the on/off switch; the secret stays as it is."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _described(current)
        current.name, current.url = wanted.name, wanted.url
        current.kinds, current.active = sorted(wanted.kinds), wanted.active
        current.save(update_fields=["name", "url", "kinds", "active"])
        record(
            "webhook.endpoint_update",
            actor=actor,
            tenant=current.tenant,
            target=current,
            before=before,
            after=_described(current),
            request=http_request,
        )
    return current


def rotate_secret(endpoint: WebhookEndpoint, *, actor, http_request=None) -> str:
    """A new secret signs from now on; the old one adds a second signature for a day."""
    secret = signing.new_secret()
    now = timezone.now()
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        current.previous_secret_ciphertext = current.secret_ciphertext
        current.previous_secret_until = now + ROTATION_GRACE
        current.set_secret(secret)
        current.save(
            update_fields=[
                "secret_ciphertext",
                "secret_set_at",
                "previous_secret_ciphertext",
                "previous_secret_until",
            ]
        )
        record(
            "webhook.endpoint_rotate_secret",
            actor=actor,
            tenant=current.tenant,
            target=current,
            after={"set_at": now.isoformat(), "old_secret_signs_until": (now + ROTATION_GRACE)},
            request=http_request,
        )
    return secret


def switch_on(endpoint: WebhookEndpoint, *, actor, http_request=None) -> bool:
    """Switch on an endpoint that was switched off for failing; False when it was not."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if current.disabled_at is None:
            return False
        before = {"disabled_at": current.disabled_at.isoformat(), "reason": current.disabled_reason}
        WebhookEndpoint.objects.filter(pk=current.pk).update(
            disabled_at=None, disabled_reason="", consecutive_failures=0, failing_since=None
        )
        record(
            "webhook.endpoint_switch_on",
            actor=actor,
            tenant=current.tenant,
            target=current,
            before=before,
            after={"disabled_at": None},
            request=http_request,
        )
    return True


def send_test(endpoint: WebhookEndpoint, *, actor, http_request=None) -> Delivery:
    with transaction.atomic():
        delivery = Delivery.objects.create(endpoint=endpoint, kind=TEST_KIND)
        record(
            "webhook.test_send",
            actor=actor,
            tenant=endpoint.tenant,
            target=endpoint,
            after={"delivery": delivery.pk},
            request=http_request,
        )
        deliveries.enqueue_on_commit(delivery.pk)
    return delivery


def redeliver(delivery: Delivery, *, actor, http_request=None) -> Delivery:
    """A new delivery of the same message (same webhook-id, so receivers can dedupe); the
    old row stays in the log as it was."""
    with transaction.atomic():
        again = Delivery.objects.create(
            endpoint=delivery.endpoint,
            event=delivery.event,
            kind=delivery.kind,
            message_id=delivery.message_id,
        )
        record(
            "webhook.redeliver",
            actor=actor,
            tenant=delivery.endpoint.tenant,
            target=delivery.endpoint,
            after={"delivery": again.pk, "of": delivery.pk, "kind": delivery.kind},
            request=http_request,
        )
        deliveries.enqueue_on_commit(again.pk)
    return again


def delete_endpoint(endpoint: WebhookEndpoint, *, actor, http_request=None) -> None:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    with transaction.atomic():
        record(
            "webhook.endpoint_delete",
            actor=actor,
            tenant=endpoint.tenant,
            target=endpoint,
            before=_described(endpoint),
            request=http_request,
        )
        endpoint.delete()
