"""Fixtures of the FHIR tests: the API's users and token clients, and a patient with every kind of record."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from fhir.resources.R4B import get_fhir_model_class

from registry import services
from registry.models import FollowUp, Goal, Patient, Pump
from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    _fresh_throttle,
    admin_api,
    api,
    clinician,
    elsewhere,
    implanted,
    nobody,
    reporter,
    token_client,
)
from tests.factories import at, make_patient

FHIR_JSON = "application/fhir+json"


def validated(resource: dict):
    """The resource parsed by fhir.resources' R4B models, which refuse unknown or mistyped elements."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def entries(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", [])]


@dataclass
class FullRecord:
    patient: Patient
    first_pump: Pump
    second_pump: Pump
    goal: Goal
    booked: FollowUp


def full_record(site, mrn="FULL-1") -> FullRecord:
    """A patient with one of every record the FHIR interface maps.

    Trial with Ashworth scores; two indications; a pump refilled, its dose changed, replaced; the
    replacement refilled and explanted; a goal with two GAS reviews; visits in every status.
    """
    patient = make_patient(
        site, mrn=mrn, given_name="Ada", family_name="Fullrecord", sex="female", status="candidate",
        status_on=dt.date(2018, 2, 1), dob=dt.date(2008, 5, 17),
    )  # fmt: skip
    services.record_screening_trial(
        patient=patient, performed_on=dt.date(2018, 1, 20), test_dose_mcg=D("50"), response="positive",
        ashworth_before="3", ashworth_after="1+",
    )  # fmt: skip
    services.add_indication(
        patient=patient, diagnosis="cerebral_palsy", icd10_code="G80.0", tone_type="mixed",
        distribution="quadriplegia", gmfcs_level=4, is_primary=True, notes="Spastic quadriplegic CP",
    )  # fmt: skip
    services.add_indication(patient=patient, diagnosis="dystonia_secondary", tone_type="dystonic")
    first = services.implant_pump(
        patient=patient, implant_date=dt.date(2018, 3, 5), reservoir_volume_ml=D("40"), alarm_volume_ml=D("2"),
        serial_number=f"{mrn}-P1", catheter_tip_level="T10", catheter_notes="Tip at T10 on X-ray",
        eri_date=dt.date(2025, 3, 5),
    )  # fmt: skip
    services.record_refill(
        pump=first, performed_at=at(dt.date(2018, 3, 5), 14), volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("500"), daily_dose_mcg=D("100"), notes="First fill",
    )  # fmt: skip
    services.record_dose_change(
        pump=first, effective_at=at(dt.date(2018, 3, 20), 9), daily_dose_mcg=D("125.5"), notes="Titration"
    )
    services.record_refill(
        pump=first, performed_at=at(dt.date(2018, 6, 1), 10, 30), volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("1000"), daily_dose_mcg=D("150"), volume_removed_ml=D("12.5"),
        expected_residual_ml=D("12"), programmer_alarm_date=dt.date(2018, 11, 20),
    )  # fmt: skip
    second = services.replace_pump(pump=first, implant_date=dt.date(2018, 9, 3), serial_number=f"{mrn}-P2")
    services.record_refill(
        pump=second, performed_at=at(dt.date(2018, 9, 3), 15), volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"), daily_dose_mcg=D("200"),
    )  # fmt: skip
    services.explant_pump(pump=second, explant_date=dt.date(2019, 1, 10), reason="Pocket infection")
    goal = services.set_goal(
        patient=patient, category="sleep", description="Sleeps through the night", set_on=dt.date(2018, 3, 1),
        baseline_score=-2, expected_outcome="Wakes at most once", weight=2,
    )  # fmt: skip
    services.review_goal(goal=goal, reviewed_on=dt.date(2018, 6, 1), score=-1)
    services.review_goal(goal=goal, reviewed_on=dt.date(2018, 9, 1), score=1, notes="Better than expected")
    booked = services.schedule_follow_up(
        patient=patient, kind="clinic_review", due_date=dt.date(2027, 2, 1), scheduled_at=at(dt.date(2027, 2, 1), 9)
    )
    services.schedule_follow_up(patient=patient, kind="annual_review", due_date=dt.date(2027, 3, 1))
    done = services.schedule_follow_up(patient=patient, kind="post_op", due_date=dt.date(2018, 3, 19))
    services.complete_follow_up(follow_up=done, completed_on=dt.date(2018, 3, 20), outcome_notes="Wound healed")
    dropped = services.schedule_follow_up(patient=patient, kind="titration", due_date=dt.date(2018, 4, 2))
    services.cancel_follow_up(follow_up=dropped, reason="Family moved the visit")
    services.schedule_follow_up(patient=patient, kind="goal_review", due_date=dt.date(2018, 5, 1))
    services.mark_missed_follow_ups(site=site, today=dt.date(2018, 6, 1))
    patient.refresh_from_db()
    return FullRecord(patient, Pump.objects.get(pk=first.pk), Pump.objects.get(pk=second.pk), goal, booked)


@pytest.fixture
def record(site):
    return full_record(site)
