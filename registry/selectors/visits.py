"""Booked visits of a set of clinics in a window: the calendar feed's events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry.models import FollowUp, RefillAppointment


@dataclass(frozen=True)
class Visit:
    """One booked visit, with only what a calendar may show: initials and MRN, never a name."""

    uid: str
    kind: str
    starts_at: dt.datetime | None  # None: a follow-up with a date but no time (an all-day event)
    day: dt.date
    clinic: str
    initials: str
    mrn: str
    patient_id: int
    updated: dt.datetime | None


def _initials(given: str, family: str) -> str:
    return f"{given[:1]}{family[:1]}".upper()


def booked_visits(site_ids: list[int] | None, *, start: dt.date, end: dt.date) -> list[Visit]:
    """Open refill bookings and scheduled follow-ups of ``site_ids`` (None: all) from ``start`` to
    ``end``; two queries."""
    refills = RefillAppointment.objects.filter(
        status=RefillAppointment.Status.BOOKED, starts_on__gte=start, starts_on__lte=end
    ).select_related("site", "patient")
    follow_ups = FollowUp.objects.filter(
        status=FollowUp.Status.SCHEDULED, superseded=False, due_date__gte=start, due_date__lte=end
    ).select_related("site", "patient")
    if site_ids is not None:
        refills = refills.filter(site_id__in=site_ids)
        follow_ups = follow_ups.filter(site_id__in=site_ids)
    visits = [
        Visit(
            uid=f"refill-visit-{v.pk}",
            kind="Refill visit",
            starts_at=v.starts_at,
            day=v.starts_on,
            clinic=v.site.name,
            initials=_initials(v.patient.given_name, v.patient.family_name),
            mrn=v.patient.mrn,
            patient_id=v.patient_id,
            updated=v.created_at,
        )
        for v in refills
    ]
    visits += [
        Visit(
            uid=f"follow-up-{f.pk}",
            kind=f.get_kind_display(),
            starts_at=f.scheduled_at,
            day=f.due_date,
            clinic=f.site.name,
            initials=_initials(f.patient.given_name, f.patient.family_name),
            mrn=f.patient.mrn,
            patient_id=f.patient_id,
            updated=None,
        )
        for f in follow_ups
    ]
    return sorted(visits, key=lambda v: (v.day, v.starts_at or dt.datetime.min.replace(tzinfo=dt.UTC), v.uid))
