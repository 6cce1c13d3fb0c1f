"""Refill visits: booking rules, closing by a refill, no-shows back at the top of the worklist."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from registry import selectors, services
from registry.models import FollowUp, RefillAppointment
from tests import oracle
from tests.dashboard.conftest import NOW, refilled
from tests.factories import at

pytestmark = pytest.mark.django_db
Booking = RefillAppointment.Status


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def due(frozen, site):
    """Refilled 15 Sep 2025 (40 mL, 190 days to the alarm): due Fri 13 Mar 2026, alarm 24 Mar 2026."""
    patient, pump = refilled(site, "Duesoon", dt.date(2025, 9, 15))
    assert (patient.next_refill_due, patient.alarm_date) == (dt.date(2026, 3, 13), dt.date(2026, 3, 24))
    return patient, pump


def book(patient, day, hour=10, **kwargs):
    return services.book_refill_visit(patient=patient, site=patient.site, starts_at=at(day, hour), **kwargs)


def messages(error: ValidationError) -> str:
    return " ".join(m for ms in error.message_dict.values() for m in ms)


def test_booking_rules(due):
    patient, _ = due
    with pytest.raises(ValidationError, match="in the past"):
        book(patient, dt.date(2026, 3, 9))
    with pytest.raises(ValidationError) as closed:
        book(patient, dt.date(2026, 3, 14))  # a Saturday
    assert "closed on Saturday 14 Mar 2026" in messages(closed.value)
    with pytest.raises(ValidationError) as late:
        book(patient, dt.date(2026, 3, 24))
    assert "alarm date (24 Mar 2026)" in messages(late.value)
    assert not RefillAppointment.objects.exists()
    visit = book(patient, dt.date(2026, 3, 24), confirmed=True)
    assert (visit.status, visit.starts_on) == (Booking.BOOKED, dt.date(2026, 3, 24))
    with pytest.raises(ValidationError, match="already booked"):
        book(patient, dt.date(2026, 3, 12))


def test_a_recorded_refill_closes_the_booking(due):
    patient, pump = due
    visit = book(patient, dt.date(2026, 3, 12))
    refill = services.record_refill(
        pump=pump,
        performed_at=NOW,
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )
    visit.refresh_from_db()
    assert (visit.status, visit.refill) == (Booking.ATTENDED, refill)


def test_a_refill_from_before_the_booking_entered_late_leaves_it_open(due):
    patient, pump = due
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        visit = book(patient, dt.date(2026, 3, 12))
    services.record_refill(
        pump=pump,
        performed_at=NOW,
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )
    visit.refresh_from_db()
    assert visit.status == Booking.BOOKED


def page_rows(**kwargs):
    today = dt.datetime.now(dt.UTC).date()
    page = selectors.worklist_page(start=today, end=today + dt.timedelta(days=30), **kwargs)
    return [(i.kind, i.status, i.patient.family_name) for i in page.items], page


def test_a_missed_visit_comes_back_at_the_top_until_it_is_rebooked(due, site):
    patient, _ = due
    critical, _ = refilled(site, "Critical", dt.date(2025, 8, 1))
    upcoming, _ = refilled(site, "Later", dt.date(2025, 10, 20))  # due in April: out of the window
    visit = book(patient, dt.date(2026, 3, 11))
    book(upcoming, dt.date(2026, 3, 11))
    rows, _ = page_rows()
    assert ("refill", "due", "Duesoon") in rows and "Later" not in {r[2] for r in rows}
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):  # Thursday 12 March
        rows, page = page_rows()
        assert rows[:3] == [
            ("refill", "critical", "Critical"),
            ("refill", "no_show", "Duesoon"),
            ("refill", "no_show", "Later"),  # listed though due after the window: the family must be called
        ]
        assert [r[2] for r in rows].count("Duesoon") == 1
        assert page.total == len(rows)
        no_show = page.items[1]
        assert no_show.target_id == visit.pk and "booked 11 Mar 2026 10:00" in no_show.reason
        # The Python worklist says the same.
        full = oracle.worklist(start=dt.date(2026, 3, 12), end=dt.date(2026, 4, 11))
        assert [(i.kind, i.status, i.patient.family_name) for i in full][:3] == rows[:3]
        moved = services.move_refill_visit(visit=visit, starts_at=at(dt.date(2026, 3, 12), 15))
        visit.refresh_from_db()
        assert visit.status == Booking.NO_SHOW and moved.pk != visit.pk and moved.status == Booking.BOOKED
        rows, page = page_rows()
        assert ("refill", "due", "Duesoon") in rows and ("refill", "no_show", "Duesoon") not in rows
        assert page.items[[r[2] for r in rows].index("Duesoon")].booking["label"] == "Thu 12 Mar 2026, 15:00"


def test_the_worklist_row_flags_a_booking_after_the_due_date(due):
    patient, _ = due
    book(patient, dt.date(2026, 3, 17))
    _, page = page_rows()
    (item,) = [i for i in page.items if i.patient.pk == patient.pk]
    assert item.booking["after_due"] and not item.booking["after_alarm"]


def test_moving_and_cancelling(due):
    patient, _ = due
    visit = book(patient, dt.date(2026, 3, 11))
    moved = services.move_refill_visit(visit=visit, starts_at=at(dt.date(2026, 3, 12), 14))
    assert moved.pk == visit.pk and moved.starts_on == dt.date(2026, 3, 12)
    assert visit.history.count() == 2  # the old time is kept in the history
    with pytest.raises(ValidationError, match="why"):
        services.cancel_refill_visit(visit=visit, reason=" ")
    services.cancel_refill_visit(visit=visit, reason="Family on holiday")
    visit.refresh_from_db()
    assert (visit.status, visit.cancel_reason) == (Booking.CANCELLED, "Family on holiday")
    with pytest.raises(ValidationError, match="no longer booked"):
        services.move_refill_visit(visit=visit, starts_at=at(dt.date(2026, 3, 13)))


def test_a_missed_follow_up_is_rescheduled(frozen, site):
    patient, _ = refilled(site, "Visit", dt.date(2026, 1, 5))
    visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 2, 20))
    services.mark_missed_follow_ups(site=site, today=NOW.date())
    visit.refresh_from_db()
    assert visit.status == FollowUp.Status.MISSED
    with pytest.raises(ValidationError, match="into the past"):
        services.reschedule_follow_up(follow_up=visit, due_date=dt.date(2026, 3, 1))
    services.reschedule_follow_up(follow_up=visit, due_date=dt.date(2026, 3, 20))
    visit.refresh_from_db()
    assert (visit.status, visit.due_date) == (FollowUp.Status.SCHEDULED, dt.date(2026, 3, 20))
    rows, _ = page_rows(kinds=("follow_up",))
    assert rows == [("follow_up", "due", "Visit")]


@pytest.mark.parametrize("status", ["deceased", "transferred"])
def test_no_refill_visit_is_booked_for_a_patient_who_is_not_implanted(due, status):
    patient, _ = due
    services.change_status(patient=patient, to_status=status, reason="Recorded by the clinic")
    patient.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        book(patient, dt.date(2026, 3, 12))
    assert "no refill visit is booked" in messages(refused.value)
    assert not RefillAppointment.objects.filter(patient=patient).exists()
