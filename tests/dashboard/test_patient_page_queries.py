"""The patient page reads a fixed number of statements, whatever the patient's records."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import services
from tests.factories import at, make_implanted

pytestmark = pytest.mark.django_db

# The session; its user with their staff profile (one statement); the patient with its site, clinician, pumps,
# indications and latest refills (``patient_record``); its visits, goals, goal reviews, latest
# contacts and booked refill visits (prefetched); the reservoir's dose changes and the current
# dose; the change history; the timeline's status changes, trials, refills, dose changes,
# complications and reminders; the open complications; the access row; the header's inbox count.
# With Redis the session is read from the cache (``cached_db``): one statement fewer.
PAGE_STATEMENTS = 19 if settings.SESSION_ENGINE.endswith("cached_db") else 20


def _records(patient, pump, start: dt.date, n: int) -> None:
    for i in range(n):
        day = start + dt.timedelta(days=28 * i)
        services.record_refill(
            pump=pump,
            performed_at=at(day, 11),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("2000"),
            daily_dose_mcg=D("400"),
        )
        services.record_dose_change(pump=pump, effective_at=at(day + dt.timedelta(days=3)), daily_dose_mcg=410 + i)
        services.add_indication(patient=patient, diagnosis="stroke")
        services.schedule_follow_up(patient=patient, kind="titration", due_date=day + dt.timedelta(days=10))
        goal = services.set_goal(patient=patient, category="sleep", description="x", set_on=day)
        services.review_goal(goal=goal, reviewed_on=day + dt.timedelta(days=7), score=1)
        complication_on = day + dt.timedelta(days=5)
        services.record_complication(patient=patient, occurred_on=complication_on, kind="catheter", pump=pump)


def _statements(client, patient) -> int:
    with CaptureQueriesContext(connection) as page:
        response = client.get(reverse("patient", args=[patient.pk]))
    assert response.status_code == 200
    return len(page.captured_queries)


def test_the_patient_page_reads_the_same_statements_whatever_the_records(client, site, coordinator):
    client.force_login(coordinator)
    patient, pump = make_implanted(site, implant_date=dt.date(2025, 6, 2))
    _records(patient, pump, dt.date(2025, 6, 2), 1)
    few = _statements(client, patient)
    _records(patient, pump, dt.date(2025, 8, 1), 12)
    assert _statements(client, patient) == few == PAGE_STATEMENTS
