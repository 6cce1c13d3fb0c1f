"""The reminder sweep: every lead and escalation rule, in a site zone that is not UTC, across DST."""

import datetime as dt
import zoneinfo
from decimal import Decimal as D

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import FollowUp, Patient, Reminder
from registry.services import reminders
from tests.factories import SiteFactory, UserFactory, make_implanted

K, C, St = Reminder.Kind, Reminder.Channel, Reminder.Status
NY = zoneinfo.ZoneInfo("America/New_York")  # DST starts 2026-03-08 02:00 local


def local(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


@pytest.fixture
def ny_site(db):
    return SiteFactory(name="Harbor", time_zone="America/New_York", escalation_email="oncall@harbor.test")


@pytest.fixture
def staff(ny_site):
    return {
        "coordinator": UserFactory(username="nina", role="coordinator", role__sites=[ny_site]),
        "clinician": UserFactory(username="carl", role="clinician", role__sites=[ny_site]),
        "reporting": UserFactory(username="rita", role="reporting", role__sites=[ny_site]),
    }


def implanted(site, staff=None, family="family@example.org", phone="+1 555 0100", **stored):
    """An implanted patient whose stored schedule is ``stored`` (the sweep reads only that)."""
    patient, pump = make_implanted(
        site,
        contact_email=family,
        contact_phone=phone,
        consent_email=True,
        consent_sms=True,
        primary_clinician=staff["clinician"] if staff else None,
    )
    if "next_refill_due" in stored:  # a projected schedule (a pump without a fill needs attention)
        stored = {"refill_due_basis": "alarm_margin", "schedule_attention": "", **stored}
    Patient.objects.filter(pk=patient.pk).update(**stored)
    patient.refresh_from_db()
    return patient, pump


def sweep_at(instant: dt.datetime, **kwargs) -> reminders.SweepResult:
    with time_machine.travel(instant, tick=False):
        return reminders.sweep(**kwargs)


def rows(**filters) -> set[tuple]:
    return set(Reminder.objects.filter(**filters).values_list("kind", "lead_days", "recipient", "channel", "status"))


@pytest.mark.parametrize("lead", [14, 7, 2, 0])
def test_refill_due_at_each_lead_goes_to_inbox_coordinator_and_consenting_family(ny_site, staff, lead):
    due = dt.date(2026, 3, 16)
    implanted(ny_site, staff, next_refill_due=due, alarm_date=due + dt.timedelta(days=7))
    sweep_at(local(due - dt.timedelta(days=lead)))
    assert rows(kind=K.REFILL_DUE) == {
        (K.REFILL_DUE, lead, f"user:{staff['coordinator'].pk}", C.INBOX, St.SENT),
        (K.REFILL_DUE, lead, f"user:{staff['clinician'].pk}", C.INBOX, St.SENT),
        (K.REFILL_DUE, lead, "nina@clinic.test", C.EMAIL, St.PENDING),
        (K.REFILL_DUE, lead, "family@example.org", C.FAMILY_EMAIL, St.PENDING),
        (K.REFILL_DUE, lead, "+1 555 0100", C.FAMILY_SMS, St.PENDING),
    }


@pytest.mark.parametrize("days_before", [13, 8, 6, 3, 1])
def test_no_refill_reminder_between_leads(ny_site, staff, days_before):
    due = dt.date(2026, 3, 16)
    implanted(ny_site, staff, next_refill_due=due, alarm_date=due + dt.timedelta(days=7))
    sweep_at(local(due - dt.timedelta(days=days_before)))
    assert not Reminder.objects.exists()


def test_site_today_follows_the_dst_change_not_utc(ny_site, staff):
    """00:30 local on 9 March is 04:30 UTC after the change (EDT) but would be 8 March in EST."""
    due = dt.date(2026, 3, 16)
    implanted(ny_site, staff, next_refill_due=due, alarm_date=due + dt.timedelta(days=7))
    sweep_at(dt.datetime(2026, 3, 9, 3, 59, tzinfo=dt.UTC))  # 23:59 EDT on 8 March: 8 days before
    assert not Reminder.objects.exists()
    sweep_at(dt.datetime(2026, 3, 9, 4, 30, tzinfo=dt.UTC))  # 00:30 EDT on 9 March: 7 days before
    assert {r[1] for r in rows(kind=K.REFILL_DUE)} == {7}


def test_site_today_is_ahead_of_utc_in_sydney(db, staff):
    sydney = SiteFactory(name="Bondi", time_zone="Australia/Sydney")
    implanted(sydney, next_refill_due=dt.date(2026, 4, 7), alarm_date=dt.date(2026, 4, 20))
    # 5 April 2026 15:30 UTC = 6 April 01:30 AEST (DST ended at 03:00 on 5 April): one day before.
    sweep_at(dt.datetime(2026, 4, 5, 15, 30, tzinfo=dt.UTC))
    assert not Reminder.objects.exists()  # no lead of 1 day; the UTC date would say 2 days (a lead)
    sweep_at(dt.datetime(2026, 4, 6, 15, 30, tzinfo=dt.UTC))  # 7 April local: the due date
    assert Reminder.objects.filter(kind=K.REFILL_DUE, lead_days=0).exists()


def test_overdue_is_daily_staff_only_and_counts_days_late(ny_site, staff):
    due = dt.date(2026, 3, 6)
    implanted(ny_site, staff, next_refill_due=due, alarm_date=dt.date(2026, 3, 13))
    sweep_at(local(dt.date(2026, 3, 8), 23, 30))  # the evening of the DST day
    sweep_at(local(dt.date(2026, 3, 9), 0, 30))
    sweep_at(local(dt.date(2026, 3, 9), 18))
    found = Reminder.objects.filter(kind=K.REFILL_OVERDUE)
    assert sorted(set(found.values_list("lead_days", flat=True))) == [-3, -2]
    assert set(found.values_list("channel", flat=True)) == {C.INBOX, C.EMAIL}
    assert found.filter(channel=C.EMAIL).count() == 2  # one a day, to the coordinator


def test_critical_from_the_alarm_date_escalates_daily(ny_site, staff):
    alarm = dt.date(2026, 3, 9)
    implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 2), alarm_date=alarm)
    sweep_at(local(alarm - dt.timedelta(days=1)))
    assert not Reminder.objects.filter(kind=K.REFILL_CRITICAL).exists()
    sweep_at(local(alarm, 0, 5))
    sweep_at(local(alarm + dt.timedelta(days=1)))
    emails = set(Reminder.objects.filter(kind=K.REFILL_CRITICAL, channel=C.EMAIL).values_list("recipient", "lead_days"))
    assert emails == {
        (addr, lead) for addr in ("nina@clinic.test", "carl@clinic.test", "oncall@harbor.test") for lead in (0, -1)
    }
    assert not Reminder.objects.filter(kind=K.REFILL_CRITICAL, channel__in=[C.FAMILY_EMAIL, C.FAMILY_SMS]).exists()
    # Critical replaces overdue from the alarm date on.
    assert set(Reminder.objects.filter(kind=K.REFILL_OVERDUE).values_list("lead_days", flat=True)) == {-6}


