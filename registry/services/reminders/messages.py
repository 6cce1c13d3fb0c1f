"""The text of a reminder: the e-mail or SMS a claimed batch becomes, from ``templates/reminders/``."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from registry.models import Reminder
from registry.services.reminders.delivery import Claim


@dataclass(frozen=True)
class Message:
    recipient: str
    channel: str
    subject: str
    body: str


def _patient_link(patient_id: int) -> str:
    return f"{settings.SITE_URL}/patients/{patient_id}/"


def _when(reminder: Reminder) -> str:
    if reminder.lead_days > 0:
        return f"in {reminder.lead_days} day{'s' if reminder.lead_days != 1 else ''}"
    if reminder.lead_days == 0:
        return "today"
    return f"{-reminder.lead_days} day{'s' if reminder.lead_days != -1 else ''} ago"


def render(claimed: Claim) -> Message:
    """The message for a claimed batch, from ``templates/reminders/``.

    Staff messages name no patient (no name, MRN or date of birth, which e-mail must not carry):
    the kind, the date, the site and a link into the app, where the reader logs in. Family
    messages carry the appointment date and the clinic's phone, and nothing clinical.
    """
    first = claimed.reminders[0]
    channel, recipient = first.channel, first.recipient
    items = [
        {
            "kind": r.get_kind_display(),
            "kind_code": r.kind,
            "date": r.due_date,
            "when": _when(r),
            "site": r.site.name,
            "phone": r.site.phone,
            "link": _patient_link(r.patient_id),
        }
        for r in claimed.reminders
    ]
    context = {"items": items, "site": first.site, "count": len(items)}
    if channel == Reminder.Channel.EMAIL:
        urgent = any(r.kind == Reminder.Kind.REFILL_CRITICAL for r in claimed.reminders)
        subject = f"{'URGENT: ' if urgent else ''}ITB registry: {len(items)} reminder{'s' if len(items) > 1 else ''}"
        return Message(recipient, channel, subject, render_to_string("reminders/staff_email.txt", context))
    if channel == Reminder.Channel.FAMILY_EMAIL:
        subject = f"Reminder from {first.site.name}"
        return Message(recipient, channel, subject, render_to_string("reminders/family_email.txt", context))
    return Message(recipient, channel, "", render_to_string("reminders/family_sms.txt", context).strip())
