"""A new patient's refills and dose changes checked in memory (the import) meet the rules of typed
entry: the same records refused with the same words, the same facts kept, the same stored schedule."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from registry import services
from registry.models import DoseChange, Patient, Pump, Refill, Site
from registry.services.new_patients import NewPatient, write_new_patients
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


def batched(site, history, by, *, replaced_by: D | None = None) -> tuple[Patient, Pump, list]:
    """The twin registered with the same pump and history at once: checked in memory, then written.
    ``replaced_by``: its pump, after the history, replaced on that day, and the pump returned is the new one."""
    new = NewPatient(Site.objects.get(pk=site.pk), by=by)  # as the import reads it: 1500.00, not 1500
    new.register(
        mrn="NEW-1",
        given_name="Alex",
        family_name="Example",
        date_of_birth=D(2010, 3, 1),
        status="candidate",
        status_on=D(2025, 5, 3),
    )
    pump = new.implant(implant_date=D(2025, 6, 2), reservoir_volume_ml=Decimal("40"), alarm_volume_ml=Decimal("2"))
    outcomes = []
    for kind, values in history:
        check = new.refill if kind == "refill" else new.dose_change
        try:
            check(pump=pump, **values)
            outcomes.append(None)
        except ValidationError as error:
            outcomes.append(error.message_dict)
    if replaced_by:
        pump = new.replace(pump=pump, implant_date=replaced_by, reason="Battery", serial_number="NEW-S")
    new.finish()
    write_new_patients([new], by=by)
    return Patient.objects.get(pk=new.patient.pk), pump, outcomes


@pytest.fixture
def site(db):
    return SiteFactory(time_zone="Europe/London")


def test_a_batch_refuses_the_records_typed_entry_refuses_in_the_same_words(site):
    one, one_pump = make_implanted(site, implant_date=D(2025, 6, 2))
    user = UserFactory()
    by_hand = typed(one_pump, HISTORY, user)
    _, _, in_batch = batched(site, HISTORY, user)

    assert in_batch == by_hand
    refused = [i for i, outcome in enumerate(by_hand) if outcome]
    assert refused == [3, 5, 6, 7, 8, 9, 10, 11, 12, 15]
    assert "before the latest refill" in by_hand[3]["performed_at"][0]
    assert "holds at most 40" in by_hand[5]["volume_after_ml"][0]
    assert "unusual: check it and confirm" in by_hand[6]["daily_dose_mcg"][0]
    assert "already recorded at this date and time" in by_hand[7]["__all__"][0]
    assert "already recorded at this date and time" in by_hand[8]["__all__"][0]


def test_a_batch_keeps_the_facts_history_and_schedule_of_typed_entry(site):
    one, one_pump = make_implanted(site, implant_date=D(2025, 6, 2))
    user = UserFactory()
    typed(one_pump, HISTORY, user)
    other, other_pump, _ = batched(site, HISTORY, user)

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
    # Written in bulk (COPY on PostgreSQL): the stamps and one history row each, as a save leaves them.
    assert other.created_at is not None and other.updated_at is not None
    created = other.history.get()
    assert (created.history_type, created.history_user_id, created.status) == ("+", user.pk, "implanted")
    assert other_pump.history.get().history_type == "+"

    one.refresh_from_db()
    stored = {f: getattr(other, f) for f in SCHEDULE}
    assert stored == {f: getattr(one, f) for f in SCHEDULE}
    assert stored["last_refill_at"] == at(D(2026, 4, 2), 9)
    services.recompute_schedule(other)
    other.refresh_from_db()
    assert {f: getattr(other, f) for f in SCHEDULE} == stored
    assert list(other.status_changes.values_list("to_status", flat=True)) == list(
        one.status_changes.values_list("to_status", flat=True)
    )


def test_a_replacement_pump_without_a_fill_keeps_the_replaced_pumps_due_date_if_earlier(site):
    one, one_pump = make_implanted(site, implant_date=D(2025, 6, 2))
    history = [refill(D(2025, 7, 1))]
    typed(one_pump, history, None)
    services.replace_pump(pump=one_pump, implant_date=D(2025, 9, 1), reason="Battery", serial_number="OLD-S")
    other, new_pump, _ = batched(site, history, None, replaced_by=D(2025, 9, 1))
    one.refresh_from_db()

    assert new_pump.replaces.explant_date == D(2025, 9, 1)
    assert {f: getattr(other, f) for f in SCHEDULE} == {f: getattr(one, f) for f in SCHEDULE}
    assert other.refill_due_basis == "needs_attention" and other.next_refill_due < D(2025, 10, 1)
