"""Refills, dose changes and pumps over the API: the services reschedule, the API reads it back."""

import datetime as dt

import pytest

from registry import services
from registry.models import Patient, Refill

pytestmark = pytest.mark.django_db


def refill_body(pump, **overrides):
    body = {
        "pump": pump.pk,
        "performed_at": "2025-08-15T09:30:00+01:00",
        "volume_removed_ml": "3.0",
        "expected_residual_ml": "3.2",
        "volume_after_ml": "20",
        "concentration_mcg_per_ml": "500",
        "daily_dose_mcg": "100",
    }
    return {**body, **overrides}


def test_refill_moves_the_schedule_exactly_as_the_service_does(api, implanted):
    patient, pump, _ = implanted
    response = api.post("/api/v1/refills/", refill_body(pump), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["timeliness"] == "on_time" and response.json()["patient"] == patient.pk
    patient.refresh_from_db()
    schedule = api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"]
    assert schedule["next_refill_due"] == patient.next_refill_due.isoformat()
    # 20 mL at 500 mcg/mL and 100 mcg/day: 0.2 mL/day, alarm at 2 mL after 90 days.
    assert schedule["alarm_date"] == (dt.date(2025, 8, 15) + dt.timedelta(days=90)).isoformat()


def test_volume_above_the_reservoir_is_a_field_error(api, implanted):
    _, pump, _ = implanted
    response = api.post("/api/v1/refills/", refill_body(pump, volume_after_ml="45"), format="json")
    assert response.status_code == 400 and "volume_after_ml" in response.json()


def test_unusual_concentration_needs_confirmation(api, implanted):
    _, pump, _ = implanted
    body = refill_body(pump, concentration_mcg_per_ml="2500")
    refused = api.post("/api/v1/refills/", body, format="json")
    assert refused.status_code == 400 and "concentration_mcg_per_ml" in refused.json()
    accepted = api.post("/api/v1/refills/", {**body, "confirmed": True}, format="json")
    assert accepted.status_code == 201 and "confirmed" not in accepted.json()


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"performed_at": "2025-08-15T09:30:00"}, "performed_at"),  # no offset: ambiguous
        ({"performed_at": "2025-05-01T09:30:00+00:00"}, "performed_at"),  # before implant
        ({"performed_at": "2199-01-01T09:30:00+00:00"}, "performed_at"),  # future
        ({"volume_after_ml": "-1"}, "volume_after_ml"),
        ({"daily_dose_mcg": "0"}, "daily_dose_mcg"),
        ({"programmer_alarm_date": "2025-08-01"}, "programmer_alarm_date"),
    ],
)
def test_invariants_are_field_errors(api, implanted, overrides, field):
    _, pump, _ = implanted
    response = api.post("/api/v1/refills/", refill_body(pump, **overrides), format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Refill.objects.count() == 1


def test_same_refill_time_twice_is_refused_not_a_500(api, implanted):
    _, pump, _ = implanted
    assert api.post("/api/v1/refills/", refill_body(pump), format="json").status_code == 201
    assert api.post("/api/v1/refills/", refill_body(pump), format="json").status_code == 400


def test_dose_change_moves_the_alarm_date(api, implanted):
    patient, pump, _ = implanted
    before = api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"]["alarm_date"]
    response = api.post(
        "/api/v1/dose-changes/",
        {"pump": pump.pk, "effective_at": "2025-06-10T12:00:00+01:00", "daily_dose_mcg": "200"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    after = api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"]["alarm_date"]
    assert after < before


def test_implant_replace_and_explant(api, site):
    today = services.site_today(site).isoformat()
    pid = api.post(
        "/api/v1/patients/",
        {"site": site.pk, "mrn": "P1", "given_name": "A", "family_name": "B", "date_of_birth": "2001-01-01"},
        format="json",
    ).json()["id"]
    for status in ("evaluating", "screening", "candidate"):
        assert api.post(f"/api/v1/patients/{pid}/status/", {"to_status": status}).status_code == 200
    pump = api.post(
        "/api/v1/pumps/",
        {"patient": pid, "implant_date": today, "reservoir_volume_ml": "40", "alarm_volume_ml": "2"},
        format="json",
    )
    assert pump.status_code == 201, pump.json()
    assert Patient.objects.get(pk=pid).status == "implanted"
    bad = api.post(
        "/api/v1/pumps/", {"patient": pid, "implant_date": today, "reservoir_volume_ml": "40"}, format="json"
    )
    assert bad.status_code == 400 and "patient" in bad.json()
    new = api.post(f"/api/v1/pumps/{pump.json()['id']}/replace/", {"implant_date": today}, format="json")
    assert new.status_code == 201 and new.json()["replaces"] == pump.json()["id"]
    out = api.post(f"/api/v1/pumps/{new.json()['id']}/explant/", {"explant_date": today, "reason": "Infection"})
    assert out.status_code == 200 and out.json()["explant_date"] == today
    assert Patient.objects.get(pk=pid).status == "explanted"


def test_pump_alarm_volume_must_be_below_reservoir(api, implanted):
    _, pump, _ = implanted
    response = api.patch(f"/api/v1/pumps/{pump.pk}/", {"alarm_volume_ml": "45"}, format="json")
    assert response.status_code == 400 and "alarm_volume_ml" in response.json()
    smaller = api.patch(f"/api/v1/pumps/{pump.pk}/", {"reservoir_volume_ml": "10"}, format="json")
    assert smaller.status_code == 400 and "reservoir_volume_ml" in smaller.json()
