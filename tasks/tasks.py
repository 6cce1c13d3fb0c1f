"""Celery tasks. Each is small and idempotent and calls a ``registry`` service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from audit.models import PatientAccess
from registry.imports import jobs
from registry.models import Site
from registry.services import recompute_site, reminders
from tasks.channels import PermanentFailure, channel_for

log = logging.getLogger(__name__)


@shared_task(name="registry.refresh_schedules")
def refresh_schedules() -> int:
    """Recompute every stored schedule (nightly, and after a site's settings change).

    Writes already recompute in their own transaction; this catches anything written around the
    services (bulk imports, raw SQL) and settings changed outside the admin.
    """
    return sum(recompute_site(site) for site in Site.objects.all())


@shared_task(name="audit.purge_access_log")
def purge_access_log() -> int:
    """Delete access-log rows older than ACCESS_LOG_RETENTION_DAYS (beat, nightly)."""
    return PatientAccess.objects.purge()


@shared_task(name="registry.import_program")
def import_program(import_id: int, write: bool = False) -> str:
    """The dry run or the import of one uploaded program file (progress on its ``ProgramImport``)."""
    job = jobs.run(import_id, write=write)
    return f"{job.state}: {job.result.get('problem_count', 0)} problems, {job.result.get('written', 0)} written"


def enqueue_delivery(reminder_ids: list[int]) -> None:
    """Hand one batch to the queue (called on commit of the sweep that made it)."""
    deliver.apply_async(args=(reminder_ids,), queue=settings.REMINDER_QUEUE)


@shared_task(name="reminders.sweep")
def sweep_reminders() -> dict:
    """The periodic sweep (beat, every 5 minutes by default; editable in the admin)."""
    result = reminders.sweep(enqueue=enqueue_delivery)
    return {
        "created": result.created_total,
        "cancelled": result.cancelled,
        "recovered": result.recovered,
        "batches": len(result.batches),
    }


@shared_task(
    bind=True,
    name="reminders.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the database counts attempts (REMINDER_MAX_ATTEMPTS), across redeliveries too
)
def deliver(self, reminder_ids: list[int]) -> str:
    """Send one batch (one recipient, one channel) exactly once if at all possible.

    Claim the rows (a redelivered or duplicate task finds nothing to claim and stops), send,
    record the outcome. Acknowledged late and rejected on worker loss, so a worker killed
    mid-send leaves the message to the broker; the sweep recovers rows left ``sending``.
    """
    claimed = reminders.claim(reminder_ids)
    if not claimed.reminders:
        return "nothing to send"
    try:
        message = reminders.render(claimed)
        channel = channel_for(message.channel)
    except Exception as exc:  # a message that cannot be built will not build on a retry either
        reminders.mark_failed(claimed, error=f"the message could not be built: {type(exc).__name__}: {exc}")
        return "failed: not built"
    try:
        channel.send(message)
    except PermanentFailure as exc:
        reminders.mark_failed(claimed, error=str(exc))
        return f"failed: {exc}"
    except OSError as exc:  # smtplib.SMTPException and socket errors are OSErrors
        error = f"{type(exc).__name__}: {exc}"
        if claimed.attempts >= settings.REMINDER_MAX_ATTEMPTS:
            reminders.mark_failed(claimed, error=f"gave up after {claimed.attempts} attempts; {error}")
            return "failed"
        reminders.release_for_retry(claimed, error=error)
        raise self.retry(
            exc=exc, countdown=reminders.retry_delay(claimed.attempts), queue=settings.REMINDER_QUEUE
        ) from exc
    if reminders.mark_sent(claimed) != len(claimed.reminders):
        log.warning("reminders %s were sent after their claim was taken over", [r.pk for r in claimed.reminders])
    return f"sent {len(claimed.reminders)} to {message.channel}"
