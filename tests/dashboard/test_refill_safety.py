"""The dashboard's refill, dose-change and status forms: unusual values need a confirmation, impossible
ones are refused beside their field, a patient who is not implanted gets neither form nor a 500."""

import datetime as dt

import pytest
from django.urls import reverse

from registry import services
from registry.models import DoseChange, Refill
from tests.factories import refill_form_data

pytestmark = pytest.mark.django_db


def field_block(response, field):
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    return html.split(f'id="field-{field}"')[1].split('<div class="field')[0]


def test_a_fill_at_the_alarm_volume_needs_confirmation(client, coordinator, program):
    patient = program["critical"]
    client.force_login(coordinator)
    url = reverse("refill_create", args=[patient.pk])
    refused = client.post(url, refill_form_data(volume_after_ml="1.5"))
    assert "at or below this pump&#x27;s alarm volume (2.00 mL)" in field_block(refused, "volume_after_ml")
    assert Refill.objects.filter(pump__patient=patient).count() == 1
    preview = client.post(url, refill_form_data(volume_after_ml="1.5", action="preview")).content.decode()
    assert "needs your confirmation" in preview and "alarm volume (2.00 mL)" in preview
    assert client.post(url, refill_form_data(volume_after_ml="1.5", confirmed="on")).status_code == 302


def test_a_backdated_refill_needs_confirmation_and_the_preview_shows_what_is_stored(client, coordinator, program):
    patient = program["critical"]  # last refilled 1 Aug 2025
    client.force_login(coordinator)
    url = reverse("refill_create", args=[patient.pk])
    backdated = refill_form_data(performed_at="2025-07-01T09:30", volume_after_ml="20")
    refused = client.post(url, backdated)
    assert "before the latest refill of this pump (01 Aug 2025 10:00)" in field_block(refused, "performed_at")
    preview = client.post(url, {**backdated, "action": "preview", "confirmed": "on"}).content.decode()
    shown = preview.split('id="preview-next-due"')[1].split('datetime="')[1][:10]
    assert client.post(url, {**backdated, "confirmed": "on"}).status_code == 302
    patient.refresh_from_db()
    assert shown == patient.next_refill_due.isoformat() == "2026-01-28"


def test_a_dose_below_the_site_minimum_needs_confirmation(client, coordinator, program):
    patient = program["upcoming"]
    client.force_login(coordinator)
    refused = client.post(reverse("refill_create", args=[patient.pk]), refill_form_data(daily_dose_mcg="0.5"))
    assert "below 20.00 mcg is unusual" in field_block(refused, "daily_dose_mcg")
    change = client.post(
        reverse("dose_change_create", args=[patient.pk]), {"effective_at": "2026-03-09T10:00", "daily_dose_mcg": "0.5"}
    )
    assert "below 20.00 mcg is unusual" in field_block(change, "daily_dose_mcg")
    assert not DoseChange.objects.filter(pump__patient=patient).exists()


def test_an_impossible_projection_is_a_field_error(client, coordinator, program):
    patient = program["upcoming"]
    client.force_login(coordinator)
    url = reverse("refill_create", args=[patient.pk])
    tiny = refill_form_data(daily_dose_mcg="0.01", confirmed="on")
    assert "beyond any date the registry can hold" in field_block(client.post(url, tiny), "daily_dose_mcg")
    preview = client.post(url, {**tiny, "action": "preview"}).content.decode()
    assert "Daily dose (mcg/day): At this daily dose" in preview
    change = client.post(
        reverse("dose_change_create", args=[patient.pk]),
        {"effective_at": "2025-10-02T10:00", "daily_dose_mcg": "0.01", "confirmed": "on"},
    )
    assert "beyond any date" in field_block(change, "daily_dose_mcg")
    assert Refill.objects.filter(pump__patient=patient).count() == 1


def test_preview_errors_name_the_fields_in_words(client, coordinator, program):
    patient = program["critical"]
    client.force_login(coordinator)
    url = reverse("refill_preview", args=[patient.pk])
    html = client.post(url, refill_form_data(volume_after_ml="999")).content.decode()
    assert "Volume in the reservoir after the refill (mL): The reservoir of this pump holds at most" in html
    assert "volume_after" not in html


@pytest.mark.parametrize("status", ["deceased", "discontinued", "transferred"])
def test_no_refill_or_dose_change_for_a_patient_who_is_not_implanted(client, coordinator, program, status):
    patient = program["upcoming"]
    services.change_status(patient=patient, to_status=status, on=dt.date(2026, 3, 1))
    client.force_login(coordinator)
    refused = client.post(reverse("refill_create", args=[patient.pk]), refill_form_data())
    assert refused.status_code == 200
    assert f"Alex Upcoming is {status}: refills and dose changes are recorded only" in refused.content.decode()
    preview = client.post(reverse("refill_preview", args=[patient.pk]), refill_form_data()).content.decode()
    assert f"is {status}" in preview and "preview-next-due" not in preview
    change = client.post(
        reverse("dose_change_create", args=[patient.pk]), {"effective_at": "2026-03-09T10:00", "daily_dose_mcg": "300"}
    )
    assert change.status_code == 200 and f"is {status}" in change.content.decode()
    assert Refill.objects.filter(pump__patient=patient).count() == 1
    assert not DoseChange.objects.filter(pump__patient=patient).exists()


def test_the_patient_page_offers_only_the_actions_that_apply(client, coordinator, program):
    patient = program["upcoming"]
    client.force_login(coordinator)
    actions = ("refill_create", "dose_change_create", "pump_replace", "pump_explant")
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert all(reverse(name, args=[patient.pk]) in page for name in actions)
    services.change_status(patient=patient, to_status="deceased", on=dt.date(2026, 3, 1))
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert not any(reverse(name, args=[patient.pk]) in page for name in actions)
    assert reverse("status_change", args=[patient.pk]) not in page


def test_an_explant_stays_on_offer_when_therapy_is_discontinued(client, coordinator, program):
    patient = program["upcoming"]
    services.change_status(patient=patient, to_status="discontinued", on=dt.date(2026, 3, 1))
    client.force_login(coordinator)
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert reverse("pump_explant", args=[patient.pk]) in page
    assert reverse("refill_create", args=[patient.pk]) not in page


def test_the_status_form_shows_the_current_status_and_preselects_none(client, coordinator, program):
    patient = program["upcoming"]
    client.force_login(coordinator)
    html = client.get(reverse("status_change", args=[patient.pk])).content.decode()
    select = html.split('name="to_status"')[1].split("</select>")[0]
    assert select.count("selected") == 1 and '<option value="" selected>Choose the new status' in select
    assert "Current status: Implanted since 2 Jun 2025" in html
    empty = client.post(reverse("status_change", args=[patient.pk]), {"to_status": ""})
    assert "This field is required" in field_block(empty, "to_status")
