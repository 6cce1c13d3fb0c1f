"""The load balancer's liveness check: answered without login, database or cache."""

from django.core.cache import cache


def test_health_answers_ok_without_login_or_database(db, client, django_assert_num_queries, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the health check touched the cache")

    monkeypatch.setattr(cache, "get", refuse)
    with django_assert_num_queries(0):
        response = client.get("/health/")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]
