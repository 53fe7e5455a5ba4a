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
