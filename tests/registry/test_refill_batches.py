"""A patient's refills and dose changes recorded as a batch (the import) meet the rules of typed entry:
the same records refused with the same words, the same facts kept, the same stored schedule."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from registry import services
from registry.models import DoseChange, Patient, Refill
from tests.factories import SiteFactory, UserFactory, at, make_implanted

pytestmark = pytest.mark.django_db

D = dt.date
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SCHEDULE = ("next_refill_due", "alarm_date", "empty_date", "refill_due_basis", "last_refill_at", "schedule_attention")
FACTS = ("performed_at", "performed_on", "interval_days", "timeliness", "due_date_at_refill", "residual_discrepancy")


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(NOW, tick=False):
        yield


def refill(day: D, hour: int = 10, **values) -> tuple:
    plain = {"volume_after_ml": Decimal("40"), "concentration_mcg_per_ml": Decimal("500")}
    return "refill", {"performed_at": at(day, hour), "daily_dose_mcg": Decimal("100"), **plain, **values}


def dose(day: D, mcg: str, hour: int = 12, **values) -> tuple:
    return "dose", {"effective_at": at(day, hour), "daily_dose_mcg": Decimal(mcg), **values}


# A history with a mistake of every kind the refill and dose-change rules refuse, in entry order.
HISTORY = [
    refill(D(2025, 7, 1), volume_removed_ml=Decimal("0"), expected_residual_ml=Decimal("0")),
    dose(D(2025, 8, 1), "120"),
    refill(D(2025, 10, 1), volume_removed_ml=Decimal("9"), expected_residual_ml=Decimal("2")),
    refill(D(2025, 9, 1)),  # before the latest refill, not confirmed
    refill(D(2025, 9, 1), confirmed=True),  # the same, confirmed: between two refills
    refill(D(2026, 1, 5), volume_after_ml=Decimal("45")),  # more than the reservoir holds
    refill(D(2026, 1, 5), daily_dose_mcg=Decimal("1800")),  # an implausible dose, not confirmed
    refill(D(2025, 10, 1), confirmed=True),  # the same instant as a refill already recorded
    dose(D(2025, 8, 1), "130"),  # the same instant as a dose change already recorded
    dose(D(2025, 11, 1), "1700"),  # an implausible dose, not confirmed
    refill(D(2027, 1, 1)),  # in the future
    refill(D(2025, 5, 1)),  # before the pump's implant
    refill(D(2026, 1, 5), programmer_alarm_date=D(2026, 1, 1)),  # an alarm date before the refill
    refill(D(2026, 1, 5)),
    dose(D(2026, 2, 1), "90"),
    refill(D(2026, 4, 2), concentration_mcg_per_ml=Decimal("2500")),  # an unusual concentration
    refill(D(2026, 4, 2), hour=9, concentration_mcg_per_ml=Decimal("1000")),
]


def typed(pump, history, by) -> list:
    """Each record through the service a form calls, in its own savepoint: its refusal, or None."""
    outcomes = []
    for kind, values in history:
        service = services.record_refill if kind == "refill" else services.record_dose_change
        try:
            with transaction.atomic():
                service(pump=pump, by=by, **values)
            outcomes.append(None)
        except ValidationError as error:
            outcomes.append(error.message_dict)
    return outcomes


def batched(patient, pump, history, by) -> list:
    batch = services.PumpRecordBatch(patient, by=by)
    outcomes = []
    for kind, values in history:
        check = batch.refill if kind == "refill" else batch.dose_change
        try:
            check(pump=pump, **values)
            outcomes.append(None)
        except ValidationError as error:
            outcomes.append(error.message_dict)
    batch.save()
    return outcomes


@pytest.fixture
def twins(db):
    site = SiteFactory(time_zone="Europe/London")
    return make_implanted(site, implant_date=D(2025, 6, 2)), make_implanted(site, implant_date=D(2025, 6, 2))


def test_a_batch_refuses_the_records_typed_entry_refuses_in_the_same_words(twins):
    (one, one_pump), (other, other_pump) = twins
    user = UserFactory()
    by_hand = typed(one_pump, HISTORY, user)
    in_batch = batched(other, other_pump, HISTORY, user)

    assert in_batch == by_hand
    refused = [i for i, outcome in enumerate(by_hand) if outcome]
    assert refused == [3, 5, 6, 7, 8, 9, 10, 11, 12, 15]
    assert "before the latest refill" in by_hand[3]["performed_at"][0]
    assert "holds at most 40" in by_hand[5]["volume_after_ml"][0]
    assert "unusual: check it and confirm" in by_hand[6]["daily_dose_mcg"][0]
    assert "already recorded at this date and time" in by_hand[7]["__all__"][0]
    assert "already recorded at this date and time" in by_hand[8]["__all__"][0]


def test_a_batch_keeps_the_facts_history_and_schedule_of_typed_entry(twins):
    (one, one_pump), (other, other_pump) = twins
    user = UserFactory()
    typed(one_pump, HISTORY, user)
    batched(other, other_pump, HISTORY, user)

    def facts(pump):
        return [tuple(getattr(r, f) for f in FACTS) for r in Refill.objects.filter(pump=pump).order_by("performed_at")]

    assert facts(other_pump) == facts(one_pump)
    assert len(facts(other_pump)) == 5
    # The confirmed refill recorded between two others: the later one's interval starts at it.
    assert [f[2] for f in facts(other_pump)] == [None, 62, 30, 96, 87]
    assert list(DoseChange.objects.filter(pump=other_pump).values_list("effective_at", "daily_dose_mcg")) == list(
        DoseChange.objects.filter(pump=one_pump).values_list("effective_at", "daily_dose_mcg")
    )
    for record in [*Refill.objects.filter(pump=other_pump), *DoseChange.objects.filter(pump=other_pump)]:
        assert [h.history_user_id for h in record.history.all()][-1] == user.pk

    one.refresh_from_db()
    other.refresh_from_db()
    stored = {f: getattr(other, f) for f in SCHEDULE}
    assert stored == {f: getattr(one, f) for f in SCHEDULE}
    assert stored["last_refill_at"] == at(D(2026, 4, 2), 9)
    services.recompute_schedule(Patient.objects.get(pk=other.pk))
    other.refresh_from_db()
    assert {f: getattr(other, f) for f in SCHEDULE} == stored


def test_a_batch_for_a_replacement_pump_reads_the_replaced_pumps_last_refill(twins):
    (one, one_pump), (other, other_pump) = twins
    pumps = []
    for patient, pump in ((one, one_pump), (other, other_pump)):
        services.record_refill(pump=pump, **refill(D(2025, 7, 1))[1])
        new = services.replace_pump(
            pump=pump, implant_date=D(2025, 9, 1), reason="Battery", serial_number=f"NEW-{patient.pk}"
        )
        pumps.append(new)
    typed(pumps[0], [refill(D(2025, 9, 20))], None)
    batched(Patient.objects.get(pk=other.pk), pumps[1], [refill(D(2025, 9, 20))], None)
    first, second = (Refill.objects.get(pump=p) for p in pumps)
    assert (second.interval_days, second.timeliness, second.due_date_at_refill) == (
        first.interval_days,
        first.timeliness,
        first.due_date_at_refill,
    )
    assert second.interval_days == 81 and second.due_date_at_refill is not None
