"""Keeping a first sign-in for its recipient, showing it once, and wiping it.

The secret is encrypted (tenants/crypto.py) in the same transaction that records the audit
event (which names the method, recipient and expiry, never the secret); the e-mail carries
only the one-time link and leaves on commit. The link's token is kept as a SHA-256 hash: the
database alone can neither show the secret nor rebuild the link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.audit.events import record
from portal.mail import send_one_time_link
from provisioning.connectors.sign_in import DIRECTORY_EMAIL, IssuedSignIn
from provisioning.first_sign_in.models import Delivery, FirstSignInPolicy
from provisioning.models import Step
from tenants.crypto import CredentialError, decrypt, encrypt


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def result_of(row: Delivery) -> dict:
    """A step's result: what was issued and to whom, never the secret or the link."""
    return {
        "delivery": row.pk,
        "method": row.method,
        "recipient": row.recipient,
        "link_expires": row.expires_at.isoformat() if row.recipient else "",
    }


def deliver(step: Step, issued: IssuedSignIn) -> dict:
    """Keep `issued` for the step's recipient and send them the one-time link."""
    job = step.job
    identity, tenant = job.identity, job.tenant
    now = timezone.now()
    base = {
        "tenant": tenant,
        "identity": identity,
        "connection": step.connection,
        "step": step,
        "method": issued.method,
    }
    with transaction.atomic():
        if issued.method == DIRECTORY_EMAIL or not issued.secret:
            row = Delivery.objects.create(**base, expires_at=now, wiped_at=now)
            _audit_issued(row, job.pk, sent_by="Okta, to the joiner's own address")
            return result_of(row)
        token = secrets.token_urlsafe(32)
        row = Delivery.objects.create(
            **base,
            recipient=step.params.get("recipient", ""),
            ciphertext=encrypt(issued.secret),
            token_hash=token_hash(token),
            expires_at=_link_expiry(tenant, now, issued.expires_at),
        )
        _audit_issued(row, job.pk, sent_by="the portal's one-time link by e-mail")
        link = settings.PORTAL_URL.rstrip("/") + reverse("first_sign_in_view", args=[token])
        transaction.on_commit(lambda: _send_link(row, link))
    return result_of(row)


def _link_expiry(tenant, now: datetime, secret_expires: datetime | None) -> datetime:
    policy = FirstSignInPolicy.objects.filter(tenant=tenant).first()
    hours = policy.link_hours if policy else 24
    expiry = now + timedelta(hours=hours)
    return min(expiry, secret_expires) if secret_expires else expiry


def _about(row: Delivery) -> dict:
    """What an audit event says of a delivery (never its secret)."""
    return {"directory": row.connection.label, "method": row.method_name}


def _audit_issued(row: Delivery, job_id: int, *, sent_by: str) -> None:
    record(
        "first_sign_in.issued",
        actor="system",
        tenant=row.tenant,
        target=row.identity,
        after={
            **_about(row),
            "recipient": row.recipient,
            "sent_by": sent_by,
            "link_expires": row.expires_at.isoformat() if row.recipient else "",
        },
        job_id=job_id,
    )


def _send_link(row: Delivery, link: str) -> None:
    context = {"delivery": row, "identity": row.identity, "link": link, "msp": settings.MSP_NAME}
    send_one_time_link(
        f"A first sign-in for {row.identity.display_name} is waiting for you",
        render_to_string("first_sign_in/link_email.txt", context),
        row.recipient,
    )


# -- the one-time link -------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewing:
    """What the one-time page shows: the secret (once), or why not."""

    state: str  # waiting | shown | viewed | expired | unknown
    delivery: Delivery | None = None
    secret: str = ""


def look(token: str) -> Viewing:
    """The page before the confirm: never the secret, so a mail scanner's GET spends nothing."""
    row = Delivery.objects.select_related("identity").filter(token_hash=token_hash(token)).first()
    if row is None:
        return Viewing("unknown")
    return Viewing(_state(row), row)


def view_once(token: str, *, request) -> Viewing:
    """The secret, decrypted and wiped in one transaction, with its audit event."""
    with transaction.atomic():
        row = (
            Delivery.objects.select_for_update()
            .select_related("identity", "tenant", "connection")
            .filter(token_hash=token_hash(token))
            .first()
        )
        if row is None:
            return Viewing("unknown")
        state = _state(row)
        if state != "waiting":
            return Viewing(state, row)
        now = timezone.now()
        try:
            secret = decrypt(row.ciphertext)
        except CredentialError:  # its key was rotated out: it can never be shown
            row.ciphertext, row.wiped_at = "", now
            row.save(update_fields=["ciphertext", "wiped_at"])
            return Viewing("expired", row)
        row.ciphertext, row.viewed_at, row.wiped_at = "", now, now
        row.save(update_fields=["ciphertext", "viewed_at", "wiped_at"])
        record(
            "first_sign_in.viewed",
            actor=request.user,
            tenant=row.tenant,
            target=row.identity,
            after=_about(row),
            request=request,
        )
    return Viewing("shown", row, secret)


def _state(row: Delivery) -> str:
    if row.viewed_at is not None:
        return "viewed"
    if not row.ciphertext or row.expires_at <= timezone.now():
        return "expired"
    return "waiting"


def wipe_expired(now: datetime | None = None) -> int:
    """Wipe the secrets whose links expired unviewed, each with its audit event."""
    now = now or timezone.now()
    due = Delivery.objects.filter(wiped_at__isnull=True, expires_at__lte=now)
    wiped = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            row = (
                Delivery.objects.select_for_update()
                .select_related("tenant", "identity", "connection")
                .filter(pk=pk, wiped_at__isnull=True)
                .first()
            )
            if row is None:
                continue
            row.ciphertext, row.wiped_at = "", now
            row.save(update_fields=["ciphertext", "wiped_at"])
            record(
                "first_sign_in.expired",
                actor="system",
                tenant=row.tenant,
                target=row.identity,
                after={**_about(row), "recipient": row.recipient},
            )
            wiped += 1
    return wiped