def test_follow_up_leads_and_missed_once(ny_site, staff):
    patient, _ = implanted(ny_site, staff)
    visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 3, 10))
    for day in (3, 9):
        sweep_at(local(dt.date(2026, 3, day)))
    due = Reminder.objects.filter(kind=K.FOLLOW_UP_DUE, target_type="follow_up", target_id=visit.pk)
    assert sorted(set(due.values_list("lead_days", flat=True))) == [1, 7]
    assert set(due.values_list("channel", flat=True)) == {C.INBOX, C.EMAIL, C.FAMILY_EMAIL, C.FAMILY_SMS}
    sweep_at(local(dt.date(2026, 3, 17)))  # grace 7 days: still within it
    visit.refresh_from_db()
    assert visit.status == FollowUp.Status.SCHEDULED
    sweep_at(local(dt.date(2026, 3, 18)))
    sweep_at(local(dt.date(2026, 3, 19)))
    visit.refresh_from_db()
    assert visit.status == FollowUp.Status.MISSED
    missed = Reminder.objects.filter(kind=K.FOLLOW_UP_MISSED)
    assert set(missed.values_list("channel", "lead_days")) == {(C.INBOX, -8), (C.EMAIL, -8)}
    assert missed.count() == 3  # two inbox rows and one e-mail, once only


