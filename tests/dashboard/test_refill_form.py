"""Recording a refill: preview before saving, errors beside the fields, the new due date after."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from registry import services
from registry.models import Refill
from tests.factories import refill_form_data

pytestmark = pytest.mark.django_db


def test_preview_without_js_shows_the_computed_due_date_and_saves_nothing(client, coordinator, program):
    patient = program["critical"]
    pump = patient.active_pump
    client.force_login(coordinator)
    response = client.post(reverse("refill_create", args=[patient.pk]), refill_form_data(action="preview"))
    expected = services.preview_refill(
        pump=pump,
        performed_at=dt.datetime(2026, 3, 10, 9, 30, tzinfo=patient.site.zone),
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )
    html = response.content.decode()
    assert f'datetime="{expected.next_refill_due:%Y-%m-%d}"' in html
    assert 'id="preview-next-due"' in html
    assert Refill.objects.filter(pump=pump).count() == 1


def test_htmx_preview_flags_a_residual_discrepancy(client, coordinator, program):
    patient = program["critical"]
    client.force_login(coordinator)
    url = reverse("refill_preview", args=[patient.pk])
    html = client.post(url, refill_form_data(volume_removed_ml="8"), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and "Residual discrepancy" in html and "preview-next-due" in html
    ok = client.post(url, refill_form_data(), headers={"HX-Request": "true"}).content.decode()
    assert "Residual within tolerance" in ok
    impossible = client.post(url, refill_form_data(volume_after_ml="999")).content.decode()
    assert "holds at most 40.00 mL" in impossible and "preview-next-due" not in impossible


def test_save_redirects_to_the_patient_with_the_new_due_date(client, coordinator, program):
    patient = program["critical"]
    client.force_login(coordinator)
    response = client.post(
        reverse("refill_create", args=[patient.pk]), refill_form_data(volume_removed_ml="8"), follow=True
    )
    patient.refresh_from_db()
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    html = response.content.decode()
    assert f"Next refill due {patient.next_refill_due:%d %b %Y}" in html
    assert f'id="next-refill-due"><time datetime="{patient.next_refill_due:%Y-%m-%d}"' in html
    assert "Residual discrepancy flagged" in html
    refill = Refill.objects.filter(pump__patient=patient).latest("performed_at")
    assert refill.performed_by == coordinator and refill.residual_discrepancy
    assert refill.performed_at == dt.datetime(2026, 3, 10, 9, 30, tzinfo=patient.site.zone)
    assert "refill-critical" not in client.get(reverse("worklist")).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"volume_after_ml": "999"}, "volume_after_ml", "holds at most 40.00 mL"),
        ({"volume_after_ml": "0"}, "volume_after_ml", "Must be more than 0."),
        ({"concentration_mcg_per_ml": "3000"}, "concentration_mcg_per_ml", "check it and confirm"),
        ({"performed_at": "2026-04-10T09:30"}, "performed_at", "in the future"),
        ({"performed_at": "not a date"}, "performed_at", "Enter a valid date/time"),
        ({"manual_due_date": "2026-03-01"}, "manual_due_date", "must be after this refill"),
    ],
)
def test_bad_input_comes_back_beside_the_field(client, coordinator, program, overrides, field, message):
    patient = program["critical"]
    client.force_login(coordinator)
    response = client.post(reverse("refill_create", args=[patient.pk]), refill_form_data(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    block = html.split(f'id="field-{field}"')[1].split('<div class="field')[0]
    assert message in block
    assert 'aria-invalid="true"' in block
    assert Refill.objects.filter(pump__patient=patient).count() == 1


def test_confirmed_unusual_concentration_is_saved(client, coordinator, program):
    patient = program["critical"]
    client.force_login(coordinator)
    response = client.post(
        reverse("refill_create", args=[patient.pk]), refill_form_data(concentration_mcg_per_ml="3000", confirmed="on")
    )
    assert response.status_code == 302
