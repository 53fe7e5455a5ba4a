"""Django's Redis cache as the portal sets it up (portal/cache.py): one client kept for its
calls (Django's built a `redis.Redis` for each, about 50 µs of CPU a call on redis-py 8),
and the values written, read, counted and removed as before."""

import uuid

import pytest
import redis

from portal.cache import KeptClientRedisCacheClient, RedisCache
from tests.caches import forget
from tests.provisioning.throttle_support import REDIS_TEST_URL


@pytest.fixture
def redis_cache():
    cache = RedisCache(REDIS_TEST_URL, {"KEY_PREFIX": f"test-cache-{uuid.uuid4().hex}"})
    try:
        cache.get("warm")  # its pool and client built
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    yield cache
    forget(cache, "*")  # this test's keys only: clear() would flush the whole database


def test_the_cache_calls_share_one_client(redis_cache, monkeypatch):
    assert isinstance(redis_cache._cache, KeptClientRedisCacheClient)
    built = []
    init = redis.Redis.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    redis_cache.set("line", {"until": 1.5}, timeout=60)
    assert redis_cache.get("line") == {"until": 1.5}
    assert redis_cache.add("count", 1, timeout=60)
    assert not redis_cache.add("count", 5, timeout=60)
    assert redis_cache.incr("count") == 2
    redis_cache.delete("line")
    assert redis_cache.get("line", "gone") == "gone"
    assert built == []  # Django's own client: one for each of the seven calls


def test_forgetting_a_pattern_asks_redis_a_few_times_whatever_else_it_holds(
    redis_cache, monkeypatch
):
    """Every test forgets its process's rate and admission keys (tests/conftest.py) in a
    Redis database that the other pytest workers fill too (a quarantine note per connection
    is kept 30 days). SCAN looked at Redis's default of 10 keys a call: with 3,000 keys of
    others, some 300 calls and 135 ms a forget, twice a test."""
    others = redis.Redis.from_url(REDIS_TEST_URL)
    prefix = f"others-{uuid.uuid4().hex}"
    with others.pipeline() as pipe:
        for n in range(3000):
            pipe.set(f"{prefix}:quarantine:{n}", 1, ex=60)
        pipe.execute()
    redis_cache.set("rate:a", 1, timeout=60)
    redis_cache.set("rate:b", 1, timeout=60)
    redis_cache.set("line", 1, timeout=60)
    scans = []
    scan = redis.Redis.scan

    def counted(self, *args, **kwargs):
        scans.append(kwargs.get("count"))
        return scan(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "scan", counted)
    try:
        forget(redis_cache, "rate:*")
    finally:
        monkeypatch.undo()
        others.delete(*others.scan_iter(match=f"{prefix}:*", count=1000))
        others.close()
    assert (redis_cache.get("rate:a"), redis_cache.get("rate:b")) == (None, None)
    assert redis_cache.get("line") == 1
    assert len(scans) <= 10, f"{len(scans)} SCANs"