def test_battery_at_180_and_90_days(ny_site, staff):
    eri = dt.date(2026, 9, 30)
    implanted(ny_site, staff, battery_eri_date=eri)
    for lead in (181, 180, 91, 90, 89):
        sweep_at(local(eri - dt.timedelta(days=lead)))
    battery = Reminder.objects.filter(kind=K.BATTERY, channel=C.EMAIL)
    assert sorted(battery.values_list("lead_days", flat=True)) == [90, 180]


def test_residual_discrepancy_goes_to_coordinator_and_clinician(ny_site, staff):
    _, pump = implanted(ny_site, staff)
    with time_machine.travel(local(dt.date(2026, 3, 9), 11), tick=False):
        refill = services.record_refill(
            pump=pump,
            performed_at=local(dt.date(2026, 3, 9), 10),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("2000"),
            daily_dose_mcg=D("400"),
            volume_removed_ml=D("1"),
            expected_residual_ml=D("6"),
        )
    assert refill.residual_discrepancy
    sweep_at(local(dt.date(2026, 3, 9), 12))
    found = Reminder.objects.filter(kind=K.RESIDUAL_DISCREPANCY, channel=C.EMAIL)
    assert set(found.values_list("recipient", "target_id", "due_date")) == {
        ("nina@clinic.test", refill.pk, dt.date(2026, 3, 9)),
        ("carl@clinic.test", refill.pk, dt.date(2026, 3, 9)),
    }


