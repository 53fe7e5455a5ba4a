"""Switching off an endpoint that keeps failing: audited, and its people hear of it by mail
(the MSP admins; for a tenant's endpoint also the tenant's technicians, who may manage it)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from portal.audit.events import record
from portal.models import Role
from portal.templatetags.time_tags import when
from provisioning.events.describe import portal_url
from provisioning.outbound.models import WebhookEndpoint

log = logging.getLogger(__name__)


def switch_off(endpoint: WebhookEndpoint, now: datetime, reason: str = "") -> None:
    """Inside the caller's transaction, with the endpoint's row locked."""
    reason = reason or (
        f"{endpoint.consecutive_failures} attempts in a row failed since "
        f"{when(endpoint.failing_since.astimezone(UTC))} UTC"
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=now, disabled_reason=reason)
    record(
        "webhook.endpoint_switch_off",
        actor="system",
        tenant=endpoint.tenant,
        target=endpoint,
        before={"disabled_at": None},
        after={"disabled_at": now.isoformat(), "reason": reason, "url": endpoint.url},
        result="failure",
    )
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: mail_switched_off(endpoint_id))


def recipients(endpoint: WebhookEndpoint) -> list[str]:
    people = get_user_model().objects.filter(is_active=True).exclude(email="")
    admins = people.filter(profile__role=Role.MSP_ADMIN)
    emails = set(admins.values_list("email", flat=True))
    if endpoint.tenant_id is not None:
        staff = people.filter(
            profile__role=Role.TECHNICIAN, tenantassignment__tenant_id=endpoint.tenant_id
        )
        emails |= set(staff.values_list("email", flat=True))
    return sorted(emails)


def mail_switched_off(endpoint_id: int) -> int:
    """One message per person; a mail failure never undoes the switching off."""
    endpoint = WebhookEndpoint.objects.select_related("tenant").get(pk=endpoint_id)
    where = endpoint.tenant.name if endpoint.tenant else "the MSP"
    # One line: a newline in a header is refused (BadHeaderError), and a name stored before
    # the form refused them must not keep the mail from going.
    subject = " ".join(f"Webhook switched off: {endpoint.name} ({where})".split())
    body = render_to_string(
        "email/webhook_switched_off.txt",
        {"endpoint": endpoint, "where": where, "link": endpoint_link(endpoint)},
    )
    sent = 0
    for address in recipients(endpoint):
        try:
            sent += send_mail(subject, body, None, [address])
        except OSError:
            log.exception("Could not mail %s about webhook endpoint %s", address, endpoint_id)
    return sent


def endpoint_link(endpoint: WebhookEndpoint) -> str:
    if endpoint.tenant_id is None:
        return portal_url("outbound_msp_endpoint", endpoint_id=endpoint.pk)
    return portal_url(
        "outbound_tenant_endpoint", tenant=endpoint.tenant.slug, endpoint_id=endpoint.pk
    )
