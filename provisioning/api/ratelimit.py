"""Requests per token per minute: a fixed window counted in the shared cache (Redis in
production, so every web process counts the same window)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def seconds_to_wait(token_key: str, now: float | None = None) -> int:
    """0 when this request may go ahead (and counts it); else the seconds until the window
    ends."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"api-rate:{token_key}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr: start the window again
        cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
        used = 1
    if used <= settings.API_REQUESTS_PER_MINUTE:
        return 0
    return max(1, (window + 1) * WINDOW_SECONDS - int(now))
