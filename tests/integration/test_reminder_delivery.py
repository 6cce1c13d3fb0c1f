"""Reminder delivery end to end: real Redis, real Celery workers, a real SMTP server on loopback.

Every test ends at the SMTP server: each due reminder arrives exactly once, whatever fault was
injected (a worker killed mid-delivery, Redis restarted, two sweeps at once, refusals, a refill
recorded while its reminders are queued).
"""

import datetime as dt
import os
import signal
import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection

from registry import services
from registry.models import Patient, Reminder
from registry.services import reminders
from tasks.tasks import deliver, enqueue_delivery
from tests.factories import SiteFactory, UserFactory, make_implanted

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
C, K, St = Reminder.Channel, Reminder.Kind, Reminder.Status


@pytest.fixture
def program(db):
    """A site with a coordinator, a clinician and an escalation address."""
    site = SiteFactory(name="Riverside", time_zone="Europe/Paris", escalation_email="oncall@riverside.test")
    coordinator = UserFactory(username="nurse", role="coordinator", role__sites=[site])
    clinician = UserFactory(username="doctor", role="clinician", role__sites=[site])
    return site, coordinator, clinician


def patient_due(site, *, in_days: int | None = None, overdue: int | None = None, critical: bool = False, **fields):
    patient, pump = make_implanted(site, **fields)
    today = services.site_today(site)
    if critical:
        stored = {"next_refill_due": today - dt.timedelta(days=8), "alarm_date": today - dt.timedelta(days=1)}
    elif overdue is not None:
        stored = {"next_refill_due": today - dt.timedelta(days=overdue), "alarm_date": today + dt.timedelta(days=5)}
    else:
        stored = {"next_refill_due": today + dt.timedelta(days=in_days), "alarm_date": today + dt.timedelta(days=20)}
    if "next_refill_due" in stored:  # a projected schedule (a pump without a fill needs attention)
        stored = {"refill_due_basis": "alarm_margin", "schedule_attention": "", **stored}
    Patient.objects.filter(pk=patient.pk).update(**stored)
    patient.refresh_from_db()
    return patient, pump


def wait_delivered(timeout: float = 40) -> None:
    """Until no deliverable reminder is pending or sending; then a moment more to catch duplicates."""
    deadline = time.monotonic() + timeout
    open_rows = Reminder.objects.filter(status__in=[St.PENDING, St.SENDING], channel__in=reminders.DELIVERED_CHANNELS)
    while open_rows.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"still undelivered after {timeout} s: {list(open_rows.values('id', 'status', 'last_error'))}")
        time.sleep(0.1)
    time.sleep(1.0)


