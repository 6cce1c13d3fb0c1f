"""The worklist's long statement and the per-request reads are planned once per connection
(registry/selectors/prepared.py)."""

import time

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


@pytest.fixture
def probe_table(django_db_blocker):
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (x integer)")
        cursor.execute("INSERT INTO prepared_probe VALUES (1)")
    yield "prepared_probe"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS prepared_probe")


@pytest.mark.django_db(transaction=True)
def test_a_statement_whose_column_changed_type_is_prepared_again(probe_table):
    """A migration that changes a column's type while a process runs: its next read still answers."""
    sql = f"SELECT x, %s::int FROM {probe_table}"  # noqa: S608 - a test's own table
    assert _run(sql, [5]) == ([(1, 5)], ["PREPARE", "EXECUTE"])
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {probe_table} ALTER COLUMN x TYPE text USING x::text")
    assert _run(sql, [6]) == ([("1", 6)], ["EXECUTE", "DEALLOCATE", "PREPARE", "EXECUTE"])
    assert _run(sql, [7]) == ([("1", 7)], ["EXECUTE"])


@pytest.mark.django_db(transaction=True)
def test_in_a_transaction_the_connection_is_closed_at_the_end_instead(probe_table):
    from django.db import DatabaseError, transaction

    sql = f"SELECT x FROM {probe_table}"  # noqa: S608 - a test's own table
    _run(sql)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {probe_table} ALTER COLUMN x TYPE text USING x::text")
    with pytest.raises(DatabaseError, match="must not change result type"), transaction.atomic():
        _run(sql)
    assert connection.close_at is not None and connection.close_at <= time.monotonic()
    connection.close()
    assert _run(sql) == ([("1",)], ["PREPARE", "EXECUTE"])  # a new connection prepares it afresh
