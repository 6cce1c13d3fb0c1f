"""Delivery bookkeeping: a worker claims rows atomically, then marks them sent, retried or failed."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from registry.models import Reminder


@dataclass(frozen=True)
class Claim:
    token: str
    reminders: list[Reminder]

    @property
    def attempts(self) -> int:
        return max((r.attempts for r in self.reminders), default=0)


def claim(reminder_ids: list[int], *, now: dt.datetime | None = None) -> Claim:
    """Take the rows still to be sent, atomically: only one worker's UPDATE can match a row.

    Rows left in ``sending`` for longer than the timeout may be taken again (their worker died).
    Committed before anything is sent, so a crash after this line leaves a trace to recover.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    stale = now - dt.timedelta(seconds=settings.REMINDER_SENDING_TIMEOUT_SECONDS)
    Reminder.objects.filter(pk__in=reminder_ids).filter(
        Q(status=Reminder.Status.PENDING) | Q(status=Reminder.Status.SENDING, claimed_at__lt=stale)
    ).update(status=Reminder.Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1)
    taken = list(
        Reminder.objects.filter(pk__in=reminder_ids, claim_token=token, status=Reminder.Status.SENDING)
        .select_related("site", "patient")
        .order_by("due_date", "id")
    )
    return Claim(token, taken)


def mark_sent(claimed: Claim, *, now: dt.datetime | None = None) -> int:
    return Reminder.objects.filter(
        pk__in=[r.pk for r in claimed.reminders], claim_token=claimed.token, status=Reminder.Status.SENDING
    ).update(status=Reminder.Status.SENT, sent_at=now or timezone.now(), last_error="")


def release_for_retry(claimed: Claim, *, error: str, now: dt.datetime | None = None) -> int:
    """A transient failure: back to pending (the retry, or the next sweep, claims it again)."""
    return Reminder.objects.filter(
        pk__in=[r.pk for r in claimed.reminders], claim_token=claimed.token, status=Reminder.Status.SENDING
    ).update(status=Reminder.Status.PENDING, last_error=error[:2000], enqueued_at=now or timezone.now())


def mark_failed(claimed: Claim, *, error: str) -> int:
    return Reminder.objects.filter(
        pk__in=[r.pk for r in claimed.reminders], claim_token=claimed.token, status=Reminder.Status.SENDING
    ).update(status=Reminder.Status.FAILED, last_error=error[:2000])


def retry_delay(attempts: int) -> float:
    """Exponential backoff after the ``attempts``-th try, capped well below the broker's
    visibility timeout (a countdown longer than that would be delivered twice, docs/decisions.md)."""
    base = settings.REMINDER_RETRY_BACKOFF_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), 15 * 60)
