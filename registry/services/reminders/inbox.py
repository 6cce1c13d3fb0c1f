"""A staff member's reminder inbox: acknowledging reminders (dashboard and API share this).

Only a reminder's recipient (or an administrator) acknowledges it, and acknowledging is about
reading, never about delivery: a message still waiting for its channel (e-mail, SMS) cannot be
acknowledged, so acknowledging never stops it from being sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from registry.models import Reminder
from registry.roles import Role, is_clinical, patients_for, role_of
from registry.selectors.memo import ProcessMemo
from registry.selectors.rows import fetch_all
from registry.services.base import fail

OPEN_STATUSES = (Reminder.Status.PENDING, Reminder.Status.SENDING, Reminder.Status.SENT, Reminder.Status.FAILED)
# A message on a delivery channel in one of these has not reached its channel yet.
UNDELIVERED = (Reminder.Status.PENDING, Reminder.Status.SENDING)


def inbox_reminders(user) -> QuerySet[Reminder]:
    """The reminders addressed to ``user`` about patients they may still see.

    A user who moved site, or became a reporting user, no longer sees (nor acknowledges) the
    reminders about their former site's patients: the patient scope is one subquery.
    """
    return Reminder.objects.filter(recipient_user_id=user.pk, patient__in=patients_for(user))


def open_reminders(user) -> QuerySet[Reminder]:
    """The reminders addressed to ``user`` that nobody has acknowledged or cancelled yet."""
    return inbox_reminders(user).filter(status__in=OPEN_STATUSES)


# The count's statement, compiled from ``open_reminders`` once per process and kind of scope: the
# ORM took longer to build it than the database takes to run it, on every dashboard page.
_COUNT_SQL: ProcessMemo[tuple[str, tuple, tuple[int, ...]]] = ProcessMemo(limit=8)


def open_reminder_count(user) -> int:
    """How many reminders are open in ``user``'s inbox (the dashboard header's count)."""
    if not getattr(user, "pk", None) or not is_clinical(user):
        return 0  # no patients in scope (``patients_for``)
    sql, params, user_positions = _COUNT_SQL.get_or_build(
        (connection.vendor, role_of(user) == Role.ADMINISTRATOR), lambda: _count_sql(user)
    )
    bound = list(params)
    for i in user_positions:
        bound[i] = user.pk
    return fetch_all(sql, bound, prepared=True)[0][0]


def _count_sql(user) -> tuple[str, tuple, tuple[int, ...]]:
    """``open_reminders(user)``'s count as SQL, and where ``user``'s id stands in its parameters."""
    inner, params = open_reminders(user).order_by().values("pk").query.sql_with_params()
    user_positions = tuple(i for i, value in enumerate(params) if type(value) is int and value == user.pk)
    return f"SELECT count(*) FROM ({inner}) counted", tuple(params), user_positions  # noqa: S608 - compiled by the ORM


def acknowledge_reminders(*, user, ids: Iterable[int]) -> int:
    """Acknowledge ``user``'s open reminders among ``ids``; returns how many changed.

    One conditional UPDATE: another user's reminder, one about a patient out of the user's scope,
    or one already acknowledged or cancelled, is left alone, so a double click or two open tabs
    acknowledge each reminder once.
    """
    wanted = {int(i) for i in ids}
    if not wanted or not getattr(user, "pk", None):
        return 0
    return (
        open_reminders(user)
        .filter(pk__in=wanted)
        .exclude(~Q(channel=Reminder.Channel.INBOX), status__in=UNDELIVERED)
        .update(status=Reminder.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user)
    )


def may_acknowledge(user, reminder: Reminder) -> bool:
    """The reminder's own recipient, or an administrator."""
    if role_of(user) == Role.ADMINISTRATOR:
        return True
    if reminder.recipient_user_id is not None:
        return reminder.recipient_user_id == user.pk
    email = (getattr(user, "email", "") or "").strip().lower()
    return reminder.channel == Reminder.Channel.EMAIL and bool(email) and reminder.recipient.lower() == email


@transaction.atomic
def acknowledge_reminder(*, reminder: Reminder, by) -> Reminder:
    """Mark ``reminder`` acknowledged by ``by``; acknowledging twice is a no-op, not an error.

    A conditional UPDATE claims the row, so two people acknowledging at once record one of them
    and a delivery task racing with us never turns an acknowledged reminder back into "sent"; a
    message not yet delivered is never matched, so it is still sent.
    """
    if not may_acknowledge(by, reminder):
        raise PermissionDenied("Only the reminder's recipient or an administrator may acknowledge it.")
    deliverable = Q(status__in=OPEN_STATUSES) & ~(~Q(channel=Reminder.Channel.INBOX) & Q(status__in=UNDELIVERED))
    updated = (
        Reminder.objects.filter(pk=reminder.pk)
        .filter(deliverable)
        .update(status=Reminder.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=by)
    )
    reminder.refresh_from_db()
    if not updated and reminder.status == Reminder.Status.CANCELLED:
        fail("status", "This reminder was cancelled; there is nothing to acknowledge.")
    if not updated and reminder.status in UNDELIVERED:
        fail("status", "This message has not been delivered yet; acknowledge it once it has been sent.")
    return reminder
