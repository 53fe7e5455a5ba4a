"""Saving a tenant's first sign-in policy, with its audit event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.audit.events import record, snapshot
from provisioning.first_sign_in.models import FirstSignInPolicy

FIELDS = [
    "entra_method",
    "tap_lifetime_minutes",
    "tap_usable_once",
    "okta_method",
    "recipient",
    "named_recipient",
    "link_hours",
]


def policy_of(tenant) -> FirstSignInPolicy:
    """The tenant's policy, or an unsaved one with the defaults (no first sign-in)."""
    return FirstSignInPolicy.objects.filter(tenant=tenant).first() or FirstSignInPolicy(
        tenant=tenant
    )


def save_policy(policy: FirstSignInPolicy, *, actor, request=None) -> None:
    """Save the edited `policy` with one audit event holding before and after. Choosing a
    method where there was none starts `active_since`: only accounts made from then on get a
    first sign-in."""
    with transaction.atomic():
        old = FirstSignInPolicy.objects.select_for_update().filter(tenant=policy.tenant).first()
        had_method = bool(old and (old.entra_method or old.okta_method))
        has_method = bool(policy.entra_method or policy.okta_method)
        if old is not None:
            policy.pk = old.pk
        if has_method and not had_method:
            policy.active_since = timezone.now()
        elif not has_method:
            policy.active_since = None
        else:
            policy.active_since = old.active_since
        policy.save()
        record(
            "tenant.first_sign_in_update",
            actor=actor,
            tenant=policy.tenant,
            target=policy.tenant,
            before=snapshot(old, FIELDS) if old else {"policy": None},
            after=snapshot(policy, FIELDS),
            request=request,
        )
