"""Refill figures: timeliness, intervals and the pump-days they are counted over."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import (
    Count,
)

from registry.models import (
    Refill,
)
from reporting.reports.scope import (
    DAYS_PER_YEAR,
    Scope,
    _days,
    _median,
    _pump_days_by,
    _rate,
)

LATE = (Refill.Timeliness.LATE, Refill.Timeliness.AFTER_ALARM)


def _refills(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Refills**: refills performed in the period, at the site where each was done.

    A refill's date is its local date in the zone of that site (a refill done before the patient
    moved keeps the old site and its zone). Refills are counted by the stored timeliness of the
    cycle each one closed (first fill, on time, late, after the alarm date). The on-time rate and
    the **late share** ((late + after the alarm date) / closed cycles) leave first fills out. The
    **refill interval** is the days (local dates) between a refill and the patient's previous
    refill *in the same pump chain* (the same pump, or the pump it replaced), wherever that one
    was done, counted in the period of the later refill: the gap over an explant without
    successor is not a refill interval, a replacement is.
    """
    by_site, intervals = _refill_figures(scope, start, end)
    by_timeliness = Counter()
    for (_, kind), n in by_site.items():
        by_timeliness[kind] += n
    counts = {
        "performed": sum(by_timeliness.values()),
        "first": by_timeliness[Refill.Timeliness.FIRST],
        "on_time": by_timeliness[Refill.Timeliness.ON_TIME],
        "late": by_timeliness[Refill.Timeliness.LATE],
        "after_alarm": by_timeliness[Refill.Timeliness.AFTER_ALARM],
    }
    closed = counts["on_time"] + counts["late"] + counts["after_alarm"]
    values = sorted(intervals.elements())
    return {
        **counts,
        "closed": closed,
        "on_time_rate": _rate(counts["on_time"], closed),
        "late_share": _rate(counts["late"] + counts["after_alarm"], closed),
        "intervals": len(values),
        "median_interval_days": _median(values),
        "_by_site": by_site,
    }


def refill_intervals(sites, start, end) -> list[int]:
    """Days between each refill in the period and the previous one in its pump chain."""
    return sorted(_refill_figures(Scope.of(sites), start, end)[1].elements())


def _refill_figures(scope: Scope, start: dt.date, end: dt.date) -> tuple[Counter, Counter]:
    """Refills in the period by (site, timeliness), and the refill intervals as {days: how many}.

    From the facts stored with each refill when it is recorded (``registry.services.refills``):
    its local date at the site where it was done, its timeliness and its interval in days to the
    previous refill of its pump chain. One grouped query over the covering index on the local
    date, so a few hundred rows come back instead of one per refill.
    """
    rows = (
        Refill.objects.filter(performed_on__gte=start, performed_on__lte=end)
        .filter(**({} if scope.everywhere else {"site_id__in": scope.site_ids}))
        .values_list("site_id", "timeliness", "interval_days")
        .annotate(n=Count("*"))  # COUNT(*), not of the id: the id is not in the index
        .order_by()
    )
    by_site, intervals = Counter(), Counter()
    for site, kind, days, n in rows:
        by_site[(site, kind)] += n
        if days is not None:
            intervals[days] += n
    return by_site, intervals


def pump_days_by_site(scope: Scope, start: dt.date, end: dt.date) -> dict[int, int]:
    """**Pump-years**, per site.

    For each pump, the days of ``[implant_date, explant_date)`` inside the period (the explant day
    belongs to the successor; a pump left in place stops at the patient's death), split between
    sites by the patient's stays (a patient who moved mid-year brings pump time to each site for
    the days spent there), summed and divided by 365.25.
    """
    return Counter({site: max(_days(days), 0) for site, days in _pump_days_by(scope, start, end, "site")})


def pump_years(sites, start, end) -> float:
    """Unrounded pump-years of the period (rates divide by this, the report shows it rounded)."""
    return sum(pump_days_by_site(Scope.of(sites), start, end).values()) / DAYS_PER_YEAR
