"""The tenants' SCIM bearer tokens: issued (shown once), kept as SHA-256, revoked, checked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit.events import ServiceActor, record
from portal.plain_text import printable
from provisioning.scim.models import ScimToken
from tenants.models import Tenant

PREFIX = "scim_"  # recognisable in a secret scanner and in a support call
SHOWN_PREFIX = 12  # characters of the token kept in clear, to tell tokens apart
LAST_USED_GRAIN = timedelta(minutes=1)  # at most one write a minute per token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def actor_of(token: ScimToken) -> ServiceActor:
    """The audit trail's "who" for what a token's client does."""
    return ServiceActor(username=f"scim-token:{token.pk}", display=f"SCIM token {token.name}")


def issue(tenant: Tenant, name: str, *, actor, http_request=None) -> tuple[ScimToken, str]:
    """A new token of the tenant; the clear token is returned here only."""
    clear = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken.objects.create(
            tenant=tenant,
            name=name,
            prefix=clear[:SHOWN_PREFIX],
            token_sha256=digest(clear),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        record(
            "scim_token.create",
            actor=actor,
            tenant=tenant,
            target=("scim_token", token.pk, str(token)),
            after={"name": name, "prefix": token.prefix},
            request=http_request,
        )
    return token, clear


def revoke(token: ScimToken, *, actor, http_request=None) -> bool:
    """False when it was revoked already."""
    with transaction.atomic():
        updated = ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            record(
                "scim_token.revoke",
                actor=actor,
                tenant=token.tenant,
                target=("scim_token", token.pk, str(token)),
                after={"name": token.name, "prefix": token.prefix},
                request=http_request,
            )
    return bool(updated)


def bearer_of(header: str) -> str:
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def find(clear: str) -> ScimToken | None:
    """The unrevoked token this clear text is, if any (its issuer may no longer stand
    behind it: `ScimToken.issuer_stands`)."""
    if not clear:
        return None
    return (
        ScimToken.objects.select_related("tenant", "created_by", "created_by__profile")
        .filter(token_sha256=digest(clear), revoked_at__isnull=True)
        .first()
    )


def revoke_issued_by(person, *, actor, reason: str, request=None) -> int:
    """Revoke every live token `person` issued (how many), each on its tenant's trail with
    `reason`: a portal.deactivation hook, so reactivating the issuer brings none back."""
    with transaction.atomic():
        live = list(
            ScimToken.objects.filter(created_by=person, revoked_at__isnull=True)
            .select_related("tenant")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        ScimToken.objects.filter(pk__in=[t.pk for t in live]).update(revoked_at=timezone.now())
        for token in live:
            record(
                "scim_token.revoke",
                actor=actor,
                tenant=token.tenant,
                target=("scim_token", token.pk, str(token)),
                after={"name": token.name, "prefix": token.prefix, "reason": reason},
                request=request,
            )
    return len(live)


def note_use(token: ScimToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRAIN:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def refuse(slug: str, reason: str, *, token: ScimToken | None, http_request) -> None:
    """Audit a refused call: a token's in its own tenant (a token sent to another tenant's
    URL is news for its tenant's admins, and never named in the other tenant's trail), else
    in the tenant the URL names when there is one (its MSP admins see why their identity
    provider fails), else in the global trail."""
    slug = printable(slug)[:60]  # as given, but storable
    if token is not None:
        tenant = token.tenant
    else:
        tenant = Tenant.objects.filter(slug=slug).first() if slug else None
    record(
        "scim_token.refuse",
        actor=actor_of(token) if token else "webhook",
        tenant=tenant,
        target=("scim_token", token.pk, str(token)) if token else None,
        after={"tenant_slug": slug, "reason": reason},
        result="denied",
        request=http_request,
    )
