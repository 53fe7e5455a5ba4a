"""Django's Redis cache with one client kept per connection pool.

Django's `RedisCacheClient.get_client` builds a `redis.Redis` for every cache call, and
redis-py 8 fills a client's ~170 response callbacks in its `__init__` (about 50 µs): the
engine's admission asks the cache on every task run (`fallback_after_the_end`) and the
submit on every joiner. A redis-py client is safe to share between threads (each command
takes a connection from the pool), so one is kept per pool Django builds. Django's private
`_class` and `_get_connection_pool` are used here only; tests/test_cache.py fails if they
change."""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class KeptClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient
