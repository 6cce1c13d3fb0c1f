"""Every dashboard form writes through its service; the service's refusals show beside the fields."""

import datetime as dt

import pytest
from django.urls import reverse

from registry.models import Complication, FollowUp, Goal, GoalReview, Patient, Pump, ScreeningTrial
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


def post(client, name, patient, data, *extra):
    return client.post(reverse(name, args=[patient.pk, *extra]), data)


def field_errors(response, field):
    html = response.content.decode()
    assert response.status_code == 200, response.status_code
    return html.split(f'id="field-{field}"')[1].split('<div class="field')[0]


def test_new_patient_and_duplicate_mrn(client, coordinator, program, site):
    client.force_login(coordinator)
    data = {
        "site": site.pk,
        "mrn": "NEW1",
        "given_name": "Noor",
        "family_name": "Newman",
        "date_of_birth": "2012-05-01",
        "sex": "female",
        "diagnosis": "cerebral_palsy",
        "primary_clinician": program["doctor"].pk,
    }
    response = client.post(reverse("patient_create"), data)
    patient = Patient.objects.get(mrn="NEW1")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert patient.indications.get().is_primary and patient.primary_clinician == program["doctor"]
    again = client.post(reverse("patient_create"), data).content.decode()
    assert "already registered at this site" in again and Patient.objects.filter(mrn="NEW1").count() == 1
    future = client.post(reverse("patient_create"), {**data, "mrn": "NEW2", "date_of_birth": "2030-01-01"})
    assert "cannot be in the future" in field_errors(future, "date_of_birth")


def test_status_change_allowed_and_refused(client, coordinator, program, site):
    client.force_login(coordinator)
    patient = make_patient(site, status_on=dt.date(2026, 3, 1))
    assert post(client, "status_change", patient, {"to_status": "evaluating", "reason": "Clinic"}).status_code == 302
    patient.refresh_from_db()
    assert patient.status == "evaluating"
    refused = post(client, "status_change", patient, {"to_status": "implanted"})
    assert "Select a valid choice" in field_errors(refused, "to_status")
    early = post(client, "status_change", patient, {"to_status": "screening", "on": "2026-01-01"})
    assert "before the current status began" in field_errors(early, "on")


def test_trial_implant_replace_explant(client, coordinator, program, site):
    client.force_login(coordinator)
    patient = make_patient(site, status="candidate", status_on=dt.date(2026, 1, 1))
    ok = post(
        client,
        "trial_create",
        patient,
        {"performed_on": "2026-01-10", "route": "lumbar_bolus", "test_dose_mcg": "50", "response": "positive"},
    )
    assert ok.status_code == 302 and ScreeningTrial.objects.filter(patient=patient).exists()
    bad = post(
        client,
        "trial_create",
        patient,
        {"performed_on": "2026-01-10", "route": "lumbar_bolus", "test_dose_mcg": "5000", "response": "positive"},
    )
    assert "At most 1000 mcg" in field_errors(bad, "test_dose_mcg")

    pump_data = {
        "implant_date": "2026-02-02",
        "manufacturer": "Medtronic",
        "model": "SynchroMed II",
        "reservoir_volume_ml": "40",
        "alarm_volume_ml": "45",
    }
    refused = post(client, "pump_implant", patient, pump_data)
    assert "below the reservoir volume" in field_errors(refused, "alarm_volume_ml")
    assert post(client, "pump_implant", patient, {**pump_data, "alarm_volume_ml": ""}).status_code == 302
    patient.refresh_from_db()
    assert patient.status == "implanted" and patient.active_pump.alarm_volume_ml == site.default_alarm_volume_ml

    early = post(client, "pump_replace", patient, {"implant_date": "2026-01-01", "reason": "ERI"})
    assert "before the pump it replaces" in field_errors(early, "implant_date")
    assert (
        post(
            client, "pump_replace", patient, {"implant_date": "2026-03-01", "reason": "ERI", "serial_number": "S2"}
        ).status_code
        == 302
    )
    assert Pump.objects.get(patient=patient, explant_date=None).serial_number == "S2"
    no_reason = post(client, "pump_explant", patient, {"explant_date": "2026-03-05", "reason": " "})
    assert "This field is required" in field_errors(no_reason, "reason")
    assert (
        post(client, "pump_explant", patient, {"explant_date": "2026-03-05", "reason": "Infection"}).status_code == 302
    )
    patient.refresh_from_db()
    assert patient.status == "explanted" and patient.next_refill_due is None
    assert client.get(reverse("refill_create", args=[patient.pk])).status_code == 404