def wait_for(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_every_due_reminder_arrives_exactly_once(program, smtp_server, reminder_workers):
    site, coordinator, clinician = program
    patient_due(site, in_days=7, contact_email="fam1@example.org", consent_email=True)
    patient_due(site, in_days=14, contact_email="fam2@example.org", consent_email=False)  # no consent
    patient_due(site, overdue=3)
    patient_due(site, critical=True, primary_clinician=clinician)
    visit_patient, _ = patient_due(site, in_days=2, contact_email="fam3@example.org", consent_email=True)
    services.schedule_follow_up(
        patient=visit_patient, kind="clinic_review", due_date=services.site_today(site) + dt.timedelta(days=7)
    )
    reminder_workers()

    first = reminders.sweep(enqueue=enqueue_delivery)
    wait_delivered()
    second = reminders.sweep(enqueue=enqueue_delivery)
    wait_delivered()

    assert second.created_total == 0 and not second.batches
    recipients = sorted(r for rcpts, _ in smtp_server.messages for r in rcpts)
    assert recipients == sorted(
        ["nurse@clinic.test", "doctor@clinic.test", "oncall@riverside.test", "fam1@example.org", "fam3@example.org"]
    )
    # The coordinator's one message carries all five patients' reminders (batched).
    (nurse_mail,) = smtp_server.to("nurse@clinic.test")
    assert nurse_mail.count("/patients/") == 6  # four refills due or overdue, the critical one, the visit
    assert "URGENT" in nurse_mail
    (family_mail,) = smtp_server.to("fam3@example.org")
    assert "Pump refill due by" in family_mail and "Clinic appointment" in family_mail
    assert site.phone in family_mail
    emailed = Reminder.objects.filter(channel__in=[C.EMAIL, C.FAMILY_EMAIL])
    assert emailed.count() == 6 + 1 + 1 + 1 + 2  # nurse, doctor, on-call, two consenting families
    assert len(first.batches) == 5  # one message per recipient
    assert set(emailed.values_list("status", flat=True)) == {St.SENT}
    assert set(emailed.values_list("attempts", flat=True)) == {1}


def test_worker_killed_mid_delivery_then_recovered_exactly_once(program, smtp_server, reminder_workers, settings):
    site, _, _ = program
    patient_due(site, in_days=7)
    smtp_server.hold_mail = threading.Event()
    doomed = reminder_workers()
    reminders.sweep(enqueue=enqueue_delivery)
    smtp_server.mail_started.wait(30)
    wait_for(lambda: Reminder.objects.filter(channel=C.EMAIL, status=St.SENDING).exists(), what="the claim")

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    smtp_server.hold_mail.set()  # the dead worker's SMTP session is gone: nothing was accepted
    time.sleep(0.5)
    assert smtp_server.messages == []
    assert Reminder.objects.get(channel=C.EMAIL).status == St.SENDING  # left behind by the dead worker

    # A new worker; the next sweep takes back rows left "sending" past the timeout and queues them.
    settings.REMINDER_SENDING_TIMEOUT_SECONDS = 1
    reminder_workers(REMINDER_SENDING_TIMEOUT_SECONDS="1")
    time.sleep(1.2)
    result = reminders.sweep(enqueue=enqueue_delivery)
    assert result.recovered == 1
    wait_delivered()

    assert [rcpts for rcpts, _ in smtp_server.messages] == [["nurse@clinic.test"]]
    row = Reminder.objects.get(channel=C.EMAIL)
    assert (row.status, row.attempts) == (St.SENT, 2)


def test_redis_stopped_and_started_during_a_run(program, smtp_server, reminder_workers, throwaway_redis, settings):
    """The queue dies with Redis; the database still knows what is pending, and the sweep requeues it."""
    from kombu import Connection

    site, _, _ = program
    for n in range(3):
        patient_due(site, in_days=7, contact_email=f"fam{n}@example.org", consent_email=True)

    def enqueue_on_throwaway(ids: list[int]) -> None:
        with Connection(throwaway_redis.url) as conn:
            deliver.apply_async(args=(ids,), queue=settings.REMINDER_QUEUE, producer=conn.Producer())

    smtp_server.hold_mail = threading.Event()
    reminder_workers(
        REDIS_URL=throwaway_redis.url, CELERY_BROKER_URL=throwaway_redis.url, CELERY_RESULT_BACKEND=throwaway_redis.url
    )
    first = reminders.sweep(enqueue=enqueue_on_throwaway)
    assert len(first.batches) == 4  # the coordinator and three families
    smtp_server.mail_started.wait(30)

    throwaway_redis.stop()  # mid-run: one batch in the worker's hands, three in the queue
    throwaway_redis.start()  # empty: the queued batches are lost
    smtp_server.hold_mail.set()
    wait_for(lambda: len(smtp_server.messages) == 1, what="the batch in flight")
    wait_for(lambda: Reminder.objects.filter(status=St.SENT, channel__in=[C.EMAIL, C.FAMILY_EMAIL]).exists())
    assert Reminder.objects.filter(status=St.PENDING).values("recipient").distinct().count() == 3

    settings.REMINDER_REQUEUE_AFTER_SECONDS = 0
    again = reminders.sweep(enqueue=enqueue_on_throwaway)
    assert len(again.batches) == 3
    wait_delivered(timeout=60)

    recipients = sorted(r for rcpts, _ in smtp_server.messages for r in rcpts)
    assert recipients == sorted(["nurse@clinic.test", "fam0@example.org", "fam1@example.org", "fam2@example.org"])


def test_two_sweeps_at_once_send_each_reminder_once(program, smtp_server, reminder_workers):
    site, _, _ = program
    for n in range(4):
        patient_due(site, in_days=2, contact_email=f"fam{n}@example.org", consent_email=True)
    reminder_workers()
    barrier = threading.Barrier(2)
    results: list[reminders.SweepResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(10)
            results.append(reminders.sweep(enqueue=enqueue_delivery))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    wait_delivered()

    assert sum(r.created_total for r in results) == Reminder.objects.count() == 4 * 2 + 4 + 4
    recipients = sorted(r for rcpts, _ in smtp_server.messages for r in rcpts)
    assert recipients == sorted(["nurse@clinic.test", *(f"fam{n}@example.org" for n in range(4))])


def test_smtp_refusals_are_retried_with_backoff_then_failed(program, smtp_server, reminder_workers):
    site, _, _ = program
    patient_due(site, in_days=7, contact_email="later@example.org", consent_email=True)
    patient_due(site, in_days=14, contact_email="never@example.org", consent_email=True)
    smtp_server.refuse = {"nurse@clinic.test": 2, "later@example.org": 1, "never@example.org": -1}
    reminder_workers(REMINDER_MAX_ATTEMPTS="3")
    reminders.sweep(enqueue=enqueue_delivery)
    wait_delivered()

    assert sorted(r for rcpts, _ in smtp_server.messages for r in rcpts) == ["later@example.org", "nurse@clinic.test"]
    nurse = Reminder.objects.filter(recipient="nurse@clinic.test")
    assert set(nurse.values_list("status", "attempts")) == {(St.SENT, 3)}
    never = Reminder.objects.get(recipient="never@example.org")
    assert (never.status, never.attempts) == (St.FAILED, 3)
    assert "451" in never.last_error and "gave up after 3 attempts" in never.last_error
    assert smtp_server.refused == 2 + 1 + 3


def test_refill_recorded_while_its_reminders_are_queued(program, smtp_server, reminder_workers):
    site, _, _ = program
    refilled, pump = patient_due(site, in_days=2, contact_email="fam@example.org", consent_email=True)
    visit_patient, _ = patient_due(site, in_days=30)
    services.schedule_follow_up(
        patient=visit_patient, kind="clinic_review", due_date=services.site_today(site) + dt.timedelta(days=1)
    )
    reminders.sweep(enqueue=enqueue_delivery)  # queued; no worker yet
    services.record_refill(
        pump=pump,
        performed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )
    assert set(Reminder.objects.filter(patient=refilled).values_list("status", flat=True)) == {St.CANCELLED}
    reminder_workers()
    wait_delivered()

    (nurse_mail,) = smtp_server.to("nurse@clinic.test")
    assert "Follow-up due" in nurse_mail and "Refill due" not in nurse_mail
    assert smtp_server.to("fam@example.org") == []
    assert [rcpts for rcpts, _ in smtp_server.messages] == [["nurse@clinic.test"]]
