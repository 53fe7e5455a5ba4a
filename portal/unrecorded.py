"""Events a budget kept off the audit trail (a flood of refusals, of failed sign-ins), counted
per kind and minute, so that the trail still says how many: once a minute has ended, the
clock records one summary per kind that went over, said once however many workers run it.
At most one event per kind a minute, whoever floods."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from portal import ratelimit

WINDOW_SECONDS = 60
# How many ended minutes the clock looks back at: a worker down for longer loses the count
# (the log still has each minute's line).
SUMMARY_MINUTES = 15
_KEEP_SECONDS = (SUMMARY_MINUTES + 2) * WINDOW_SECONDS


def _key(kind: str, minute: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:unrecorded:{kind}:{minute}"  # with the limits


def count(kind: str) -> None:
    """One more event of `kind` kept off the trail this minute."""
    key = _key(kind, int(time.time() // WINDOW_SECONDS))
    if not cache.add(key, 1, timeout=_KEEP_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=_KEEP_SECONDS)


def summarise(kind: str, say: Callable[[datetime, int], None]) -> int:
    """`say(minute it began, how many)` for each ended minute of the last SUMMARY_MINUTES in
    which events of `kind` were kept off the trail, each minute once. Returns how many."""
    now = int(time.time() // WINDOW_SECONDS)
    said = 0
    for minute in range(now - SUMMARY_MINUTES, now):
        unrecorded = cache.get(_key(kind, minute), 0)
        if not unrecorded or not _claimed(kind, minute):
            continue
        try:
            say(datetime.fromtimestamp(minute * WINDOW_SECONDS, tz=UTC), unrecorded)
        except BaseException:  # said at the next run instead
            ratelimit.forget_first(f"unrecorded-said|{kind}", str(minute))
            raise
        said += 1
    return said


def _claimed(kind: str, minute: int) -> bool:
    """Claims the summary of `kind`'s `minute`, so that two clocks never both record it."""
    return ratelimit.first(f"unrecorded-said|{kind}", str(minute), window_s=_KEEP_SECONDS)
