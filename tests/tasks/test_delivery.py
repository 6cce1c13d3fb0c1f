"""Delivery of claimed reminders: message content, idempotency, retries, failure and recovery."""

import datetime as dt
import smtplib

import pytest
import time_machine
from django.core import mail
from django_celery_beat.models import PeriodicTask

from registry import services
from registry.models import Patient, Reminder
from registry.services import reminders, site_today
from tasks import channels, tasks
from tasks.celery import app
from tasks.channels import ConsoleSMSBackend
from tests.factories import SiteFactory, UserFactory, make_implanted

C, K, St = Reminder.Channel, Reminder.Kind, Reminder.Status


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://itb.example.org"


@pytest.fixture
def due(db):
    """One patient whose refill is due in 7 days, a coordinator, a consenting family; swept."""
    site = SiteFactory(name="Lakeside", time_zone="Europe/Berlin", phone="+49 30 1234567")
    UserFactory(username="nurse", role="coordinator", role__sites=[site])
    patient, _ = make_implanted(
        site,
        given_name="Zelda",
        family_name="Quixote",
        mrn="MRN-98765",
        contact_email="parent@example.org",
        contact_phone="+49 170 0000000",
        consent_email=True,
        consent_sms=True,
    )
    due_date = site_today(site) + dt.timedelta(days=7)
    Patient.objects.filter(pk=patient.pk).update(
        next_refill_due=due_date,
        alarm_date=due_date + dt.timedelta(days=7),
        refill_due_basis="alarm_margin",
        schedule_attention="",
    )
    result = reminders.sweep()
    return patient, due_date, {(b.recipient, b.channel): b.reminder_ids for b in result.batches}


def test_staff_email_names_no_patient_but_links_to_one(due):
    patient, due_date, batches = due
    tasks.deliver(batches[("nurse@clinic.test", C.EMAIL)])
    (message,) = mail.outbox
    body = message.subject + message.body
    for identifying in ("Zelda", "Quixote", "MRN-98765", str(patient.date_of_birth), "2010"):
        assert identifying not in body
    assert "Refill due" in body and "Lakeside" in body
    assert f"{due_date:%-d %B %Y}" in body
    assert f"https://itb.example.org/patients/{patient.pk}/" in body


def test_family_email_and_sms_carry_the_date_and_the_clinic_phone(due, capsys):
    _, due_date, batches = due
    tasks.deliver(batches[("parent@example.org", C.FAMILY_EMAIL)])
    tasks.deliver(batches[("+49 170 0000000", C.FAMILY_SMS)])
    (message,) = mail.outbox
    assert message.to == ["parent@example.org"]
    assert f"{due_date:%-d %B %Y}" in message.body and "+49 30 1234567" in message.body
    assert "Quixote" not in message.body
    sms = capsys.readouterr().out
    assert sms.startswith("SMS to +49 170 0000000: Lakeside: reminder of your pump refill, due by")
    assert "+49 30 1234567" in sms


def test_a_redelivered_task_sends_nothing_more(due):
    _, _, batches = due
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    assert tasks.deliver(ids).startswith("sent 1")
    assert tasks.deliver(ids) == "nothing to send"
    assert len(mail.outbox) == 1
    row = Reminder.objects.get(pk=ids[0])
    assert (row.status, row.attempts) == (St.SENT, 1) and row.sent_at is not None


def test_two_claims_on_the_same_rows_one_wins(due):
    _, _, batches = due
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    first, second = reminders.claim(ids), reminders.claim(ids)
    assert [r.pk for r in first.reminders] == ids and second.reminders == []


class Flaky:
    """A channel failing ``failures`` times with a temporary SMTP error, then succeeding."""

    sent: list = []

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error

    def __call__(self, name):
        return self

    def send(self, message) -> None:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.sent.append(message)


def test_transient_failures_are_retried_then_sent(due, monkeypatch, settings):
    settings.REMINDER_MAX_ATTEMPTS = 4
    _, _, batches = due
    flaky = Flaky(2, smtplib.SMTPServerDisconnected("connection unexpectedly closed"))
    flaky.sent = []
    monkeypatch.setattr(tasks, "channel_for", flaky)
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    tasks.deliver.apply(args=(ids,))  # eager: Celery runs the retries in-process
    row = Reminder.objects.get(pk=ids[0])
    assert (row.status, row.attempts, len(flaky.sent)) == (St.SENT, 3, 1)


