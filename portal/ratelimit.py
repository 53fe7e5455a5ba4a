"""Fixed-window counters in the cache, for limits that must hold across requests.

With Redis (REDIS_URL) every process shares the counts; with the local-memory cache of the
embedded mode each process counts on its own. Keys carry REDIS_KEY_PREFIX (the default cache
has no prefix of its own) and a digest of who is counted, never an address or a name.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def hit(bucket: str, who: str, *, limit: int, window_s: int) -> bool:
    """Count one hit of `who` in `bucket`: True while it is within `limit` hits this window."""
    return seconds_to_wait(bucket, who, limit=limit, window_s=window_s) == 0


def seconds_to_wait(
    bucket: str, who: str, *, limit: int, window_s: int, now: float | None = None
) -> int:
    """Count one hit of `who` in `bucket`: 0 while it is within `limit` hits this window, else
    the seconds until the window ends (for a Retry-After)."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    key = _key(bucket, who, window)
    cache.add(key, 0, timeout=window_s * 2)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr: start the window again
        cache.set(key, 1, timeout=window_s * 2)
        used = 1
    if used <= limit:
        return 0
    return max(1, (window + 1) * window_s - int(now))


def waiting(bucket: str, who: str, *, limit: int, window_s: int, now: float | None = None) -> int:
    """As `seconds_to_wait` without counting a hit: 0 while `who` has hits left this window."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    if (cache.get(_key(bucket, who, window)) or 0) < limit:
        return 0
    return max(1, (window + 1) * window_s - int(now))


def used(bucket: str, who: str, *, window_s: int) -> int:
    """The hits of `who` in `bucket` this window, without counting one."""
    return cache.get(_key(bucket, who, int(time.time() // window_s))) or 0


def clear(bucket: str, who: str, *, window_s: int) -> None:
    """`who` starts this window with no hits."""
    cache.delete(_key(bucket, who, int(time.time() // window_s)))


def first(bucket: str, who: str, *, window_s: int) -> bool:
    """True for the first call about `who` in `bucket` within `window_s` seconds."""
    return cache.add(_key(bucket, who, 0), 1, timeout=max(1, window_s))


def forget_first(bucket: str, who: str) -> None:
    """The next `first(bucket, who)` is True again."""
    cache.delete(_key(bucket, who, 0))


def _key(bucket: str, who: str, window: int) -> str:
    digest = hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{settings.REDIS_KEY_PREFIX}:rate:{bucket}:{digest}:{window}"
