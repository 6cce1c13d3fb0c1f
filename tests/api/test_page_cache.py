"""The cached patient list and worklist (api/caching.py) are always what a fresh read returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from registry import services
from registry.models import DataVersion, Patient, Pump, Site
from registry.selectors import data_version
from tests.factories import at

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["family_name"] for row in response.json()["results"]]


def test_a_coordinators_hit_is_one_statement_the_token_with_their_sites_and_the_data_version(api, implanted, elsewhere):
    from django.test.utils import CaptureQueriesContext

    assert names(api.get("/api/v1/patients/")) == ["Example"]
    with CaptureQueriesContext(connection) as hit:
        assert names(api.get("/api/v1/patients/")) == ["Example"]
    assert len(hit.captured_queries) == 1, [q["sql"] for q in hit.captured_queries]
    assert not any("registry_patient" in q["sql"] for q in hit.captured_queries)


def test_a_coordinator_given_another_site_sees_its_patients_at_once(api, coordinator, implanted, elsewhere):
    """The user's sites are part of the page's key, read with the token on every request: no
    write to a site, patient or schedule is needed for the page to change."""
    assert names(api.get("/api/v1/patients/")) == ["Example"]
    coordinator.staff.sites.add(elsewhere[0].site)
    assert sorted(names(api.get("/api/v1/patients/"))) == ["Elsewhere", "Example"]
    coordinator.staff.sites.remove(implanted[0].site)
    assert names(api.get("/api/v1/patients/")) == ["Elsewhere"]


def test_an_administrators_hit_is_one_statement_the_token_with_the_data_version(admin_api, implanted, elsewhere):
    from django.test.utils import CaptureQueriesContext

    first = sorted(names(admin_api.get("/api/v1/patients/")))
    with CaptureQueriesContext(connection) as hit:
        assert sorted(names(admin_api.get("/api/v1/patients/"))) == first
    # Every site's row is kept per data version in the process: a hit reads no site.
    assert len(hit.captured_queries) == 1, [q["sql"] for q in hit.captured_queries]
    assert not any("registry_site" in q["sql"] for q in hit.captured_queries)


def test_a_sites_new_time_zone_moves_an_administrators_page_to_its_day(admin_api, implanted):
    from api.caching import forget_pages

    patient, _, _ = implanted
    due = patient.next_refill_due
    url = f"/api/v1/worklist/?start={due - dt.timedelta(days=10)}&end={due + dt.timedelta(days=10)}"

    def refill_status():
        items = admin_api.get(url).json()["results"]
        return [item["status"] for item in items if item["patient"] == patient.pk and item["kind"] == "refill"]

    # 20:00 UTC on the due date: still that day in London, already the next day in Tokyo.
    with time_machine.travel(dt.datetime.combine(due, dt.time(20), dt.UTC), tick=False):
        before = refill_status()
        Site.objects.filter(pk=patient.site_id).update(time_zone="Asia/Tokyo")  # seen only through the version
        after = refill_status()
        forget_pages()
        fresh = refill_status()
    assert after == fresh
    assert before != after, (before, after)


def test_a_raw_sql_write_shows_on_the_next_read(api, implanted):
    patient, _, _ = implanted
    assert names(api.get("/api/v1/patients/")) == ["Example"]
    # As a DBA or a bulk job would write it: no Django signal, only the database's trigger.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_patient SET family_name = 'Changed' WHERE id = %s", [patient.pk])
    assert names(api.get("/api/v1/patients/")) == ["Changed"]


@pytest.mark.parametrize(
    "write",
    [
        lambda p: Patient.objects.filter(pk=p.pk).update(notes="x"),
        lambda p: Pump.objects.filter(patient=p).update(catheter_notes="y"),
        lambda p: Site.objects.filter(pk=p.site_id).update(phone="+1 555 0199"),
        lambda p: services.schedule_follow_up(patient=p, kind="clinic_review", due_date=dt.date(2026, 1, 5)),
    ],
    ids=["patient", "pump", "site", "follow-up"],
)
def test_every_table_the_pages_read_moves_the_version(implanted, write):
    before = data_version()
    write(implanted[0])
    assert data_version() != before


def test_writes_elsewhere_leave_the_version(implanted, coordinator):
    before = data_version()
    coordinator.first_name = "Renamed"
    coordinator.save()
    assert data_version() == before


def test_the_refill_status_follows_the_day_at_the_site(api, implanted):
    patient, _, _ = implanted
    due = patient.next_refill_due
    statuses = []
    for day in (due - dt.timedelta(days=60), due + dt.timedelta(days=1)):
        with time_machine.travel(at(day, 12), tick=False):
            statuses.append(api.get("/api/v1/patients/").json()["results"][0]["schedule"]["refill_status"])
    assert statuses == ["upcoming", "overdue"]


def test_users_of_other_sites_never_share_a_page(api, admin_api, implanted, elsewhere):
    assert names(api.get("/api/v1/patients/")) == ["Example"]
    assert sorted(names(admin_api.get("/api/v1/patients/"))) == ["Elsewhere", "Example"]
    assert names(api.get("/api/v1/patients/")) == ["Example"]


def test_errors_are_not_cached(api, implanted):
    assert api.get("/api/v1/worklist/?start=2026-13-01").status_code == 400
    assert api.get("/api/v1/patients/?page=99").status_code == 404
    assert api.get("/api/v1/worklist/").status_code == 200


@time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False)
def test_the_worklist_follows_a_recorded_refill(api, implanted):
    patient, pump, _ = implanted
    url = "/api/v1/worklist/?start=2025-08-01&end=2025-12-31"
    before = [(r["kind"], r["due_date"]) for r in api.get(url).json()["results"]]
    assert before == [("refill", patient.next_refill_due.isoformat())]
    services.record_refill(
        pump=pump,
        performed_at=at(dt.date(2025, 8, 10), 11),
        volume_after_ml=Decimal("20"),
        concentration_mcg_per_ml=Decimal("500"),
        daily_dose_mcg=Decimal("100"),
    )
    patient.refresh_from_db()
    after = [(r["kind"], r["due_date"]) for r in api.get(url).json()["results"]]
    assert after == [("refill", patient.next_refill_due.isoformat())] and after != before


def test_a_flushed_counter_restarts_above_every_earlier_number(implanted):
    before = DataVersion.objects.get().value
    DataVersion.objects.all().delete()
    assert data_version().startswith("none") or connection.vendor == "postgresql"
    Patient.objects.filter(pk=implanted[0].pk).update(notes="after the flush")
    if connection.vendor == "sqlite":
        assert DataVersion.objects.get().value > before


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_number_moves_at_the_writers_commit(postgres, site):
    """Another connection's write: invisible (same number) until it commits, then one raise."""
    import psycopg

    from tests.factories import make_patient

    patient = make_patient(site)
    before = data_version()
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        other.execute("UPDATE registry_patient SET notes = 'a' WHERE id = %s", [patient.pk])
        other.execute("UPDATE registry_patient SET notes = 'b' WHERE id = %s", [patient.pk])
        assert data_version() == before
        other.commit()
    after = data_version()
    assert int(after) == int(before) + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_dataversion_pending")
        assert cursor.fetchone()[0] == 0


def test_a_hit_sends_the_stored_json_and_other_formats_render_the_same_page(api, implanted):
    miss = api.get("/api/v1/patients/")
    hit = api.get("/api/v1/patients/")
    assert hit["Content-Type"] == "application/json"
    assert hit.content == miss.content
    assert hit.json()["results"][0]["family_name"] == "Example"
    browsable = api.get("/api/v1/patients/", headers={"Accept": "text/html"})
    assert browsable.status_code == 200 and "text/html" in browsable["Content-Type"]
    assert "Example" in browsable.content.decode()
    indented = api.get("/api/v1/patients/", headers={"Accept": "application/json; indent=2"})
    assert indented.json() == hit.json() and b'\n  "count"' in indented.content
