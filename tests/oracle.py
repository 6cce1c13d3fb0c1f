"""The worklist computed in Python from the records: the oracle the SQL worklist is tested against.

Every rule comes from ``registry.scheduling`` (the rule tables and their Python evaluation); only
the reading is different: every row is loaded and each rule applied one row at a time, and a
visit's "rebooked" (the stored ``FollowUp.superseded`` the triggers keep) is worked out here from
the patient's other visits, so the triggers are checked too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import QuerySet
from django.utils import timezone

from registry import scheduling
from registry.models import FollowUp, Patient
from registry.selectors.worklist import WORK_KINDS, WorkItem, _battery_item, _follow_up_item, _refill_item


def rebooked(visit: FollowUp, visits: list[FollowUp]) -> bool:
    """The patient has a later, not cancelled visit of the same kind."""
    return any(
        v.kind == visit.kind and v.due_date > visit.due_date and v.status != FollowUp.Status.CANCELLED for v in visits
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
        if "refill" in kinds and p.refill_status != "none" and p.next_refill_due <= end:
            early = start is not None and p.next_refill_due < start
            if not (early and p.refill_status == scheduling.REFILL_STATUS_OTHERWISE):
                items.append(_refill_item(p))
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
                rebooked=rebooked(v, visits_of[p.pk]),
            )
            if status is not None:
                items.append(_follow_up_item(v, p, status))
    items.sort(key=WorkItem.sort_key)
    return items
