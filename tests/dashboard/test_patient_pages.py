"""Patient list (search, filters) and the patient page (schedule, pump, chart, timeline)."""

import datetime as dt

import pytest
from django.urls import reverse

from registry import services

pytestmark = pytest.mark.django_db


def test_search_by_name_or_mrn_and_filter(client, coordinator, program):
    client.force_login(coordinator)
    url = reverse("patient_list")
    critical = program["critical"]
    assert "Critical" in client.get(url, {"q": "critic"}).content.decode()
    by_mrn = client.get(url, {"q": critical.mrn}).content.decode()
    assert f"/patients/{critical.pk}/" in by_mrn and "Overdue" not in by_mrn.split("<main")[1].split("status-")[0]
    assert "1 patient" in by_mrn
    services.add_indication(patient=program["due"], diagnosis="multiple_sclerosis")
    ms = client.get(url, {"indication": "multiple_sclerosis"}).content.decode()
    assert "Duesoon" in ms and "Critical, Alex" not in ms
    assert "No patient matches" in client.get(url, {"status": "referred"}).content.decode()
    partial = client.get(url, {"q": "over"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "Overdue" in partial


def test_patient_page_shows_schedule_pump_chart_and_timeline(client, coordinator, program):
    patient = program["critical"]
    services.set_goal(patient=patient, category="comfort", description="Sleep through", set_on=dt.date(2025, 7, 1))
    services.record_complication(patient=patient, occurred_on=dt.date(2025, 9, 1), kind="csf_leak")
    client.force_login(coordinator)
    html = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert f'datetime="{patient.next_refill_due:%Y-%m-%d}"' in html
    assert "Critical" in html and "Low-reservoir alarm date" in html and "Empty date" in html
    assert "SynchroMed II" in html and "40.00 mL / 2.00 mL" in html
    assert "<svg" in html and "<polyline" in html and "alarm volume" in html
    for text in [
        "Status: Candidate → Implanted",
        "Pump implanted",
        "Refill",
        "Goal set: Comfort",
        "Complication: CSF leak",
    ]:
        assert text in html, text
    assert html.index("Complication: CSF leak") < html.index("Pump implanted")  # newest first


def test_patient_without_pump_has_no_chart(client, coordinator, site, frozen):
    from tests.factories import make_patient

    patient = make_patient(site, status="candidate", family_name="Waiting")
    client.force_login(coordinator)
    html = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "<svg" not in html and "Record implant" in html
