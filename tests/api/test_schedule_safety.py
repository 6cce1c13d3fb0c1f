"""Scheduling and worklist safety rules, through the API (docs/hazard-log.md names each one)."""

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db


def _refill(api, pump, performed_at, dose="100"):
    body = {
        "pump": pump.pk,
        "performed_at": performed_at,
        "volume_after_ml": "20",
        "concentration_mcg_per_ml": "500",
        "daily_dose_mcg": dose,
    }
    response = api.post("/api/v1/refills/", body, format="json")
    assert response.status_code == 201, response.json()


def _dose_change(api, pump, effective_at, dose):
    body = {"pump": pump.pk, "effective_at": effective_at, "daily_dose_mcg": dose}
    response = api.post("/api/v1/dose-changes/", body, format="json")
    assert response.status_code == 201, response.json()


def _schedule(api, patient):
    return api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"]


@pytest.mark.parametrize("minute", ["30", "31"])
def test_a_dose_change_at_the_refills_minute_applies_from_that_minute(api, implanted, minute):
    patient, pump, _ = implanted
    _refill(api, pump, "2025-08-15T09:30:00+01:00")
    # 18 mL above the alarm volume at 0.2 mL/day: 90 days, to 13 Nov.
    assert _schedule(api, patient)["alarm_date"] == "2025-11-13"
    _dose_change(api, pump, f"2025-08-15T09:{minute}:00+01:00", "200")
    # At 0.4 mL/day from (about) the refill: 45 days, to 29 Sep; due 7 days before, a Monday.
    schedule = _schedule(api, patient)
    assert (schedule["alarm_date"], schedule["next_refill_due"]) == ("2025-09-29", "2025-09-22")


def test_a_dose_change_at_the_next_refills_instant_belongs_to_the_next_cycle(api, implanted):
    patient, pump, _ = implanted
    _dose_change(api, pump, "2025-08-15T09:30:00+01:00", "200")
    _refill(api, pump, "2025-08-15T09:30:00+01:00", dose="200")
    schedule = _schedule(api, patient)
    assert (schedule["alarm_date"], schedule["next_refill_due"]) == ("2025-09-29", "2025-09-22")
    assert dt.date.fromisoformat(schedule["empty_date"]) == dt.date(2025, 10, 4)  # 20 mL / 0.4 mL a day


TODAY = dt.date(2025, 8, 10)
WINDOW = "start=2025-08-10&end=2025-09-09"


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC), tick=False):
        yield


