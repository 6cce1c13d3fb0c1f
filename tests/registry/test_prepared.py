"""The worklist's long statement is planned once per connection (registry/selectors/prepared.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.selectors.prepared import execute_prepared

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _run(sql: str, params=()):
    with CaptureQueriesContext(connection) as ran, connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        rows = cursor.fetchall()
    return rows, [q["sql"].split()[0] for q in ran.captured_queries]


def test_prepared_the_first_time_then_only_executed():
    assert _run("SELECT 41 + 1") == ([(42,)], ["PREPARE", "EXECUTE"])
    assert _run("SELECT 41 + 1") == ([(42,)], ["EXECUTE"])
    assert _run("SELECT 41 + 2") == ([(43,)], ["PREPARE", "EXECUTE"])


def test_still_prepared_after_a_rollback():
    from django.db import transaction

    with transaction.atomic():
        _run("SELECT 40 + 4")
        transaction.set_rollback(True)
    assert _run("SELECT 40 + 4") == ([(44,)], ["EXECUTE"])


def test_behind_a_transaction_pooler_the_statement_is_run_as_it_is(settings):
    settings.DATABASE_POOLED = True
    assert _run("SELECT 41 + 4") == ([(45,)], ["SELECT"])


def test_parameters_are_bound_at_each_execution_of_one_prepared_statement():
    sql = "SELECT %s::int * 2, '100%%' || %s"
    assert _run(sql, [21, "!"]) == ([(42, "100%!")], ["PREPARE", "EXECUTE"])
    assert _run(sql, [5, "'; DROP TABLE x; --"]) == ([(10, "100%'; DROP TABLE x; --")], ["EXECUTE"])


def test_behind_a_transaction_pooler_parameters_are_bound_as_usual(settings):
    settings.DATABASE_POOLED = True
    assert _run("SELECT %s::int * 3", [3]) == ([(9,)], ["SELECT"])


def test_the_per_request_reads_are_prepared_once_per_connection(coordinator):
    """An API token's read, a session user's read and the header's count: planned once."""
    from rest_framework.authtoken.models import Token

    from accounts.backends import ModelBackend
    from accounts.tokens import token_with_user
    from registry.services.reminders.inbox import open_reminder_count

    user = coordinator
    key = Token.objects.create(user=user).key
    reads = [lambda: token_with_user(key).user.pk, lambda: ModelBackend().get_user(user.pk).pk]
    reads.append(lambda: open_reminder_count(user) + user.pk)
    for read in reads:
        read()  # prepared now, if no earlier test on this connection did
        with CaptureQueriesContext(connection) as ran:
            assert read() == user.pk
        assert [q["sql"].split()[0] for q in ran.captured_queries] == ["EXECUTE"]
