"""Every list endpoint answers in a number of queries that does not grow with the page size."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import PatientAccess
from registry import models, services
from registry.selectors.rules import forget_site_rows
from tests.factories import at, make_implanted

pytestmark = pytest.mark.django_db

LISTS = [
    "sites",
    "patients",
    "indications",
    "screening-trials",
    "pumps",
    "refills",
    "dose-changes",
    "follow-ups",
    "goals",
    "goal-reviews",
    "complications",
    "reminders",
    "worklist",
]


def add_patients(site, count: int, start: int) -> None:
    for n in range(start, start + count):
        patient, pump = make_implanted(site, mrn=f"Q{n}", implant_date=dt.date(2025, 6, 2))
        refill = services.record_refill(
            pump=pump,
            performed_at=at(dt.date(2025, 6, 2), 11),
            volume_after_ml=Decimal("20"),
            concentration_mcg_per_ml=Decimal("500"),
            daily_dose_mcg=Decimal("100"),
        )
        services.record_dose_change(pump=pump, effective_at=at(dt.date(2025, 6, 5)), daily_dose_mcg=110)
        services.add_indication(patient=patient, diagnosis="stroke")
        services.record_screening_trial(
            patient=patient, performed_on=dt.date(2025, 4, 1), test_dose_mcg=50, response="positive"
        )
        services.schedule_follow_up(patient=patient, kind="titration", due_date=dt.date(2025, 7, 1))
        goal = services.set_goal(patient=patient, category="sleep", description="x", set_on=dt.date(2025, 5, 1))
        services.review_goal(goal=goal, reviewed_on=dt.date(2025, 8, 1), score=1)
        services.record_complication(patient=patient, occurred_on=dt.date(2025, 7, 1), kind="catheter", pump=pump)
        models.Reminder.objects.create(
            kind="refill_due", patient=patient, site=site, target_type="refill", target_id=refill.pk,
            due_date=dt.date(2025, 8, 1), lead_days=7, recipient="n@x.test", channel="email",
        )  # fmt: skip


def queries(client, url: str) -> int:
    forget_site_rows()  # every request as a fresh process's: the sites' rows are read, not remembered
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def url(resource: str, page_size: int) -> str:
    window = "start=2025-01-01&end=2025-12-31&" if resource == "worklist" else ""
    return f"/api/v1/{resource}/?{window}page_size={page_size}"


def test_queries_do_not_grow_with_page_size_or_data(admin_api, api, site):
    """Each list, as an administrator and as a coordinator: 5 then 50 patients, pages of 10 and 50.

    One test over every list so the 50 patients' records are made once.
    """
    add_patients(site, 5, 0)
    small = {(who, r): queries(c, url(r, 10)) for who, c in (("admin", admin_api), ("coord", api)) for r in LISTS}
    add_patients(site, 45, 5)
    for page_size in (10, 50):
        big = {
            (who, r): queries(c, url(r, page_size)) for who, c in (("admin", admin_api), ("coord", api)) for r in LISTS
        }
        # The worklist loads a page's follow-ups only when the page holds some: it may need one
        # query fewer with more data, never one more.
        assert {k: v for k, v in big.items() if k[1] != "worklist"} == {
            k: v for k, v in small.items() if k[1] != "worklist"
        }
        assert all(big[k] <= small[k] for k in small if k[1] == "worklist"), (big, small)
    assert max(v for k, v in small.items() if k[1] != "worklist") <= 8, small
    # The worklist: counted and paged in SQL (registry.selectors.worklist_page), twice per request.
    assert max(v for k, v in small.items() if k[1] == "worklist") <= 16, small


def test_a_patient_detail_reads_the_token_then_the_patient_with_its_access_row(admin_api, api, site):
    """One patient: the token with its user and staff profile, then the patient with its site and
    active pump (the refill status from the site, in Python) and the access log's row, inserted by
    the same statement on PostgreSQL (elsewhere by one more); an administrator as a coordinator."""
    patient, _ = make_implanted(site, mrn="D1", implant_date=dt.date(2025, 6, 2))
    expected = 2 if connection.vendor == "postgresql" else 3
    assert queries(admin_api, f"/api/v1/patients/{patient.pk}/") == expected
    assert queries(api, f"/api/v1/patients/{patient.pk}/") == expected
    assert PatientAccess.objects.filter(patient_id=patient.pk, channel=PatientAccess.Channel.API).count() == 2
