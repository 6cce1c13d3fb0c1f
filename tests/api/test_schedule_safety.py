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
