"""The worklist's long statement is planned once per connection (registry/selectors/prepared.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.selectors.prepared import execute_prepared

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _run(sql: str):
    with CaptureQueriesContext(connection) as ran, connection.cursor() as cursor:
        execute_prepared(cursor, sql)
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
