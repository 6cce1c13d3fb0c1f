"""Acknowledging a reminder: staff confirm they have seen it (DESIGN.md, "Roles": coordinators
acknowledge reminders). Kept apart from delivery so the sweep and the API share one rule."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from registry.models import Reminder
from registry.services.base import fail

ACKNOWLEDGEABLE = {Reminder.Status.PENDING, Reminder.Status.SENDING, Reminder.Status.SENT, Reminder.Status.FAILED}


@transaction.atomic
def acknowledge_reminder(*, reminder: Reminder, by=None) -> Reminder:
    """Mark ``reminder`` acknowledged by ``by``; acknowledging twice is a no-op, not an error.

    A conditional UPDATE claims the row, so two people acknowledging at once record one of them
    and a delivery task racing with us never turns an acknowledged reminder back into "sent".
    """
    updated = Reminder.objects.filter(pk=reminder.pk, status__in=ACKNOWLEDGEABLE).update(
        status=Reminder.Status.ACKNOWLEDGED,
        acknowledged_at=timezone.now(),
        acknowledged_by=by if getattr(by, "pk", None) else None,
    )
    reminder.refresh_from_db()
    if not updated and reminder.status == Reminder.Status.CANCELLED:
        fail("status", "This reminder was cancelled; there is nothing to acknowledge.")
    return reminder
