"""The Redis cache backend (config/cache.py): one client per pool, values through the real Redis."""

import uuid

import pytest

from config.cache import RedisCache

pytestmark = pytest.mark.integration


def test_one_client_serves_every_call_and_values_go_through_redis(redis_url):
    backend = RedisCache(redis_url, {})
    client = backend._cache.get_client()
    key = f"itb-cache-probe-{uuid.uuid4().hex}"
    backend.set(key, {"due": "2026-12-01"}, 30)
    assert backend.get(key) == {"due": "2026-12-01"}
    # What another process would read: the raw key exists on the server itself.
    assert client.exists(backend.make_key(key)) == 1
    backend.delete(key)
    assert backend.get(key) is None
    assert backend._cache.get_client() is client
    assert backend._cache.get_client(write=True) is client  # one server: reads and writes share its pool