def test_sweep_twice_creates_nothing_new_and_queues_each_row_once(ny_site, staff, django_capture_on_commit_callbacks):
    implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    queued: list[list[int]] = []
    with django_capture_on_commit_callbacks(execute=True):
        first = sweep_at(local(dt.date(2026, 3, 9)), enqueue=queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        second = sweep_at(local(dt.date(2026, 3, 9), 9, 5), enqueue=queued.append)
    assert first.created_total == 5 and second.created_total == 0
    assert Reminder.objects.count() == 5
    # One batch per recipient and channel (three deliverable rows), queued once.
    assert sorted(len(ids) for ids in queued) == [1, 1, 1]
    assert not second.batches


def test_several_reminders_for_one_person_are_one_batch(ny_site, staff):
    for _ in range(3):
        implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    result = sweep_at(local(dt.date(2026, 3, 9)))
    coordinator = [b for b in result.batches if b.recipient == "nina@clinic.test"]
    assert len(coordinator) == 1 and len(coordinator[0].reminder_ids) == 3


def test_dry_run_changes_nothing(ny_site, staff):
    visit_patient, _ = implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    visit = services.schedule_follow_up(patient=visit_patient, kind="clinic_review", due_date=dt.date(2026, 2, 1))
    result = sweep_at(local(dt.date(2026, 3, 9)), dry_run=True)
    assert result.created_total > 0 and result.batches and result.missed_follow_ups == 1
    assert not Reminder.objects.exists()
    visit.refresh_from_db()
    assert visit.status == FollowUp.Status.SCHEDULED


def test_command_prints_what_it_would_send(ny_site, staff, capsys):
    implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    with time_machine.travel(local(dt.date(2026, 3, 9)), tick=False):
        call_command("sweep_reminders", "--dry-run")
    out = capsys.readouterr().out
    assert "Would create 5 reminders" in out
    assert "nina@clinic.test" in out and "family_sms" in out
    assert not Reminder.objects.exists()


def test_recording_the_refill_cancels_its_pending_reminders_at_once(ny_site, staff):
    patient, pump = implanted(ny_site, staff)
    with time_machine.travel(local(dt.date(2026, 1, 5)), tick=False):
        services.record_refill(
            pump=pump,
            performed_at=local(dt.date(2026, 1, 5)),
            volume_after_ml=D("20"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
    patient.refresh_from_db()
    sweep_at(local(patient.next_refill_due - dt.timedelta(days=2)))
    assert Reminder.objects.filter(kind=K.REFILL_DUE).count() == 5
    with time_machine.travel(local(patient.next_refill_due - dt.timedelta(days=1)), tick=False):
        services.record_refill(
            pump=pump,
            performed_at=local(patient.next_refill_due - dt.timedelta(days=1)),
            volume_after_ml=D("20"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
    assert set(Reminder.objects.values_list("status", flat=True)) == {St.CANCELLED}


def test_void_reasons_are_cancelled_by_the_sweep(ny_site, staff):
    patient, _ = implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 3, 16))
    sweep_at(local(dt.date(2026, 3, 9)))
    Reminder.objects.filter(channel=C.INBOX, recipient=f"user:{staff['clinician'].pk}").update(status=St.ACKNOWLEDGED)
    services.cancel_follow_up(follow_up=visit)
    Patient.objects.filter(pk=patient.pk).update(consent_sms=False, next_refill_due=dt.date(2026, 3, 20))
    result = sweep_at(local(dt.date(2026, 3, 9), 10))
    live = Reminder.objects.exclude(status__in=[St.CANCELLED, St.ACKNOWLEDGED])
    assert not live.exists()
    assert result.cancelled == 8  # 2 kinds x (coordinator inbox + e-mail + family e-mail + SMS)
    assert Reminder.objects.filter(status=St.ACKNOWLEDGED).count() == 2  # history stays


def test_not_implanted_or_explanted_patients_get_nothing(ny_site, staff):
    patient, pump = implanted(ny_site, staff, next_refill_due=dt.date(2026, 3, 16), alarm_date=dt.date(2026, 3, 23))
    services.explant_pump(pump=pump, explant_date=dt.date(2026, 3, 1), reason="infection")
    Patient.objects.filter(pk=patient.pk).update(next_refill_due=dt.date(2026, 3, 16))  # stale stored date
    sweep_at(local(dt.date(2026, 3, 9)))
    assert not Reminder.objects.exists()


def _add_due(site, staff, n: int) -> None:
    for _ in range(n):
        number = Patient.objects.count()
        patient, _ = implanted(
            site,
            staff,
            family=f"f{number}@example.org",
            phone=f"+1 555 {number:04d}",
            next_refill_due=dt.date(2026, 3, 16),
            alarm_date=dt.date(2026, 3, 23),
        )
        services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 3, 10))


def _sweep_queries() -> tuple[list[str], reminders.SweepResult]:
    with CaptureQueriesContext(connection) as ctx:
        result = sweep_at(local(dt.date(2026, 3, 9)))
    return [q["sql"] for q in ctx.captured_queries], result


def test_query_count_does_not_grow_with_patients(ny_site, staff):
    """Constant on PostgreSQL; SQLite's 999-parameter limit splits the one bulk INSERT in chunks."""
    _add_due(ny_site, staff, 5)
    few, result = _sweep_queries()
    assert len(result.batches) == 1 + 2 * 5  # the coordinator, and each family's e-mail and SMS
    Reminder.objects.all().delete()
    _add_due(ny_site, staff, 45)
    many, result = _sweep_queries()
    assert len(result.batches) == 1 + 2 * 50
    assert Reminder.objects.filter(channel=C.EMAIL).count() == 2 * 50  # refill and visit, each patient

    def not_insert(sqls: list[str]) -> list[str]:
        return [q for q in sqls if not q.startswith("INSERT")]

    assert len(not_insert(many)) == len(not_insert(few)) <= 26  # one query per kind of reminder
    if connection.vendor == "postgresql":
        assert len(many) == len(few)


def test_a_family_address_in_capitals_is_not_taken_for_a_changed_contact(ny_site, staff):
    implanted(ny_site, staff, family="Parent.Name@Example.org", next_refill_due=dt.date(2026, 3, 16))
    sweep_at(local(dt.date(2026, 3, 9)))
    sweep_at(local(dt.date(2026, 3, 9), 10))
    family = Reminder.objects.get(channel=C.FAMILY_EMAIL)
    assert (family.recipient, family.status) == ("Parent.Name@Example.org", St.PENDING)


def test_visits_of_a_patient_who_left_the_program_are_not_reminded(ny_site, staff):
    patient, _ = implanted(ny_site, staff)
    services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 3, 10))
    sweep_at(local(dt.date(2026, 3, 3)))
    assert Reminder.objects.filter(kind=K.FOLLOW_UP_DUE, status=St.PENDING).exists()
    services.change_status(patient=patient, to_status="transferred", on=dt.date(2025, 12, 1))
    sweep_at(local(dt.date(2026, 3, 9)))
    assert not Reminder.objects.filter(kind=K.FOLLOW_UP_DUE).exclude(status=St.CANCELLED).exists()


