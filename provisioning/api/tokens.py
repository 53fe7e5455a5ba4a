"""API tokens: issued to a person (shown once), kept as SHA-256, revoked, checked."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.events import event_for, record_all
from portal.audit.people import tenants_of
from provisioning.api.models import ApiToken
from tenants import access
from tenants.models import Tenant

PREFIX = "mpp_"  # recognisable in a secret scanner and in a support call
SHOWN_PREFIX = 12  # characters kept in clear, to tell tokens apart
LAST_USED_GRAIN = timedelta(minutes=1)  # at most one write a minute per token
MAX_LIFETIME = timedelta(days=366)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue(
    user,
    name: str,
    *,
    expires_at: datetime,
    read_only: bool = False,
    tenants: Iterable[Tenant] = (),
    form_key: str | None = None,
    http_request=None,
) -> tuple[ApiToken, str]:
    """A new token of `user`, who issues it for themself; the clear token is returned here
    only. `tenants` must be ones the person may see (the form offers only those).
    FormSentAgain, and nothing made, when a token was made from the form of `form_key`."""
    clear = PREFIX + secrets.token_urlsafe(32)
    tenants = list(tenants)
    try:
        return _issue(user, name, clear, expires_at, read_only, tenants, form_key, http_request)
    except IntegrityError:  # the same form's other request made it meanwhile
        if form_key and ApiToken.objects.filter(form_key=form_key).exists():
            raise FormSentAgain from None
        raise


class FormSentAgain(Exception):
    """The form that asked for a token was sent before, and its token made then."""


def _issue(user, name, clear, expires_at, read_only, tenants, form_key, http_request):
    with transaction.atomic():
        token = ApiToken.objects.create(
            form_key=form_key or None,
            user=user,
            name=name,
            prefix=clear[:SHOWN_PREFIX],
            token_sha256=digest(clear),
            read_only=read_only,
            every_tenant=not tenants,
            expires_at=expires_at,
        )
        token.tenants.set(tenants)
        _record(
            token,
            "api_token.create",
            actor=user,
            after={
                "name": name,
                "prefix": token.prefix,
                "read_only": read_only,
                "tenants": sorted(t.slug for t in tenants) or "all of the person's",
                "expires": expires_at.isoformat(),
            },
            request=http_request,
            tenants=tenants,
        )
    return token, clear


def revoke(token: ApiToken, *, actor, http_request=None) -> bool:
    """False when it was revoked already."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            _record(token, "api_token.revoke", actor=actor, request=http_request)
    return bool(revoked)


def revoke_all_of(user, *, actor, reason: str, request=None) -> int:
    """Revoke every live token of `user` (how many), each on the trail of the tenants the
    person is bound to, with `reason`: a portal.deactivation hook."""
    with transaction.atomic():
        mine = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        live = list(mine.select_for_update().order_by("pk"))  # a revoke at once records once
        ApiToken.objects.filter(pk__in=[t.pk for t in live]).update(revoked_at=timezone.now())
        for token in live:
            _record(
                token, "api_token.revoke", actor=actor, after={"reason": reason}, request=request
            )
    return len(live)


def _record(token: ApiToken, action: str, *, tenants=None, **fields) -> None:
    """An event about a token on the trail of each tenant it reaches, where that tenant's
    auditors read it: the tenants it is limited to, else those its person is bound to (a
    client admin's, an account manager's); MSP-wide for an MSP person's token for every
    tenant."""
    tenants = list(token.tenants.all() if tenants is None else tenants)
    tenants = tenants or tenants_of(token.user) or [None]
    target = ("api_token", token.pk, str(token))
    after = fields.pop("after", None)
    record_all(
        [
            event_for(action, tenant=t, target=target, after=_as_seen_by(after, t), **fields)
            for t in tenants
        ]
    )


def _as_seen_by(after: dict | None, tenant: Tenant | None) -> dict | None:
    """A token's record for `tenant`'s trail: its list of tenants names this one only, as a
    staff change's does (tenants.staff), since that tenant's client admin reads it and must
    not learn which other clients the token reaches; whole on the MSP-wide trail."""
    if after is None or tenant is None or not isinstance(after.get("tenants"), list):
        return after
    return {**after, "tenants": [s for s in after["tenants"] if s == tenant.slug]}


def authenticate(clear: str) -> ApiToken | None:
    """The live token for this clear text, or None (unknown, revoked, expired, or its
    person may no longer sign in)."""
    if not clear.startswith(PREFIX) or len(clear) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__profile")
        .filter(token_sha256=digest(clear))
        .first()
    )
    now = timezone.now()
    if token is None or not token.is_usable(now):
        return None
    if not access.stands_behind(token.user):  # deactivated, or no role left
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRAIN:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
