"""The contact log: calls and messages with a patient's family, as the coordinator logged them."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from registry.models import ContactAttempt, Patient
from registry.services.base import fail, validated_save

# A few minutes of clock skew between a phone and the server is not "the future".
_FUTURE_TOLERANCE = dt.timedelta(minutes=10)


def log_contact(
    *,
    patient: Patient,
    contacted_at: dt.datetime,
    outcome: str,
    channel: str = ContactAttempt.Channel.PHONE,
    contact_with: str = "",
    note: str = "",
    by=None,
) -> ContactAttempt:
    if timezone.is_naive(contacted_at):
        fail("contacted_at", "Give the time with its time zone.")
    if contacted_at > timezone.now() + _FUTURE_TOLERANCE:
        fail("contacted_at", "A contact cannot be logged in the future.")
    if contacted_at.astimezone(patient.site.zone).date() < patient.referred_on:
        fail("contacted_at", f"This is before the referral ({patient.referred_on:%d %b %Y}).")
    contact = ContactAttempt(
        patient=patient,
        contacted_at=contacted_at,
        channel=channel,
        outcome=outcome,
        contact_with=contact_with,
        note=note,
        recorded_by=by if getattr(by, "pk", None) else None,
    )
    return validated_save(contact, by=by)
