"""The bench's summary floor (``bench/floors.py``) gives every figure the report gives, on the
hand-computed program: moved patients, deaths, replaced pumps, edited indications, reminders.

The bench compares the two on generated data before timing; this holds the floor to the report's
definitions on the cases written by hand. PostgreSQL only: the floor is PostgreSQL's SQL.
"""

import datetime as dt

import pytest
import time_machine

from bench import floors
from reporting import reports
from tests.reporting.program import NOW, build_program

# Marked integration: CI runs it in the PostgreSQL pass only (the SQLite pass deselects it).
pytestmark = [pytest.mark.django_db, pytest.mark.integration]
TODAY = NOW.date()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        (dt.date(2026, 3, 1), dt.date(2026, 6, 30)),
        (dt.date(2025, 7, 1), dt.date(2027, 1, 9)),
    ],
)
def test_the_summary_floor_equals_the_report(postgres, start, end):
    with time_machine.travel(NOW, tick=False):
        build_program()
        report = reports.summary(sites=None, start=start, end=end, today=TODAY)
        assert floors.summary(start, end, TODAY) == floors.figures(report)
