"""Refused requests per sender address and minute, for the endpoints machines call (the HR
webhook, the SCIM endpoint). Past the limit a sender is answered 429 and nothing is recorded:
a caller that keeps failing must not fill the event tables and the audit trail. A caller
that authenticates is never refused, so never slowed."""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


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
    return f"{settings.REDIS_KEY_PREFIX}:{source}-refusals:{addr or 'unknown'}:{minute}"


def too_many(source: str, addr: str | None, limit: int) -> bool:
    return cache.get(_key(source, addr), 0) >= limit


def count(source: str, addr: str | None) -> None:
    key = _key(source, addr)
    if not cache.add(key, 1, timeout=2 * WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=120)
