"""A refill or dose change entered in error: kept with its reason, left out of every read, and the
schedule worked out again without it."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from registry import selectors, services
from registry.models import DoseChange, Patient, Refill
from tests.dashboard.conftest import NOW, refilled
from tests.factories import UserFactory, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def refill(pump, day, volume="40"):
    return services.record_refill(
        pump=pump,
        performed_at=at(day),
        volume_after_ml=D(volume),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )


def test_a_refill_entered_in_error_is_kept_and_the_schedule_goes_back(frozen, site):
    nurse = UserFactory(username="nurse", role="coordinator", role__sites=[site])
    patient, pump = refilled(site, "Fixme", dt.date(2025, 9, 15))
    before = (patient.next_refill_due, patient.alarm_date)
    wrong = refill(pump, dt.date(2026, 3, 2), volume="10")  # the wrong patient's refill
    patient.refresh_from_db()
    assert patient.next_refill_due != before[0]
    with pytest.raises(ValidationError, match="what was wrong"):
        services.mark_refill_entered_in_error(refill=wrong, reason="  ", by=nurse)
    services.mark_refill_entered_in_error(refill=wrong, reason="Recorded on the wrong patient", by=nurse)
    patient.refresh_from_db()
    assert (patient.next_refill_due, patient.alarm_date) == before
    assert not Refill.objects.filter(pk=wrong.pk).exists()  # left out of every read ...
    kept = Refill.all_objects.get(pk=wrong.pk)  # ... but never deleted
    assert kept.entered_in_error and kept.error_reason == "Recorded on the wrong patient"
    assert kept.error_marked_by == nurse
    assert kept.history.first().history_user == nurse
    timeline = selectors.patient_timeline(Patient.objects.get(pk=patient.pk))
    (event,) = [e for e in timeline if e.record_id == wrong.pk and e.kind == "refill"]
    assert event.entered_in_error and "Recorded on the wrong patient" in event.detail
    with pytest.raises(ValidationError, match="already marked"):
        services.mark_refill_entered_in_error(refill=kept, reason="again", by=nurse)


def test_the_next_refill_is_dated_against_the_one_before_the_mistake(frozen, site):
    patient, pump = refilled(site, "Chain", dt.date(2025, 9, 1))
    wrong = refill(pump, dt.date(2025, 12, 1))
    last = refill(pump, dt.date(2026, 3, 2))
    assert Refill.objects.get(pk=last.pk).interval_days == 91
    services.mark_refill_entered_in_error(refill=wrong, reason="Duplicate entry")
    last.refresh_from_db()
    assert last.interval_days == (dt.date(2026, 3, 2) - dt.date(2025, 9, 1)).days
    assert last.due_date_at_refill is not None and last.due_date_at_refill < dt.date(2026, 3, 2)
    assert last.timeliness == Refill.Timeliness.LATE


def test_a_corrected_refill_may_be_entered_again_at_the_same_time(frozen, site):
    patient, pump = refilled(site, "Again", dt.date(2025, 9, 15))
    wrong = refill(pump, dt.date(2026, 3, 2), volume="10")
    services.mark_refill_entered_in_error(refill=wrong, reason="Volume mistyped")
    refill(pump, dt.date(2026, 3, 2), volume="40")
    assert Refill.all_objects.filter(pump=pump, performed_at=wrong.performed_at).count() == 2


def test_a_dose_change_entered_in_error(frozen, site):
    patient, pump = refilled(site, "Dose", dt.date(2026, 1, 5))
    before = patient.alarm_date
    change = services.record_dose_change(pump=pump, effective_at=at(dt.date(2026, 2, 1)), daily_dose_mcg=D("800"))
    patient.refresh_from_db()
    assert patient.alarm_date < before
    services.mark_dose_change_entered_in_error(change=change, reason="Planned, never programmed")
    patient.refresh_from_db()
    assert patient.alarm_date == before
    assert DoseChange.all_objects.get(pk=change.pk).entered_in_error
