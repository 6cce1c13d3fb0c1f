"""Refill visits: book, move and cancel; a recorded refill closes the patient's open booking.

A booking is checked against the stored schedule: one on or after the alarm date is refused
unless the coordinator confirms it (the reservoir would already be at its alarm volume), and one
after the due date is accepted but flagged on the worklist. A no-show is not written by a sweep:
it is an open booking whose day has passed (``registry.selectors.rules.no_show_q``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from registry.models import Patient, PatientStatus, Refill, RefillAppointment, Site
from registry.services.base import fail, validated_save
from registry.services.schedule import site_rules, site_today

Booking = RefillAppointment.Status


def _check_visit(patient: Patient, site: Site, starts_at: dt.datetime, confirmed: bool) -> dt.date:
    """The visit's local date at the clinic, once the booking rules pass."""
    if timezone.is_naive(starts_at):
        fail("starts_at", "Give the time with its time zone.")
    if patient.status != PatientStatus.IMPLANTED:
        fail("starts_at", f"This patient is {patient.get_status_display().lower()}: no refill visit is booked.")
    if not patient.pumps.filter(explant_date__isnull=True).exists():
        fail("starts_at", "This patient has no active pump: there is no refill to book.")
    day = starts_at.astimezone(site.zone).date()
    if day < site_today(site):
        fail("starts_at", "A visit cannot be booked in the past.")
    rules = site_rules(site)
    if not confirmed and (day.weekday() in rules.closed_weekdays or day in rules.closed_dates):
        fail("starts_at", f"{site.name} is closed on {day:%A %d %b %Y}: choose another day, or confirm.")
    if not confirmed and patient.alarm_date is not None and day >= patient.alarm_date:
        fail(
            "starts_at",
            f"This is on or after the low-reservoir alarm date ({patient.alarm_date:%d %b %Y}): "
            "book an earlier visit, or confirm that this date was agreed with the clinician.",
        )
    return day


@transaction.atomic
def book_refill_visit(
    *, patient: Patient, site: Site, starts_at: dt.datetime, note: str = "", confirmed: bool = False, by=None
) -> RefillAppointment:
    """Book the patient's refill visit; a patient has at most one open booking."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    current = patient.refill_appointments.filter(status=Booking.BOOKED).select_related("site").first()
    if current is not None and current.starts_on >= site_today(current.site):
        fail("starts_at", f"A visit is already booked for {current.local_start:%d %b %Y %H:%M}: move it instead.")
    day = _check_visit(patient, site, starts_at, confirmed)
    if current is not None:
        _close_as_no_show(current, by=by)
    visit = RefillAppointment(
        patient=patient,
        site=site,
        starts_at=starts_at,
        starts_on=day,
        note=note,
        booked_by=by if getattr(by, "pk", None) else None,
    )
    return validated_save(visit, by=by)


def _close_as_no_show(visit: RefillAppointment, *, by=None, reason: str = "") -> None:
    visit.status = Booking.NO_SHOW
    visit.cancel_reason = reason or visit.cancel_reason
    validated_save(visit, by=by)


def _open_visit(visit: RefillAppointment) -> RefillAppointment:
    visit = RefillAppointment.objects.select_for_update().select_related("site", "patient").get(pk=visit.pk)
    if visit.status != Booking.BOOKED:
        fail("starts_at", f"This visit is no longer booked ({visit.get_status_display().lower()}).")
    return visit


@transaction.atomic
def move_refill_visit(
    *,
    visit: RefillAppointment,
    starts_at: dt.datetime,
    site: Site | None = None,
    note: str | None = None,
    confirmed: bool = False,
    by=None,
) -> RefillAppointment:
    """Move an open booking. A booking whose day has passed was a no-show: it is kept as such and
    the new time is a new booking."""
    visit = _open_visit(visit)
    site = site or visit.site
    if visit.starts_on < site_today(visit.site):
        return book_refill_visit(
            patient=visit.patient,
            site=site,
            starts_at=starts_at,
            note=visit.note if note is None else note,
            confirmed=confirmed,
            by=by,
        )
    visit.starts_on = _check_visit(visit.patient, site, starts_at, confirmed)
    visit.site, visit.starts_at = site, starts_at
    if note is not None:
        visit.note = note
    return validated_save(visit, by=by)


@transaction.atomic
def cancel_refill_visit(*, visit: RefillAppointment, reason: str, by=None) -> RefillAppointment:
    """Cancel an open booking (a passed one is kept as a no-show). The refill stays due."""
    visit = _open_visit(visit)
    if not reason.strip():
        fail("cancel_reason", "Say why the visit is cancelled.")
    if visit.starts_on < site_today(visit.site):
        _close_as_no_show(visit, by=by, reason=reason)
        return visit
    visit.status = Booking.CANCELLED
    visit.cancel_reason = reason
    return validated_save(visit, by=by)


def close_visit_for_refill(refill: Refill, patient: Patient, *, by=None) -> None:
    """A refill done on or after the day the booking was made closes it, whatever day it was for
    (a refill from before the booking, entered late, leaves it open)."""
    zone = patient.site.zone
    day_after = dt.datetime.combine(refill.performed_at.astimezone(zone).date() + dt.timedelta(days=1), dt.time(), zone)
    for visit in patient.refill_appointments.filter(status=Booking.BOOKED, created_at__lt=day_after):
        visit.status = Booking.ATTENDED
        visit.refill = refill
        validated_save(visit, by=by)
