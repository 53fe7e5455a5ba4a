"""A cap on failed sign-ins per account, whatever the address, beside django-axes' lock per
username and address.

NIST SP 800-63B §5.2.2 limits the failed tries on one account to at most 100; django-axes
alone lets someone who changes address every few tries (many hosts, one IPv6 /64) guess on
without end. Counting per account alone would let anyone who knows a username keep its person
out, so the addresses the person signed in from within `FAMILIAR_DAYS` (read from the audit
trail's sign-ins) are never held, as Microsoft Entra's smart lockout keeps familiar locations
apart: an outsider who spends the cap keeps only strangers out. The staff page's Unlock (and
django-axes' resets through `portal.lockouts`) lifts it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from portal import client_address, ratelimit, usernames
from portal.audit.models import AuditEvent

BUCKET = "signin-account"
CLIENT_BUCKET = "signin-client"
WINDOW_S = 3600
FAMILIAR_DAYS = 30
# The person's latest sign-ins read for their familiar clients: asked only of an account the
# cap holds, and more than a month of anyone's sign-ins.
FAMILIAR_ADDRESSES_READ = 500


def count_failure(username: str) -> None:
    """One more failed try (password or second factor) of the account named `username`."""
    if username:
        ratelimit.hit(BUCKET, usernames.folded(username), limit=_cap(), window_s=WINDOW_S)


def seconds_held(request: HttpRequest, username: str) -> int:
    """0 when `username` may be tried from this request's address; else the seconds until
    the account's count starts again."""
    if not username:
        return 0
    wait = ratelimit.waiting(BUCKET, usernames.folded(username), limit=_cap(), window_s=WINDOW_S)
    if not wait:
        return 0
    holder = usernames.holder_of(username)
    if holder is not None and _familiar(holder, request.META.get("REMOTE_ADDR", "")):
        return 0
    return wait


def count_client_failure(request: HttpRequest) -> None:
    """One more failed try from this request's client (an address; an IPv6 /64)."""
    ratelimit.hit(CLIENT_BUCKET, _client(request), limit=_client_cap(), window_s=WINDOW_S)


def seconds_client_held(request: HttpRequest, username: str) -> int:
    """0 when this client may try `username`; else the seconds until its count starts again.
    One address trying a password on many usernames (password spraying) is held by neither
    django-axes (per username and address) nor the cap per account: past
    SIGNIN_FAILURES_PER_CLIENT_PER_HOUR failures from one client, its sign-ins wait, except
    for a person who signed in from it within FAMILIAR_DAYS (a shared office's own staff)."""
    wait = ratelimit.waiting(
        CLIENT_BUCKET, _client(request), limit=_client_cap(), window_s=WINDOW_S
    )
    if not wait:
        return 0
    holder = usernames.holder_of(username) if username else None
    if holder is not None and _familiar(holder, request.META.get("REMOTE_ADDR", "")):
        return 0
    return wait


def client_wait(address: str, user) -> int:
    """The seconds sign-ins of `user` from `address` wait on the cap per client (0: none)."""
    client = client_address.sender(address)
    wait = ratelimit.waiting(CLIENT_BUCKET, client, limit=_client_cap(), window_s=WINDOW_S)
    if not wait or _familiar(user, address):
        return 0
    return wait


def _client(request: HttpRequest) -> str:
    return client_address.sender(request.META.get("REMOTE_ADDR", ""))


def failures_holding(username: str) -> int:
    """The account's failures this window once they reach the cap (it holds sign-ins from
    clients new to its person), else 0: what the staff page and its Unlock tell."""
    failures = ratelimit.used(BUCKET, usernames.folded(username), window_s=WINDOW_S)
    return failures if failures >= _cap() else 0


def account_wait(username: str) -> int:
    """The seconds sign-ins of `username` from clients new to its person wait on the cap per
    account (0: none)."""
    return ratelimit.waiting(BUCKET, usernames.folded(username), limit=_cap(), window_s=WINDOW_S)


def forget(username: str) -> None:
    """The account's failures are forgotten (an unlock)."""
    ratelimit.clear(BUCKET, usernames.folded(username), window_s=WINDOW_S)


def _familiar(user, address: str) -> bool:
    """Whether the person signed in from this client within FAMILIAR_DAYS: the address, or
    for IPv6 its /64, through which a host's temporary addresses move (RFC 8981)."""
    if not address:
        return False
    client = client_address.sender(address)
    signed_in_from = (
        AuditEvent.objects.filter(
            action="auth.login",
            actor_user_id=user.pk,
            timestamp__gte=timezone.now() - timedelta(days=FAMILIAR_DAYS),
        )
        .exclude(source_ip=None)
        .order_by("-timestamp")
        .values_list("source_ip", flat=True)[:FAMILIAR_ADDRESSES_READ]
    )
    return any(client_address.sender(known) == client for known in signed_in_from)


def _cap() -> int:
    return settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR


def _client_cap() -> int:
    return settings.SIGNIN_FAILURES_PER_CLIENT_PER_HOUR
