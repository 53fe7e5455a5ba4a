"""Refused requests per sender (an address; for IPv6, its /64) and minute, for the endpoints
machines call (the HR webhook, the SCIM endpoint, the API). Past the limit a sender is
answered 429 and nothing is recorded: a caller that keeps failing must not fill the event
tables and the audit trail. A caller that authenticates is never refused, so never slowed.
Many senders together are held to a budget of recorded refusals a minute per endpoint; past
it a refusal is answered as before and only logged (`recordable`)."""

from __future__ import annotations

import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from portal import client_address, ratelimit

logger = logging.getLogger(__name__)


def remote_addr(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip()))
    except ValueError:
        return None


WINDOW_SECONDS = 60


def retry_after() -> str:
    """A refused sender's Retry-After (RFC 6585 §4): the seconds until its minute ends."""
    return str(WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS)


def _key(source: str, addr: str | None) -> str:
    minute = int(time.time() // WINDOW_SECONDS)
    return f"{settings.REDIS_KEY_PREFIX}:{source}-refusals:{client_address.sender(addr)}:{minute}"


def too_many(source: str, addr: str | None, limit: int) -> bool:
    return cache.get(_key(source, addr), 0) >= limit


def count(source: str, addr: str | None) -> None:
    key = _key(source, addr)
    if not cache.add(key, 1, timeout=2 * WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=120)


def recordable(source: str) -> bool:
    """Count one refusal of `source` from all senders together: True while it is within
    REFUSALS_RECORDED_PER_MINUTE (record it), False past it (say so in the log once a minute).
    The answer stays the same either way: a 429 for everyone would hold the callers whose
    token or signature is good, and those are checked after the senders' limits."""
    bucket = f"{source}-refusals-recorded"
    limit = settings.REFUSALS_RECORDED_PER_MINUTE
    if ratelimit.hit(bucket, "*", limit=limit, window_s=WINDOW_SECONDS):
        return True
    minute = int(time.time() // WINDOW_SECONDS)
    if ratelimit.first(bucket, f"logged|{minute}", window_s=2 * WINDOW_SECONDS):
        logger.warning(
            "%s: over %s refusals this minute from all senders: logged only", source, limit
        )
    return False
