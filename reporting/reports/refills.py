"""Refill figures: timeliness, intervals and the pump-days they are counted over."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import connection

from registry.models import (
    Refill,
    RefillMonth,
)
from reporting.reports.scope import (
    DAYS_PER_YEAR,
    Scope,
    _days,
    _median,
    _pump_days_by,
    _rate,
    _rows,
    _sites_sql,
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
    previous refill of its pump chain. Whole months come from their rollup (``RefillMonth``, kept
    by triggers); a month the period covers only in part is its rollup less the refills of its
    days outside the period, or the refills of its days inside, whichever are fewer days. One
    statement grouped two ways (PostgreSQL's grouping sets; two passes over its rows elsewhere),
    so a few hundred rows come back.
    """
    sites, params = _sites_sql(scope, "site_id")
    months, days = _month_split(start, end)
    members = []
    if months:
        params.update(first_month=months[0], last_month=months[-1])
        members.append(
            "SELECT site_id, timeliness, interval_days, refills AS n FROM registry_refillmonth"  # noqa: S608
            f" WHERE month >= %(first_month)s AND month <= %(last_month)s AND {sites}"
        )
    for i, (first, last, sign) in enumerate(days):
        params.update({f"first_{i}": first, f"last_{i}": last, f"sign_{i}": sign})
        members.append(
            f"SELECT site_id, timeliness, COALESCE(interval_days, {RefillMonth.NO_INTERVAL}), %(sign_{i})s"  # noqa: S608
            " FROM registry_refill WHERE NOT entered_in_error AND site_id IS NOT NULL"
            f" AND performed_on >= %(first_{i})s AND performed_on <= %(last_{i})s AND {sites}"
        )
    counted = f"WITH counted (site_id, timeliness, interval_days, n) AS ({' UNION ALL '.join(members)})"
    if connection.vendor == "postgresql":
        # GROUPING(...) is 0 on the rows grouped by site and timeliness, 3 on those by interval.
        sql = f"""{counted}
            SELECT GROUPING(site_id, timeliness), site_id, timeliness, interval_days, SUM(n) FROM counted
             GROUP BY GROUPING SETS ((site_id, timeliness), (interval_days))"""  # noqa: S608
    else:
        sql = f"""{counted}
            SELECT 0, site_id, timeliness, NULL, SUM(n) FROM counted GROUP BY site_id, timeliness
            UNION ALL
            SELECT 3, NULL, NULL, interval_days, SUM(n) FROM counted GROUP BY interval_days"""  # noqa: S608
    by_site, intervals = Counter(), Counter()
    for by_interval, site, kind, days_between, n in _rows(sql, params):
        if not n:
            continue  # a key whose refills were all corrected or moved away
        if not by_interval:
            by_site[(site, kind)] += n
        elif days_between != RefillMonth.NO_INTERVAL:
            intervals[days_between] += n
    return by_site, intervals


def _month_split(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date, int]]]:
    """The months read whole from the rollup (consecutive first days), and the days whose refills
    are read one by one as (first, last, +1 to add them or -1 to take them away)."""
    months, days = [], []
    one = dt.timedelta(days=1)
    month = start.replace(day=1)
    while month <= end:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        first, last = max(month, start), min(following - one, end)
        inside, length = (last - first).days + 1, (following - month).days
        if 2 * inside < length:
            days.append((first, last, 1))
        else:
            months.append(month)
            if month < first:
                days.append((month, first - one, -1))
            if last < following - one:
                days.append((last + one, following - one, -1))
        month = following
    return months, days


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