def _book(api, patient, kind, due, at=None):
    """Book a visit through the API, on the first of the month before its date (a visit is booked ahead)."""
    import time_machine

    body = {"patient": patient.pk, "kind": kind, "due_date": due.isoformat()}
    if at:
        body["scheduled_at"] = at
    booked_on = dt.datetime(due.year, due.month, 1, 12, tzinfo=dt.UTC) - dt.timedelta(days=31)
    with time_machine.travel(booked_on, tick=False):
        response = api.post("/api/v1/follow-ups/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _worklist_visits(api):
    response = api.get(f"/api/v1/worklist/?{WINDOW}&kind=follow_up")
    assert response.status_code == 200, response.json()
    return {r["target_id"]: r["status"] for r in response.json()["results"]}


def test_a_booked_visit_stays_listed_when_a_later_one_of_its_kind_exists(api, implanted, frozen):
    patient, _, _ = implanted
    soon = _book(api, patient, "post_op", TODAY + dt.timedelta(days=8), "2025-08-18T09:30:00+01:00")  # a Monday
    later = _book(api, patient, "post_op", TODAY + dt.timedelta(days=43))
    assert _worklist_visits(api) == {soon: "due"}  # the later one is outside the window
    assert later not in _worklist_visits(api)


def test_a_later_visit_supersedes_a_missed_one_only(api, implanted, frozen):
    patient, _, _ = implanted
    missed = _book(api, patient, "clinic_review", TODAY - dt.timedelta(days=20))  # a Monday
    within_grace = _book(api, patient, "annual_review", TODAY - dt.timedelta(days=3))  # a Thursday
    assert _worklist_visits(api) == {missed: "missed", within_grace: "due"}
    rebooked = _book(api, patient, "clinic_review", TODAY + dt.timedelta(days=5))
    annual_rebooked = _book(api, patient, "annual_review", TODAY + dt.timedelta(days=60))
    # The missed review leaves (rebooked); the one still within its grace period stays.
    assert _worklist_visits(api) == {rebooked: "due", within_grace: "due"}
    assert annual_rebooked not in _worklist_visits(api)


@pytest.mark.parametrize("to_status", ["deceased", "transferred", "discontinued", "explanted"])
def test_a_patient_who_is_no_longer_implanted_leaves_the_worklist(api, implanted, frozen, to_status):
    patient, pump, _ = implanted
    _book(api, patient, "annual_review", TODAY - dt.timedelta(days=30))
    _book(api, patient, "titration", TODAY + dt.timedelta(days=3))
    listed = api.get(f"/api/v1/worklist/?{WINDOW}").json()["results"]
    assert {r["kind"] for r in listed if r["patient"] == patient.pk} == {"refill", "follow_up"}
    if to_status == "explanted":
        body = {"explant_date": "2025-08-09", "reason": "infection"}
        assert api.post(f"/api/v1/pumps/{pump.pk}/explant/", body, format="json").status_code == 200
    else:
        body = {"to_status": to_status, "on": "2025-08-09"}
        assert api.post(f"/api/v1/patients/{patient.pk}/status/", body, format="json").status_code == 200
    listed = api.get(f"/api/v1/worklist/?{WINDOW}").json()
    assert [r for r in listed["results"] if r["patient"] == patient.pk] == []
    assert listed["count"] == len(listed["results"])


@pytest.fixture
def replaced(api, implanted):
    """The pump replaced two days before its refill was due; no fill of the new pump recorded."""
    import time_machine

    patient, pump, _ = implanted
    with time_machine.travel(dt.datetime(2025, 8, 20, 12, tzinfo=dt.UTC), tick=False):
        assert _schedule(api, patient)["next_refill_due"] == "2025-08-22"
        response = api.post(f"/api/v1/pumps/{pump.pk}/replace/", {"implant_date": "2025-08-20"}, format="json")
        assert response.status_code in (200, 201), response.json()
        yield patient


def test_a_new_pump_without_its_first_fill_is_on_the_worklist_as_needing_attention(api, replaced):
    rows = api.get("/api/v1/worklist/?start=2025-08-20&end=2025-09-19").json()["results"]
    row = next(r for r in rows if r["patient"] == replaced.pk)
    assert (row["kind"], row["status"], row["due_date"]) == ("refill", "needs_attention", "2025-08-20")
    assert "first fill" in row["reason"] and "20 Aug 2025" in row["reason"]
    assert rows[0] == row  # before everything merely due
    schedule = _schedule(api, replaced)
    assert (schedule["refill_status"], schedule["next_refill_due"]) == ("needs_attention", "2025-08-20")
    assert api.get("/api/v1/patients/?refill_status=needs_attention").json()["count"] == 1


def test_a_projection_that_cannot_be_made_puts_the_patient_on_the_worklist(api, implanted, frozen):
    from registry import services
    from registry.models import DoseChange, Refill

    patient, pump, refill = implanted
    # A dose too small to project (the reservoir would last past the calendar's end), as older
    # records or a database edit can hold.
    Refill.objects.filter(pk=refill.pk).update(concentration_mcg_per_ml="3000")
    DoseChange.objects.create(pump=pump, effective_at=dt.datetime(2025, 6, 3, tzinfo=dt.UTC), daily_dose_mcg="0.01")
    services.recompute_schedule(patient)
    rows = api.get(f"/api/v1/worklist/?{WINDOW}&kind=refill").json()["results"]
    assert [(r["patient"], r["status"]) for r in rows] == [(patient.pk, "needs_attention")]
    assert "could not be projected" in rows[0]["reason"]
