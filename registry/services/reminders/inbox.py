"""A staff member's reminder inbox: acknowledging reminders (dashboard and API share this)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from registry.models import Reminder
from registry.services.base import fail

OPEN_STATUSES = (Reminder.Status.PENDING, Reminder.Status.SENDING, Reminder.Status.SENT, Reminder.Status.FAILED)


def open_reminders(user) -> QuerySet[Reminder]:
    """The reminders addressed to ``user`` that nobody has acknowledged or cancelled yet."""
    return Reminder.objects.filter(recipient_user_id=user.pk, status__in=OPEN_STATUSES)


def acknowledge_reminders(*, user, ids: Iterable[int]) -> int:
    """Acknowledge ``user``'s open reminders among ``ids``; returns how many changed.

    One conditional UPDATE: another user's reminder, or one already acknowledged or cancelled,
    is left alone, so a double click or two open tabs acknowledge each reminder once.
    """
    wanted = {int(i) for i in ids}
    if not wanted or not getattr(user, "pk", None):
        return 0
    return (
        open_reminders(user)
        .filter(pk__in=wanted)
        .update(status=Reminder.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user)
    )


@transaction.atomic
def acknowledge_reminder(*, reminder: Reminder, by=None) -> Reminder:
    """Mark ``reminder`` acknowledged by ``by``; acknowledging twice is a no-op, not an error.

    A conditional UPDATE claims the row, so two people acknowledging at once record one of them
    and a delivery task racing with us never turns an acknowledged reminder back into "sent".
    """
    updated = Reminder.objects.filter(pk=reminder.pk, status__in=OPEN_STATUSES).update(
        status=Reminder.Status.ACKNOWLEDGED,
        acknowledged_at=timezone.now(),
        acknowledged_by=by if getattr(by, "pk", None) else None,
    )
    reminder.refresh_from_db()
    if not updated and reminder.status == Reminder.Status.CANCELLED:
        fail("status", "This reminder was cancelled; there is nothing to acknowledge.")
    return reminder
