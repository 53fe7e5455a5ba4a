"""Forgetting what a test process put in a cache, and nothing of the other pytest worker's."""

from __future__ import annotations

# The keys Redis looks at for each SCAN. Its default, 10, made a forget some 300 round trips
# (135 ms) in a database holding 3,000 keys of the other pytest workers, and every test
# forgets twice (tests/conftest.py); with 1,000 it is a few (under 2 ms).
SCAN_BATCH = 1000


def forget(cache, pattern: str) -> None:
    """Delete the keys of `cache` that match `pattern` (as `cache.make_key` makes them). On
    Redis, `clear()` is FLUSHDB: it would also wipe the other worker's counters in the middle
    of its tests. A cache of this process alone (local memory, files) is simply cleared."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is None:
        cache.clear()
        return
    redis = client(write=True)
    keys = list(redis.scan_iter(match=cache.make_key(pattern), count=SCAN_BATCH))
    if keys:
        redis.delete(*keys)
