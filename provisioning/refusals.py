"""Refused requests per sender (an address; for IPv6, its /64) and minute, for the endpoints
machines call (the HR webhook, the SCIM endpoint, the API). Past the limit a sender is
answered 429 and nothing is recorded: a caller that keeps failing must not fill the event
tables and the audit trail. A caller that authenticates is never refused, so never slowed.
Many senders together are held to a budget of recorded refusals a minute per endpoint; past
it a refusal is answered as before and only logged (`recordable`), and counted: once its
minute has ended, the clock puts one event on the MSP's trail that says how many refusals of
that endpoint went unrecorded (`summarise_unrecorded`, `portal.unrecorded`), at most one per
endpoint a minute however many senders."""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from portal import client_address, ratelimit, unrecorded
from portal.audit.events import record

logger = logging.getLogger(__name__)


def remote_addr(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip()))
    except ValueError:
        return None


WINDOW_SECONDS = 60
# The endpoints whose refusals count here (each module's REFUSALS): the clock looks at each.
ENDPOINTS = ("hr-webhook", "scim", "api")


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
    REFUSALS_RECORDED_PER_MINUTE (record it), False past it (counted for the minute's summary
    and said in the log once a minute). The answer stays the same either way: a 429 for
    everyone would hold the callers whose token or signature is good, and those are checked
    after the senders' limits."""
    if source not in ENDPOINTS:
        raise ValueError(f"{source!r} is not one of refusals.ENDPOINTS: the clock would miss it")
    bucket = f"{source}-refusals-recorded"
    limit = settings.REFUSALS_RECORDED_PER_MINUTE
    if ratelimit.hit(bucket, "*", limit=limit, window_s=WINDOW_SECONDS):
        return True
    minute = int(time.time() // WINDOW_SECONDS)
    unrecorded.count(_kind(source))
    if ratelimit.first(bucket, f"logged|{minute}", window_s=2 * WINDOW_SECONDS):
        logger.warning(
            "%s: over %s refusals this minute from all senders: logged only", source, limit
        )
    return False


def summarise_unrecorded() -> int:
    """One `security.refusals_unrecorded` event for each endpoint and ended minute with
    refusals past the budget (`portal.unrecorded`). Returns how many it recorded."""
    return sum(unrecorded.summarise(_kind(source), _say(source)) for source in ENDPOINTS)


def _kind(source: str) -> str:
    return f"{source}-refusals"


def _say(source: str):
    def say(began: datetime, how_many: int) -> None:
        record(
            "security.refusals_unrecorded",
            actor="system",
            after={
                "endpoint": source,
                "minute": began.isoformat(),
                "recorded": settings.REFUSALS_RECORDED_PER_MINUTE,
                "unrecorded": how_many,
            },
            result="denied",
        )

    return say
