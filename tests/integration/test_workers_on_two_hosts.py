"""Celery workers on several hosts (docs/deployment.md): two worker nodes with different host names
consume one queue on the shared Redis, deliver at the same time, and each reminder arrives once."""

import threading
from pathlib import Path

import pytest

from registry.models import Reminder
from registry.services import reminders
from tasks.celery import app
from tasks.tasks import enqueue_delivery
from tests.factories import SiteFactory, UserFactory
from tests.integration.test_reminder_delivery import patient_due, wait_delivered, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
FAMILIES = [f"family{i}@example.org" for i in range(4)]


def test_two_hosts_share_the_deliveries_and_each_reminder_arrives_once(smtp_server, reminder_workers, settings):
    site = SiteFactory(name="Hillside", time_zone="America/Chicago")
    UserFactory(username="coordinator", role="coordinator", role__sites=[site])
    for email in FAMILIES:
        patient_due(site, in_days=7, contact_email=email, consent_email=True)
    smtp_server.hold_mail = threading.Event()  # every delivery waits at MAIL FROM until released
    on_a, on_b = reminder_workers(host="host-a"), reminder_workers(host="host-b")
    # Both nodes answer before any work is queued (a slow start must not leave one host idle).
    both = {on_a.node, on_b.node}
    wait_for(
        lambda: {n for answer in app.control.ping(destination=list(both), timeout=2) for n in answer} == both,
        timeout=90,
        what="both workers to answer a ping",
    )

    sweep = reminders.sweep(enqueue=enqueue_delivery)
    assert len(sweep.batches) == len(FAMILIES) + 1  # one message per recipient: a task each
    # Each worker runs one task at a time (solo pool): two deliveries held at once are one per host.
    wait_for(lambda: smtp_server.mails_started >= 2, what="a delivery in progress on each host")
    smtp_server.hold_mail.set()
    wait_delivered()

    recipients = sorted(r for rcpts, _ in smtp_server.messages for r in rcpts)
    assert recipients == sorted([*FAMILIES, "coordinator@clinic.test"])
    emailed = Reminder.objects.filter(channel__in=[Reminder.Channel.EMAIL, Reminder.Channel.FAMILY_EMAIL])
    assert set(emailed.values_list("status", "attempts")) == {(Reminder.Status.SENT, 1)}
    for worker in (on_a, on_b):
        log = Path(worker._log.name).read_text()
        assert "reminders.deliver[" in log and "] succeeded in" in log, worker.node
