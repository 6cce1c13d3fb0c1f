"""The worklist computed in Python from the records: the oracle the SQL worklist is tested against.

Every rule comes from ``registry.scheduling`` (the rule tables and their Python evaluation); only
the reading is different: every row is loaded and each rule applied one row at a time, and a
visit's "rebooked" (the stored ``FollowUp.superseded`` the triggers keep) is worked out here from
the patient's other visits by ``scheduling.superseded``, so the triggers are checked too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import QuerySet
from django.utils import timezone

from registry import scheduling
from registry.models import FollowUp, Patient, RefillAppointment
from registry.selectors.worklist import (
    _AHEAD_OF_NO_SHOW,
    WORK_KINDS,
    WorkItem,
    _battery_item,
    _follow_up_item,
    _refill_item,
)


def worklist(
    *,
    start: dt.date | None,
    end: dt.date,
    patients: QuerySet[Patient] | None = None,
    kinds: tuple[str, ...] = WORK_KINDS,
    now: dt.datetime | None = None,
    battery_window_days: int = 180,
) -> list[WorkItem]:
    """What ``registry.selectors.worklist_page`` lists, every item, most urgent first."""
    now = now or timezone.now()
    chosen = patients if patients is not None else Patient.objects.all()
    people = list(chosen.select_related("site", "primary_clinician"))
    visits_of: dict[int, list[FollowUp]] = defaultdict(list)
    for visit in FollowUp.objects.filter(patient__in=[p.pk for p in people]):
        visits_of[visit.patient_id].append(visit)
    booked = RefillAppointment.objects.filter(patient__in=[p.pk for p in people], status="booked")
    booking_of = {b.patient_id: b for b in booked.select_related("site")}
    items: list[WorkItem] = []
    for p in people:
        if p.status in scheduling.LEFT_WORKLIST_STATUSES:
            continue
        site = p.site
        today = scheduling.today_in(site.zone, now)
        p.site_today = today
        p.refill_status = scheduling.refill_status(
            today,
            due_date=p.next_refill_due,
            alarm_date=p.alarm_date,
            lead_window_days=max(site.refill_lead_days or [0]),
            basis=p.refill_due_basis,
        )
        booking = booking_of.get(p.pk)
        p.booking_id, p.booking_at = (booking.pk, booking.starts_at) if booking else (None, None)
        p.booking_clinic, p.booking_zone = (booking.site.name, booking.site.time_zone) if booking else (None, None)
        # A booked refill visit whose day has passed at its clinic: a no-show, listed whatever the window.
        no_show = booking is not None and booking.starts_on < scheduling.today_in(booking.site.zone, now)
        status = "no_show" if no_show and p.refill_status not in _AHEAD_OF_NO_SHOW else p.refill_status
        if "refill" in kinds and p.refill_status != "none" and (p.next_refill_due <= end or no_show):
            early = start is not None and p.next_refill_due < start
            if not (early and status == scheduling.REFILL_STATUS_OTHERWISE):
                items.append(_refill_item(p, status))
        eri = p.battery_eri_date
        if "battery" in kinds and eri is not None and eri <= end + dt.timedelta(days=battery_window_days):
            items.append(_battery_item(p, "overdue" if eri <= today else "due"))
        if "follow_up" not in kinds:
            continue
        for v in visits_of[p.pk]:
            if v.due_date > end:
                continue
            if start is not None and v.status == "scheduled" and v.due_date < start - dt.timedelta(days=30):
                continue
            status = scheduling.visit_work_status(
                today,
                status=v.status,
                visit_date=v.due_date,
                grace_days=site.follow_up_grace_days,
                rebooked=scheduling.superseded(v, visits_of[p.pk]),
            )
            if status is not None:
                items.append(_follow_up_item(v, p, status))
    items.sort(key=WorkItem.sort_key)
    return items
