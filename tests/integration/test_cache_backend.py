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


@pytest.mark.django_db
def test_a_session_is_read_from_redis_and_gone_everywhere_after_log_out(redis_url, client, coordinator):
    from django.contrib.sessions.models import Session
    from django.core.cache import cache

    client.force_login(coordinator)
    key = client.cookies["sessionid"].value
    assert cache.get(f"django.contrib.sessions.cached_db{key}") is not None
    assert Session.objects.filter(session_key=key).exists()  # written through to the database
    client.post("/accounts/logout/")
    assert cache.get(f"django.contrib.sessions.cached_db{key}") is None
    assert not Session.objects.filter(session_key=key).exists()