def test_dose_change_moves_the_due_date(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["upcoming"]
    before = patient.next_refill_due
    response = post(
        client, "dose_change_create", patient, {"effective_at": "2026-03-09T10:00", "daily_dose_mcg": "800"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.next_refill_due < before
    unusual = post(
        client, "dose_change_create", patient, {"effective_at": "2026-03-09T11:00", "daily_dose_mcg": "2000"}
    )
    assert "check it and confirm" in field_errors(unusual, "daily_dose_mcg")


def test_follow_up_schedule_complete_cancel(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    assert post(client, "follow_up_create", patient, {"kind": "titration", "due_date": "2026-03-20"}).status_code == 302
    visit = FollowUp.objects.get(patient=patient, kind="titration")
    future = post(client, "follow_up_complete", patient, {"completed_on": "2026-04-01"}, visit.pk)
    assert "cannot be in the future" in field_errors(future, "completed_on")
    assert (
        post(
            client, "follow_up_complete", patient, {"completed_on": "2026-03-10", "outcome_notes": "Fine"}, visit.pk
        ).status_code
        == 302
    )
    visit.refresh_from_db()
    assert visit.status == "completed"
    refused = post(client, "follow_up_cancel", patient, {"reason": "x"}, visit.pk).content.decode()
    assert "A completed follow-up cannot be cancelled" in refused


def test_goal_review_and_complication(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    assert (
        post(
            client,
            "goal_create",
            patient,
            {
                "category": "sleep",
                "description": "Sleep through",
                "set_on": "2026-01-05",
                "baseline_score": "-1",
                "weight": "1",
            },
        ).status_code
        == 302
    )
    goal = Goal.objects.get(patient=patient)
    early = post(client, "goal_review", patient, {"reviewed_on": "2025-12-01", "score": "1"}, goal.pk)
    assert "before the goal was set" in field_errors(early, "reviewed_on")
    off_scale = post(client, "goal_review", patient, {"reviewed_on": "2026-03-01", "score": "3"}, goal.pk)
    assert "from -2 to +2" in field_errors(off_scale, "score")
    assert post(client, "goal_review", patient, {"reviewed_on": "2026-03-01", "score": "1"}, goal.pk).status_code == 302
    assert GoalReview.objects.get(goal=goal).score == 1
    backwards = post(
        client,
        "complication_create",
        patient,
        {"occurred_on": "2026-03-01", "kind": "infection", "severity": "mild", "resolved_on": "2026-02-01"},
    )
    assert "cannot be before the complication" in field_errors(backwards, "resolved_on")
    foreign = post(
        client,
        "complication_create",
        patient,
        {
            "occurred_on": "2026-03-01",
            "kind": "infection",
            "severity": "mild",
            "pump": program["critical"].active_pump.pk,
        },
    )
    assert "Select a valid choice" in field_errors(foreign, "pump")
    assert (
        post(
            client,
            "complication_create",
            patient,
            {"occurred_on": "2026-03-01", "kind": "infection", "severity": "mild"},
        ).status_code
        == 302
    )
    assert Complication.objects.filter(patient=patient).count() == 1


def test_complication_marked_resolved_from_the_patient_page(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    post(client, "complication_create", patient, {"occurred_on": "2026-03-01", "kind": "wound", "severity": "mild"})
    complication = Complication.objects.get(patient=patient)
    resolve_url = reverse("complication_resolve", args=[patient.pk, complication.pk])
    assert resolve_url in client.get(reverse("patient", args=[patient.pk])).content.decode()
    early = post(client, "complication_resolve", patient, {"resolved_on": "2026-02-01"}, complication.pk)
    assert "before the complication occurred" in field_errors(early, "resolved_on")
    future = post(client, "complication_resolve", patient, {"resolved_on": "2027-01-01"}, complication.pk)
    assert "cannot be in the future" in field_errors(future, "resolved_on")
    done = post(
        client, "complication_resolve", patient, {"resolved_on": "2026-03-05", "notes": "Healed"}, complication.pk
    )
    assert done.status_code == 302
    complication.refresh_from_db()
    assert complication.resolved_on == dt.date(2026, 3, 5) and "Healed" in complication.notes
    assert resolve_url not in client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert (
        post(client, "complication_resolve", patient, {"resolved_on": "2026-03-06"}, complication.pk).status_code == 404
    )
