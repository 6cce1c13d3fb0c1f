"""The dashboard's follow-up and complication forms refuse dates that cannot be, beside the field."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import Complication, FollowUp
from tests.dashboard.conftest import TODAY

pytestmark = pytest.mark.django_db


def field_block(response, field):
    assert response.status_code == 200, response.status_code
    return response.content.decode().split(f'id="field-{field}"')[1].split('<div class="field')[0]


def test_a_follow_up_is_booked_on_an_open_day_to_come_and_once(client, coordinator, program):
    patient = program["due"]  # today is Tuesday 10 March 2026
    client.force_login(coordinator)
    url = reverse("follow_up_create", args=[patient.pk])
    past = client.post(url, {"kind": "titration", "due_date": "2026-03-09"})
    assert "cannot be due in the past" in field_block(past, "due_date")
    sunday = client.post(url, {"kind": "titration", "due_date": "2026-03-15"})
    assert "The clinic is closed on Sunday 15 March 2026" in field_block(sunday, "due_date")
    assert client.post(url, {"kind": "titration", "due_date": "2026-03-10"}).status_code == 302
    twice = client.post(url, {"kind": "titration", "due_date": "2026-03-10"})
    assert "A titration is already booked for this patient on 10 Mar 2026." in field_block(twice, "due_date")
    assert FollowUp.objects.filter(patient=patient, kind="titration").count() == 1


def test_a_follow_up_completed_twice_keeps_its_first_date(client, coordinator, program):
    patient = program["due"]
    visit = services.schedule_follow_up(patient=patient, kind="titration", due_date=TODAY)
    client.force_login(coordinator)
    url = reverse("follow_up_complete", args=[patient.pk, visit.pk])
    assert client.post(url, {"completed_on": "2026-03-10"}).status_code == 302
    again = client.post(url, {"completed_on": "2026-03-09"})
    assert "already completed on 10 Mar 2026" in field_block(again, "completed_on")
    visit.refresh_from_db()
    assert str(visit.completed_on) == "2026-03-10"


def test_a_complication_is_not_dated_before_its_pump(client, coordinator, program):
    patient = program["due"]  # pump implanted 2 June 2025
    client.force_login(coordinator)
    response = client.post(
        reverse("complication_create", args=[patient.pk]),
        {"occurred_on": "2025-05-01", "kind": "wound", "severity": "mild", "pump": patient.active_pump.pk},
    )
    assert "before the implant of the pump it concerns (2 Jun 2025)" in field_block(response, "occurred_on")
    assert not Complication.objects.filter(patient=patient).exists()
