"""The text of a reminder: the e-mail or SMS a claimed batch becomes, from ``templates/reminders/``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from registry.models import RefillAppointment, Reminder, site_today
from registry.services.reminders.delivery import Claim


@dataclass(frozen=True)
class Message:
    recipient: str
    channel: str
    subject: str
    body: str


def _patient_link(patient_id: int) -> str:
    return f"{settings.SITE_URL}/patients/{patient_id}/"


def when_text(reminder: Reminder, now: dt.datetime) -> str:
    """How far the reminder's date is from today at its site, when the message goes out or the inbox
    shows it (a sweep that catches up, or a retried delivery, is later than the lead it was made for)."""
    days = (reminder.due_date - site_today(reminder.site, now)).days
    if days > 0:
        return f"in {days} day{'s' if days != 1 else ''}"
    if days == 0:
        return "today"
    return f"{-days} day{'s' if days != -1 else ''} ago"


def _booked_visits(reminders: list[Reminder]) -> dict[int, RefillAppointment]:
    """The open refill booking of each family reminder's patient (one query)."""
    patients = {r.patient_id for r in reminders if r.kind == Reminder.Kind.REFILL_DUE}
    if not patients:
        return {}
    booked = RefillAppointment.objects.filter(patient_id__in=patients, status=RefillAppointment.Status.BOOKED)
    return {v.patient_id: v for v in booked.select_related("site")}


def render(claimed: Claim) -> Message:
    """The message for a claimed batch, from ``templates/reminders/``.

    Staff messages name no patient (no name, MRN or date of birth, which e-mail must not carry):
    the kind, the date, the site and a link into the app, where the reader logs in. Family
    messages carry the appointment date and the clinic's phone, and nothing clinical.
    """
    first = claimed.reminders[0]
    channel, recipient = first.channel, first.recipient
    now = timezone.now()
    family = channel in (Reminder.Channel.FAMILY_EMAIL, Reminder.Channel.FAMILY_SMS)
    visits = _booked_visits(claimed.reminders) if family else {}
    items = []
    for r in claimed.reminders:
        visit = visits.get(r.patient_id)
        items.append(
            {
                "kind": r.get_kind_display(),
                "kind_code": r.kind,
                # Why there is no refill date (the patient's stored reason; it names no one).
                "detail": r.patient.schedule_attention if r.kind == Reminder.Kind.REFILL_ATTENTION else "",
                "date": r.due_date,
                "when": when_text(r, now),
                "site": r.site.name,
                "phone": r.site.phone,
                "link": _patient_link(r.patient_id),
                # The clinic's wall-clock time (naive: a template would convert an aware one to UTC).
                "visit_at": visit.local_start.replace(tzinfo=None) if visit else None,
                "visit_clinic": visit.site.name if visit else "",
            }
        )
    context = {"items": items, "site": first.site, "count": len(items)}
    if channel == Reminder.Channel.EMAIL:
        urgent = any(r.kind == Reminder.Kind.REFILL_CRITICAL for r in claimed.reminders)
        subject = f"{'URGENT: ' if urgent else ''}ITB registry: {len(items)} reminder{'s' if len(items) > 1 else ''}"
        return Message(recipient, channel, subject, render_to_string("reminders/staff_email.txt", context))
    if channel == Reminder.Channel.FAMILY_EMAIL:
        subject = f"Reminder from {' '.join(first.site.name.split())}"  # one header line, whatever was typed
        return Message(recipient, channel, subject, render_to_string("reminders/family_email.txt", context))
    return Message(recipient, channel, "", render_to_string("reminders/family_sms.txt", context).strip())