def test_battery_already_past_eri_when_first_seen_reaches_the_inbox(ny_site, staff):
    eri = dt.date(2026, 1, 10)
    implanted(ny_site, staff, battery_eri_date=eri)
    sweep_at(local(dt.date(2026, 3, 2)))
    sweep_at(local(dt.date(2026, 3, 3)))
    inbox = Reminder.objects.filter(kind=K.BATTERY, channel=C.INBOX, recipient_user=staff["coordinator"])
    assert list(inbox.values_list("due_date", "lead_days")) == [(eri, 0)]


def test_battery_first_seen_between_leads_gets_the_stage_it_is_in(ny_site, staff):
    eri = dt.date(2026, 5, 1)
    implanted(ny_site, staff, battery_eri_date=eri)
    for day in (eri - dt.timedelta(days=120), eri - dt.timedelta(days=60), eri):
        sweep_at(local(day))
    battery = Reminder.objects.filter(kind=K.BATTERY, channel=C.EMAIL)
    assert sorted(battery.values_list("lead_days", flat=True)) == [0, 90, 180]


def test_a_pump_without_its_first_fill_is_reminded_as_needing_attention_with_the_reason(ny_site, staff):
    patient, pump = implanted(ny_site, staff)  # implanted 2 Jun 2025, no fill recorded
    assert patient.refill_due_basis == "needs_attention"
    sweep_at(local(dt.date(2026, 3, 9)))
    kinds = set(Reminder.objects.filter(patient=patient).values_list("kind", flat=True))
    assert kinds == {K.REFILL_ATTENTION}
    email = Reminder.objects.get(kind=K.REFILL_ATTENTION, channel=C.EMAIL)
    message = reminders.render(reminders.claim([email.pk]))
    assert "Needs attention: no refill date could be projected" in message.body
    assert "No fill recorded for the pump implanted 02 Jun 2025: record its first fill" in message.body
    assert "overdue" not in message.body.lower()
    # Once its first fill is recorded, the reminder's reason is gone.
    with time_machine.travel(local(dt.date(2026, 3, 9), 11), tick=False):
        services.record_refill(
            pump=pump,
            performed_at=local(dt.date(2026, 3, 9), 10),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("2000"),
            daily_dose_mcg=D("400"),
        )
    reminders.cancel_obsolete(patient=patient)
    inbox = Reminder.objects.get(kind=K.REFILL_ATTENTION, channel=C.INBOX, recipient_user=staff["coordinator"])
    assert inbox.status == St.CANCELLED
