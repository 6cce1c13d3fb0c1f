"""Invariants held by the database itself, even when code bypasses the services."""

import datetime as dt
import importlib
from decimal import Decimal as D

import pytest
import time_machine
from django.db import IntegrityError, transaction

from registry.models import TRANSITION_PAIRS, DoseChange, Goal, GoalReview, Patient, Pump, Refill, StatusChange
from tests.factories import at, make_implanted, make_patient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


@pytest.fixture
def implanted(site):
    with time_machine.travel(NOW, tick=False):
        return make_implanted(site)


def test_pump_volumes_and_one_active_pump(implanted):
    patient, pump = implanted
    refused(lambda: Pump.objects.filter(pk=pump.pk).update(alarm_volume_ml=D("40")))
    refused(lambda: Pump.objects.filter(pk=pump.pk).update(reservoir_volume_ml=D("0")))
    refused(lambda: Pump.objects.create(patient=patient, implant_date=dt.date(2025, 7, 1), reservoir_volume_ml=40))
    refused(lambda: Pump.objects.filter(pk=pump.pk).update(explant_date=dt.date(2025, 1, 1)))


def test_refill_invariants(implanted):
    _, pump = implanted
    good = {"pump": pump, "concentration_mcg_per_ml": D("2000"), "daily_dose_mcg": D("400")}
    refused(lambda: Refill.objects.create(performed_at=at(dt.date(2025, 7, 1)), volume_after_ml=D("40.5"), **good))
    refused(lambda: Refill.objects.create(performed_at=at(dt.date(2025, 7, 1)), volume_after_ml=D("0"), **good))
    refused(lambda: Refill.objects.create(performed_at=at(dt.date(2025, 5, 1)), volume_after_ml=D("20"), **good))
    refused(
        lambda: Refill.objects.create(
            pump=pump,
            performed_at=at(dt.date(2025, 7, 1)),
            volume_after_ml=D("20"),
            concentration_mcg_per_ml=D("3500"),
            daily_dose_mcg=D("400"),
        )
    )
    refill = Refill.objects.create(performed_at=at(dt.date(2025, 7, 1)), volume_after_ml=D("20"), **good)
    refused(lambda: Refill.objects.filter(pk=refill.pk).update(volume_after_ml=D("45")))
    refused(lambda: Refill.objects.filter(pk=refill.pk).update(daily_dose_mcg=D("0")))
    # The pump cannot shrink below a recorded refill, nor be implanted after it.
    refused(lambda: Pump.objects.filter(pk=pump.pk).update(reservoir_volume_ml=D("18")))
    refused(lambda: Pump.objects.filter(pk=pump.pk).update(implant_date=dt.date(2025, 8, 1)))


def test_status_transitions_are_guarded_by_the_database(site):
    with time_machine.travel(NOW, tick=False):
        patient = make_patient(site)
    refused(lambda: Patient.objects.filter(pk=patient.pk).update(status="implanted"))
    refused(lambda: Patient.objects.filter(pk=patient.pk).update(status="nonsense"))
    Patient.objects.filter(pk=patient.pk).update(status="evaluating")  # allowed
    refused(
        lambda: StatusChange.objects.create(
            patient=patient, from_status="referred", to_status="implanted", changed_on=dt.date(2026, 1, 1)
        )
    )


def test_mrn_unique_within_site(site):
    with time_machine.travel(NOW, tick=False):
        patient = make_patient(site, mrn="X1")
    refused(
        lambda: Patient.objects.create(
            site=site, mrn="X1", given_name="A", family_name="B", date_of_birth=dt.date(2000, 1, 1)
        )
    )
    refused(lambda: Patient.objects.filter(pk=patient.pk).update(mrn=""))


def test_goal_scores(site):
    with time_machine.travel(NOW, tick=False):
        patient = make_patient(site)
    goal = Goal.objects.create(patient=patient, category="comfort", description="x", set_on=dt.date(2025, 1, 1))
    refused(lambda: GoalReview.objects.create(goal=goal, reviewed_on=dt.date(2025, 6, 1), score=3))


def test_trigger_transition_list_matches_the_model():
    migration = importlib.import_module("registry.migrations.0002_integrity_triggers")
    assert sorted(migration.PAIRS) == TRANSITION_PAIRS, "ALLOWED_TRANSITIONS changed: write a migration"


def test_a_dose_change_cannot_be_moved_before_the_implant_on_either_database(implanted):
    _, pump = implanted
    change = DoseChange.objects.create(pump=pump, effective_at=at(dt.date(2025, 7, 1)), daily_dose_mcg=D("300"))
    refused(lambda: DoseChange.objects.create(pump=pump, effective_at=at(dt.date(2025, 5, 1)), daily_dose_mcg=D("300")))
    refused(lambda: DoseChange.objects.filter(pk=change.pk).update(effective_at=at(dt.date(2025, 5, 1))))
    DoseChange.objects.filter(pk=change.pk).update(effective_at=at(dt.date(2025, 6, 3)))
