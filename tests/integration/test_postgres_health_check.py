"""The PostgreSQL health check asks the socket: a connection the server ended is replaced before
the request's first statement, and a live one costs no round trip."""

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _other_connection():
    params = connection.get_connection_params()
    return psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True)


def test_a_live_connection_is_usable_without_sending_anything(postgres, monkeypatch):
    connection.ensure_connection()

    def refuse(*args, **kwargs):
        raise AssertionError("the health check sent a statement")

    monkeypatch.setattr(connection.connection, "cursor", refuse)
    monkeypatch.setattr(connection.connection, "execute", refuse)
    assert connection.is_usable()


def test_a_connection_the_server_ended_is_replaced_at_the_next_request(postgres):
    connection.ensure_connection()
    ended = connection.connection.info.backend_pid
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])
    deadline = time.monotonic() + 10
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()

    connection.close_if_unusable_or_obsolete()  # what the start of a request runs
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended
