"""Forgetting what a test process put in a cache, and nothing of the other pytest worker's."""

from __future__ import annotations


def forget(cache, pattern: str) -> None:
    """Delete the keys of `cache` that match `pattern` (as `cache.make_key` makes them). On
    Redis, `clear()` is FLUSHDB: it would also wipe the other worker's counters in the middle
    of its tests. A cache of this process alone (local memory, files) is simply cleared."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is None:
        cache.clear()
        return
    redis = client(write=True)
    for key in redis.scan_iter(match=cache.make_key(pattern)):
        redis.delete(key)