def test_after_the_last_try_it_is_failed_with_the_reason(due, monkeypatch, settings):
    settings.REMINDER_MAX_ATTEMPTS = 3
    _, _, batches = due
    monkeypatch.setattr(tasks, "channel_for", Flaky(99, ConnectionRefusedError(111, "Connection refused")))
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    tasks.deliver.apply(args=(ids,))
    row = Reminder.objects.get(pk=ids[0])
    assert (row.status, row.attempts) == (St.FAILED, 3)
    assert "gave up after 3 attempts" in row.last_error and "Connection refused" in row.last_error


def test_a_permanent_refusal_fails_at_once(due, monkeypatch):
    _, _, batches = due

    class Refused:
        def __init__(self, *args) -> None:
            pass

        def send(self, fail_silently: bool) -> None:
            raise smtplib.SMTPRecipientsRefused({"nurse@clinic.test": (550, b"no such user")})

    monkeypatch.setattr(channels, "EmailMessage", Refused)
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    tasks.deliver.apply(args=(ids,))
    row = Reminder.objects.get(pk=ids[0])
    assert (row.status, row.attempts) == (St.FAILED, 1)
    assert "550" in row.last_error


def test_backoff_doubles_and_is_capped(settings):
    settings.REMINDER_RETRY_BACKOFF_SECONDS = 60
    assert [reminders.retry_delay(n) for n in (1, 2, 3, 4, 10)] == [60, 120, 240, 480, 900]


def test_the_sweep_recovers_rows_left_sending_and_requeues_lost_ones(due, settings):
    _, _, batches = due
    ids = batches[("nurse@clinic.test", C.EMAIL)]
    reminders.claim(ids, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))  # a worker that died
    assert reminders.sweep().recovered == 1
    settings.REMINDER_REQUEUE_AFTER_SECONDS = 0
    again = reminders.sweep(now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert {b.recipient for b in again.batches} == {"nurse@clinic.test", "parent@example.org", "+49 170 0000000"}


def test_the_sweep_task_queues_each_batch_after_commit(due, monkeypatch, django_capture_on_commit_callbacks):
    Reminder.objects.filter(channel__in=reminders.DELIVERED_CHANNELS).update(enqueued_at=None)
    queued = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, queue: queued.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        summary = tasks.sweep_reminders()
    assert queued == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    assert summary["batches"] == len(queued) == 3
    assert {queue for _, queue in queued} == {"celery"}


def test_console_sms_backend_is_the_default(settings):
    assert settings.SMS_BACKEND == "tasks.channels.ConsoleSMSBackend"
    assert isinstance(tasks.channel_for(C.FAMILY_SMS), ConsoleSMSBackend)


def test_beat_runs_the_sweep_every_five_minutes(db):
    task = PeriodicTask.objects.get(task="reminders.sweep")
    assert (task.interval.every, task.interval.period, task.enabled) == (5, "minutes", True)
    assert "reminders.sweep" in app.tasks and "reminders.deliver" in app.tasks
    assert tasks.deliver.acks_late and tasks.deliver.reject_on_worker_lost


def test_the_family_reminder_carries_the_booked_visit(due, capsys):
    patient, due_date, _ = due
    visit_at = dt.datetime.combine(due_date - dt.timedelta(days=2), dt.time(10, 30), tzinfo=patient.site.zone)
    if visit_at.weekday() >= 5:
        visit_at -= dt.timedelta(days=2)
    services.book_refill_visit(patient=patient, site=patient.site, starts_at=visit_at)
    Reminder.objects.filter(channel__in=[C.FAMILY_EMAIL, C.FAMILY_SMS]).update(status=St.PENDING)
    ids = {
        c: list(Reminder.objects.filter(channel=c).values_list("pk", flat=True)) for c in (C.FAMILY_EMAIL, C.FAMILY_SMS)
    }
    tasks.deliver(ids[C.FAMILY_EMAIL])
    tasks.deliver(ids[C.FAMILY_SMS])
    (message,) = mail.outbox
    assert f"Pump refill appointment: {visit_at:%A} {visit_at.day} {visit_at:%B %Y} at 10:30, Lakeside" in message.body
    sms = capsys.readouterr().out
    assert f"pump refill appointment on {visit_at.day} {visit_at:%b %Y} at 10:30, Lakeside" in sms


def test_when_is_counted_from_the_day_the_message_goes_out(due):
    """A delivery days after the sweep (a catch-up, a retry) says how far the date is from today."""
    _, due_date, batches = due
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=10)):
        tasks.deliver(batches[("nurse@clinic.test", C.EMAIL)])
    (message,) = mail.outbox
    assert "(3 days ago)" in message.body and "(in 7 days)" not in message.body
