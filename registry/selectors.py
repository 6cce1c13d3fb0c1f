"""Reads shared by the dashboard, the API, the admin and the tasks (STYLE.md, "selectors").

A patient's refill status depends on the day, so it is not stored: it is annotated in SQL from the
stored dates and each site's own "today" (its time zone) and lead window, with the same rules as
``registry.scheduling.refill_status``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Case, CharField, DateField, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from registry import scheduling
from registry.models import Patient, Site

URGENCY = {"critical": 0, "overdue": 1, "due": 2, "upcoming": 3, "none": 4}


def site_days(now: dt.datetime | None = None, sites: QuerySet[Site] | None = None) -> dict[tuple[dt.date, int], list]:
    """Group site ids by (today in the site's zone, the site's refill lead window)."""
    now = now or timezone.now()
    groups: dict[tuple[dt.date, int], list] = defaultdict(list)
    for pk, tz, leads in (sites if sites is not None else Site.objects.all()).values_list(
        "pk", "time_zone", "refill_lead_days"
    ):
        today = scheduling.today_in(Site(time_zone=tz).zone, now)
        groups[(today, max(leads or [0]))].append(pk)
    return groups


def with_refill_status(qs: QuerySet[Patient], now: dt.datetime | None = None) -> QuerySet[Patient]:
    """Annotate ``site_today``, ``refill_status`` and ``urgency`` (0 = most urgent)."""
    groups = site_days(now)
    today = Case(
        *[When(site_id__in=ids, then=Value(day)) for (day, _), ids in groups.items()],
        default=Value(timezone.now().date()),
        output_field=DateField(),
    )
    status_whens = [When(next_refill_due__isnull=True, then=Value("none"))]
    for (day, lead), ids in groups.items():
        status_whens += [
            When(site_id__in=ids, alarm_date__lte=day, then=Value("critical")),
            When(site_id__in=ids, next_refill_due__lt=day, then=Value("overdue")),
            When(site_id__in=ids, next_refill_due__lte=day + dt.timedelta(days=lead), then=Value("due")),
        ]
    status = Case(*status_whens, default=Value("upcoming"), output_field=CharField())
    urgency = Case(*[When(refill_status=k, then=Value(v)) for k, v in URGENCY.items()], output_field=IntegerField())
    return qs.annotate(site_today=today, refill_status=status).annotate(urgency=urgency)


def patient_refill_status(patient: Patient, now: dt.datetime | None = None) -> str:
    """The same rule for one loaded patient (no query beyond its site)."""
    site = patient.site
    today = scheduling.today_in(site.zone, now or timezone.now())
    return scheduling.refill_status(
        today,
        due_date=patient.next_refill_due,
        alarm_date=patient.alarm_date,
        lead_window_days=max(site.refill_lead_days or [0]),
    )


def refill_worklist(
    *, start: dt.date | None = None, end: dt.date, sites: QuerySet[Site] | None = None, now: dt.datetime | None = None
) -> QuerySet[Patient]:
    """Implanted patients whose refill is due by ``end`` (and on/after ``start``), or critical.

    Critical and overdue patients are always included whatever ``start`` says: nobody past their
    alarm date may fall out of a window. Most urgent first, then earliest due date.
    """
    qs = Patient.objects.filter(next_refill_due__isnull=False, next_refill_due__lte=end)
    if start is not None:
        today = (now or timezone.now()).date()
        qs = qs.filter(Q(next_refill_due__gte=start) | Q(next_refill_due__lt=today + dt.timedelta(days=1)))
    if sites is not None:
        qs = qs.filter(site__in=sites)
    return with_refill_status(qs.select_related("site", "primary_clinician"), now).order_by(
        "urgency", "alarm_date", "next_refill_due", "id"
    )
