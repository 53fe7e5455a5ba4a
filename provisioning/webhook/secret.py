"""The tenant's HR webhook secret: issued here, shown once to the MSP admin, stored encrypted."""

from __future__ import annotations

import secrets

from django.db import transaction

from portal.audit.events import record
from tenants.models import Tenant

PREFIX = "hrwh_"  # lets secret scanners and people recognise a leaked one


def new_secret() -> str:
    # URL-safe characters only, so the secret pastes into a shell or a config file as is.
    return PREFIX + secrets.token_urlsafe(32)


def rotate(tenant: Tenant, *, actor, http_request=None) -> str:
    """A new secret replaces the old one at once; returns it for the one time it is shown."""
    secret = new_secret()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        replaced = tenant.has_hr_webhook_secret
        tenant.set_hr_webhook_secret(secret)
        tenant.save(update_fields=["hr_webhook_secret_ciphertext", "hr_webhook_secret_set_at"])
        record(
            "tenant.hr_secret_rotate",
            actor=actor,
            tenant=tenant,
            target=tenant,
            before={"configured": replaced},
            after={"configured": True, "set_at": tenant.hr_webhook_secret_set_at},
            request=http_request,
        )
    return secret


def remove(tenant: Tenant, *, actor, http_request=None) -> bool:
    """Turn the webhook off: every request is refused until a new secret is issued."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not tenant.has_hr_webhook_secret:
            return False
        tenant.hr_webhook_secret_ciphertext = ""
        tenant.hr_webhook_secret_set_at = None
        tenant.save(update_fields=["hr_webhook_secret_ciphertext", "hr_webhook_secret_set_at"])
        record(
            "tenant.hr_secret_remove",
            actor=actor,
            tenant=tenant,
            target=tenant,
            before={"configured": True},
            after={"configured": False},
            request=http_request,
        )
    return True
