"""Dates that cannot be: a birth after the implant, a visit booked in the past, on a closed day or twice,
a visit completed twice, a complication before its pump was implanted. Each is a 400 in words."""

import datetime as dt

import pytest
import time_machine

from registry.models import ClosedDay, Complication, FollowUp

pytestmark = pytest.mark.django_db
# A Tuesday.
NOW = dt.datetime(2025, 9, 2, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_date_of_birth_cannot_move_after_the_implant(api, implanted):
    patient, _, _ = implanted
    response = api.patch(f"/api/v1/patients/{patient.pk}/", {"date_of_birth": "2025-06-03"}, format="json")
    assert response.status_code == 400
    assert response.json()["date_of_birth"] == ["The date of birth cannot be after the pump implant (2025-06-02)."]


@pytest.mark.parametrize(
    ("due_date", "message"),
    [
        ("2025-09-01", "A new follow-up cannot be due in the past."),
        ("2025-09-06", "The clinic is closed on Saturday 6 September 2025: choose a day it is open."),
        ("2025-09-08", "The clinic is closed on Monday 8 September 2025: choose a day it is open."),
    ],
)
def test_a_follow_up_is_booked_on_a_day_to_come_when_the_clinic_is_open(api, implanted, site, due_date, message):
    patient, _, _ = implanted
    ClosedDay.objects.create(site=site, date=dt.date(2025, 9, 8), reason="Bank holiday")
    body = {"patient": patient.pk, "kind": "clinic_review", "due_date": due_date}
    response = api.post("/api/v1/follow-ups/", body, format="json")
    assert response.status_code == 400 and response.json()["due_date"] == [message]
    assert not FollowUp.objects.exists()


def test_the_same_visit_is_not_booked_twice(api, implanted):
    patient, _, _ = implanted
    body = {"patient": patient.pk, "kind": "clinic_review", "due_date": "2025-09-09"}
    assert api.post("/api/v1/follow-ups/", body, format="json").status_code == 201
    again = api.post("/api/v1/follow-ups/", body, format="json")
    assert again.status_code == 400
    assert again.json()["due_date"] == ["A clinic review is already booked for this patient on 9 Sep 2025."]
    other_kind = api.post("/api/v1/follow-ups/", {**body, "kind": "titration"}, format="json")
    assert other_kind.status_code == 201


def test_a_visit_is_completed_once_and_keeps_its_first_completion(api, implanted):
    patient, _, _ = implanted
    body = {"patient": patient.pk, "kind": "clinic_review", "due_date": "2025-09-02"}
    visit = api.post("/api/v1/follow-ups/", body, format="json").json()["id"]
    first = api.post(f"/api/v1/follow-ups/{visit}/complete/", {"completed_on": "2025-09-02"}, format="json")
    assert first.status_code == 200
    second = api.post(f"/api/v1/follow-ups/{visit}/complete/", {"completed_on": "2025-09-01"}, format="json")
    assert second.status_code == 400
    assert second.json()["completed_on"] == ["This follow-up was already completed on 2 Sep 2025."]
    assert FollowUp.objects.get(pk=visit).completed_on == dt.date(2025, 9, 2)


def test_a_complication_is_not_dated_before_its_pump_was_implanted(api, implanted):
    patient, pump, _ = implanted
    body = {"patient": patient.pk, "pump": pump.pk, "occurred_on": "2025-06-01", "kind": "wound"}
    response = api.post("/api/v1/complications/", body, format="json")
    assert response.status_code == 400
    assert response.json()["occurred_on"] == ["This is before the implant of the pump it concerns (2 Jun 2025)."]
    assert api.post("/api/v1/complications/", {**body, "pump": None}, format="json").status_code == 201
    assert Complication.objects.get().pump is None
