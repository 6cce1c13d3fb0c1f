"""The worklist endpoint: the dashboard's selector, scoped to the user, in a validated window."""

import datetime as dt

import pytest
import time_machine

from registry import services
from tests.factories import make_patient
from tests.oracle import worklist

pytestmark = pytest.mark.django_db


@pytest.fixture
def due_things(implanted, elsewhere, site):
    patient, _, _ = implanted
    other = make_patient(site, family_name="Visit")
    services.schedule_follow_up(patient=other, kind="clinic_review", due_date=dt.date(2025, 8, 20))
    return patient, other


@time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False)
def test_items_match_the_dashboard_selector_most_urgent_first(api, due_things, coordinator):
    patient, other = due_things
    response = api.get("/api/v1/worklist/?start=2025-08-01&end=2025-08-31")
    assert response.status_code == 200
    rows = response.json()["results"]
    from registry.roles import patients_for

    expected = worklist(start=dt.date(2025, 8, 1), end=dt.date(2025, 8, 31), patients=patients_for(coordinator))
    assert [(r["patient"], r["kind"], r["due_date"], r["status"]) for r in rows] == [
        (i.patient.pk, i.kind, i.due_date.isoformat(), i.status) for i in expected
    ]
    assert [(r["patient"], r["kind"]) for r in rows] == [(patient.pk, "refill"), (other.pk, "follow_up")]
    assert rows[0]["due_date"] == patient.next_refill_due.isoformat() and rows[0]["status"] == "due"


@time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False)
def test_other_sites_are_never_listed_and_filters_narrow(api, admin_api, due_things, elsewhere, site, other_site):
    window = "start=2025-08-01&end=2025-08-31"
    assert elsewhere[0].pk not in {r["patient"] for r in api.get(f"/api/v1/worklist/?{window}").json()["results"]}
    everyone = {r["patient"] for r in admin_api.get(f"/api/v1/worklist/?{window}").json()["results"]}
    assert elsewhere[0].pk in everyone
    only_other = admin_api.get(f"/api/v1/worklist/?{window}&site={other_site.pk}").json()["results"]
    assert {r["patient"] for r in only_other} == {elsewhere[0].pk}
    kinds = {r["kind"] for r in api.get(f"/api/v1/worklist/?{window}&kind=follow_up").json()["results"]}
    assert kinds == {"follow_up"}


@pytest.mark.parametrize(
    "query,field",
    [
        ("start=2025-08-10&end=2025-08-01", "end"),
        ("start=2025-01-01&end=2026-12-31", "end"),
        ("start=yesterday", "start"),
        ("kind=pizza", "kind"),
        ("site=-3", "site"),
    ],
)
def test_bad_windows_are_field_errors(api, query, field):
    response = api.get(f"/api/v1/worklist/?{query}")
    assert response.status_code == 400 and field in response.json()


@time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False)
def test_a_long_worklist_counts_no_further_than_it_needs(api, due_things, site, monkeypatch):
    from api.views import worklist as views

    for n in range(3):
        services.schedule_follow_up(
            patient=make_patient(site, family_name=f"Extra{n}"), kind="clinic_review", due_date=dt.date(2025, 8, 21)
        )
    window = "start=2025-08-01&end=2025-08-31"
    exact = api.get(f"/api/v1/worklist/?{window}").json()
    assert exact["count"] == 5 and exact["count_exact"] is True
    monkeypatch.setattr(views, "COUNT_LIMIT", 2)
    # Counting stops one past the limit: "at least 3", and the next page is still linked.
    first = api.get(f"/api/v1/worklist/?{window}&page_size=2").json()
    assert (first["count"], first["count_exact"], len(first["results"])) == (3, False, 2)
    assert first["next"] and "page=2" in first["next"]
    # The page asked for is always covered: the count reaches one past its end.
    second = api.get(f"/api/v1/worklist/?{window}&page_size=2&page=2").json()
    assert (second["count"], second["count_exact"]) == (5, False) and "page=3" in second["next"]
    assert [r["patient"] for r in first["results"] + second["results"]] == [r["patient"] for r in exact["results"][:4]]
    # The last page, asked for by name, counts everything.
    last = api.get(f"/api/v1/worklist/?{window}&page_size=2&page=last").json()
    assert (last["count"], last["count_exact"], len(last["results"])) == (5, True, 1)


@time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False)
def test_an_items_representation_is_what_its_declared_fields_give(api, due_things):
    """``WorkItemSerializer`` writes its fields directly: the same as DRF's field by field."""
    from rest_framework import serializers as drf

    from api.serializers import WorkItemSerializer
    from registry.selectors import worklist_page

    items = worklist_page(start=dt.date(2025, 8, 1), end=dt.date(2025, 8, 31)).items
    assert {i.kind for i in items} == {"refill", "follow_up"}
    for item in items:
        direct = WorkItemSerializer().to_representation(item)
        by_field = drf.Serializer.to_representation(WorkItemSerializer(), item)
        assert list(direct.items()) == list(by_field.items())


def test_an_administrators_cold_page_reads_the_sites_once(admin_api, due_things):
    """Every site's day feeds both the page's cache key and the page: one read per request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert admin_api.get("/api/v1/worklist/?start=2025-08-01&end=2025-08-31").status_code == 200
    site_reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith('SELECT "registry_site"')]
    assert len(site_reads) == 1, site_reads
