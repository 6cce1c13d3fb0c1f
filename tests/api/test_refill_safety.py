"""Unusual or impossible refills and dose changes over the API: confirmed, refused, never a 500."""

import datetime as dt

import pytest

from registry import services
from registry.models import DoseChange, Patient, Refill

pytestmark = pytest.mark.django_db


def refill_body(pump, **overrides):
    body = {
        "pump": pump.pk,
        "performed_at": "2025-08-15T09:30:00+01:00",
        "volume_after_ml": "20",
        "concentration_mcg_per_ml": "500",
        "daily_dose_mcg": "100",
    }
    return {**body, **overrides}


def dose_body(pump, **overrides):
    return {"pump": pump.pk, "effective_at": "2025-06-10T12:00:00+01:00", "daily_dose_mcg": "100", **overrides}


def test_volume_at_or_below_the_alarm_volume_needs_confirmation(api, implanted):
    _, pump, _ = implanted
    for volume in ("2", "1.5"):  # the pump alarms at 2 mL
        refused = api.post("/api/v1/refills/", refill_body(pump, volume_after_ml=volume), format="json")
        assert refused.status_code == 400, refused.json()
        assert "alarm volume (2.00 mL)" in refused.json()["volume_after_ml"][0]
    assert Refill.objects.filter(pump=pump).count() == 1
    body = refill_body(pump, volume_after_ml="2", confirmed=True)
    assert api.post("/api/v1/refills/", body, format="json").status_code == 201


def test_refill_before_the_latest_needs_confirmation_and_the_schedule_stays_on_the_latest(api, implanted):
    patient, pump, _ = implanted
    assert api.post("/api/v1/refills/", refill_body(pump), format="json").status_code == 201
    latest = api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"]
    earlier = refill_body(pump, performed_at="2025-07-01T09:30:00+01:00", volume_after_ml="5")
    refused = api.post("/api/v1/refills/", earlier, format="json")
    assert refused.status_code == 400
    assert "before the latest refill of this pump (15 Aug 2025 09:30)" in refused.json()["performed_at"][0]
    assert api.post("/api/v1/refills/", {**earlier, "confirmed": True}, format="json").status_code == 201
    assert api.get(f"/api/v1/patients/{patient.pk}/").json()["schedule"] == latest
    stored = Patient.objects.get(pk=patient.pk)
    assert stored.last_refill_at == dt.datetime(2025, 8, 15, 8, 30, tzinfo=dt.UTC)


def test_a_dose_below_the_site_minimum_needs_confirmation(api, implanted, site):
    _, pump, _ = implanted
    refused = api.post("/api/v1/refills/", refill_body(pump, daily_dose_mcg="0.5"), format="json")
    assert refused.status_code == 400
    assert "below 20.00 mcg is unusual" in refused.json()["daily_dose_mcg"][0]
    change = api.post("/api/v1/dose-changes/", dose_body(pump, daily_dose_mcg="0.5"), format="json")
    assert change.status_code == 400 and "below 20.00 mcg" in change.json()["daily_dose_mcg"][0]
    confirmed = api.post("/api/v1/dose-changes/", dose_body(pump, daily_dose_mcg="0.5", confirmed=True), format="json")
    assert confirmed.status_code == 201
    site.dose_confirm_below_mcg = "0.2"
    site.save()
    later = dose_body(pump, effective_at="2025-06-11T12:00:00+01:00", daily_dose_mcg="0.5")
    assert api.post("/api/v1/dose-changes/", later, format="json").status_code == 201


@pytest.mark.parametrize("status", ["deceased", "discontinued", "transferred"])
def test_no_refill_or_dose_change_for_a_patient_who_is_not_implanted(api, implanted, status):
    patient, pump, _ = implanted
    services.change_status(patient=patient, to_status=status, on=dt.date(2025, 7, 1))
    refill = api.post("/api/v1/refills/", refill_body(pump), format="json")
    assert refill.status_code == 400
    assert refill.json()["pump"] == [
        f"Alex Example is {status}: refills and dose changes are recorded only for an implanted patient."
    ]
    change = api.post("/api/v1/dose-changes/", dose_body(pump), format="json")
    assert change.status_code == 400 and f"is {status}" in change.json()["pump"][0]
    assert Refill.objects.filter(pump=pump).count() == 1 and not DoseChange.objects.exists()


def test_an_explanted_patient_gets_no_refill(api, implanted):
    patient, pump, _ = implanted
    services.explant_pump(pump=pump, explant_date=dt.date(2025, 7, 1), reason="Infection")
    response = api.post("/api/v1/refills/", refill_body(pump), format="json")
    assert response.status_code == 400 and "explanted" in response.json()["pump"][0]


def test_a_projection_past_the_calendar_is_a_field_error_not_a_500(api, implanted):
    _, pump, _ = implanted
    # 20 mL at 2000 mcg/mL and 0.01 mcg/day would last about 11,000 years.
    body = refill_body(pump, concentration_mcg_per_ml="2000", daily_dose_mcg="0.01", confirmed=True)
    response = api.post("/api/v1/refills/", body, format="json")
    assert response.status_code == 400
    assert "would last beyond any date the registry can hold" in response.json()["daily_dose_mcg"][0]
    strong = refill_body(pump, concentration_mcg_per_ml="2000")
    assert api.post("/api/v1/refills/", strong, format="json").status_code == 201
    tiny = dose_body(pump, effective_at="2025-08-20T12:00:00+01:00", daily_dose_mcg="0.01", confirmed=True)
    change = api.post("/api/v1/dose-changes/", tiny, format="json")
    assert change.status_code == 400 and "beyond any date" in change.json()["daily_dose_mcg"][0]
    assert Refill.objects.filter(pump=pump).count() == 2 and not DoseChange.objects.exists()
