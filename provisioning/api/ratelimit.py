"""Requests per token per minute: a fixed window counted in the shared cache (Redis in
production, so every web process counts the same window)."""

from __future__ import annotations

from django.conf import settings

from portal import ratelimit

WINDOW_SECONDS = 60


def seconds_to_wait(token_key: str, now: float | None = None) -> int:
    """0 when this request may go ahead (and counts it); else the seconds until the window
    ends."""
    return ratelimit.seconds_to_wait(
        "api",
        token_key,
        limit=settings.API_REQUESTS_PER_MINUTE,
        window_s=WINDOW_SECONDS,
        now=now,
    )
