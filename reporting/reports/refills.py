"""Refill figures: timeliness, intervals and the pump-days they are counted over."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Window
from django.db.models.functions import Lag

from registry.models import (
    PatientStatus,
    Pump,
    Refill,
    SiteStay,
    StatusChange,
)
from reporting.reports.scope import (
    DAYS_PER_YEAR,
    INTERVAL_LOOKBACK_DAYS,
    Scope,
    _days,
    _instant_after,
    _instant_before,
    _local_date,
    _median,
    _overlapping_pumps,
    _pump_days,
    _rate,
)


class DayNumber(Func):
    """Days from 1970-01-01 to a date, as an integer (date arithmetic SQLite and PostgreSQL share)."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s - DATE '1970-01-01')", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


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
    T = Refill.Timeliness
    counts = {
        "performed": sum(by_timeliness.values()),
        "first": by_timeliness[T.FIRST],
        "on_time": by_timeliness[T.ON_TIME],
        "late": by_timeliness[T.LATE],
        "after_alarm": by_timeliness[T.AFTER_ALARM],
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

    One pass: a ``Lag`` window over each patient's refills in time order gives the previous
    refill's local day and pump; the pair is an interval when the previous pump is this pump or
    the one it replaced. The window reads refills from ``INTERVAL_LOOKBACK_DAYS`` before ``start``
    of the patients who were ever at a site in scope (wherever each refill was done, so the
    first refill after a move has its interval); an outer query keeps the period's refills done
    at a site in scope and counts them by (site, timeliness, interval), so a few hundred rows
    come back instead of one per refill (window results cannot be grouped in the same SELECT).

    A refill with no earlier refill in that stretch comes back by id and gets its predecessor from
    a second query, one indexed look-up each, so the first interval of the period reaches back as
    far as it must. Only refills whose chain may reach back that far are looked up: a pump that
    replaces none and was implanted inside the stretch has all its refills in it (the refill
    trigger of migration 0002 refuses a refill before the implant date), so its first refill
    there has no interval. Two queries.
    """
    local = _local_date("performed_at", "site_id", scope)
    day = DayNumber(local) if scope.zones else Value(None, output_field=IntegerField())
    window = {"partition_by": [F("pump__patient_id")], "order_by": [F("performed_at").asc(), F("id").asc()]}
    lookback = _instant_before(start - dt.timedelta(days=INTERVAL_LOOKBACK_DAYS))
    patients = Q()
    if not scope.everywhere:
        patients = Q(
            Exists(SiteStay.objects.filter(patient_id=OuterRef("pump__patient_id"), site_id__in=scope.site_ids))
        )
    inner = (
        Refill.objects.filter(patients, performed_at__gte=lookback, performed_at__lt=_instant_after(end))
        .values(
            "id",
            "timeliness",
            "pump_id",
            "site_id",
            replaces=F("pump__replaces_id"),
            day=day,
            prev_day=Window(Lag(day), **window),
            prev_pump=Window(Lag("pump_id"), **window),
            may_reach_back=ExpressionWrapper(
                Q(pump__replaces__isnull=False) | Q(pump__implant_date__lt=lookback.date() + dt.timedelta(days=2)),
                output_field=BooleanField(),
            ),
        )
        .order_by()
    )
    by_site, intervals, first_in_window = Counter(), Counter(), []
    try:
        # The inner SQL is Django's own, its parameters kept apart; only column names are added.
        inner_sql, params = inner.query.sql_with_params()
    except EmptyResultSet:  # a scope of no sites (``Site.objects.none()``)
        return by_site, intervals
    if not scope.site_ids:
        return by_site, intervals
    in_scope = "" if scope.everywhere else f" AND w.site_id IN ({', '.join(['%s'] * len(scope.site_ids))})"
    sql = (
        "SELECT w.site_id, w.timeliness,"  # noqa: S608
        " CASE WHEN w.prev_pump = w.pump_id OR w.prev_pump = w.replaces THEN w.day - w.prev_day END,"
        " CASE WHEN w.prev_day IS NULL AND w.may_reach_back THEN w.id END,"
        " COUNT(*)"
        f" FROM ({inner_sql}) w WHERE w.day >= %s AND w.day <= %s{in_scope} GROUP BY 1, 2, 3, 4"
    )
    site_params = [] if scope.everywhere else list(scope.site_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _day_number(start), _day_number(end), *site_params])
        for site, kind, days, pk, n in cursor.fetchall():
            by_site[(site, kind)] += n
            if days is not None:
                intervals[days] += n
            if pk is not None:
                first_in_window.append(pk)
    earlier = Refill.objects.filter(pump__patient_id=OuterRef("pump__patient_id")).filter(
        Q(performed_at__lt=OuterRef("performed_at")) | Q(performed_at=OuterRef("performed_at"), id__lt=OuterRef("id"))
    )
    earlier = earlier.order_by("-performed_at", "-id")
    # An empty list still queries (no id is -1): the same number of queries on every call.
    found = (
        Refill.objects.filter(pk__in=first_in_window or [-1])
        .annotate(
            prev_at=Subquery(earlier.values("performed_at")[:1]),
            prev_pump=Subquery(earlier.values("pump_id")[:1]),
            prev_zone=Subquery(earlier.values("site__time_zone")[:1]),
        )
        .values_list(
            "performed_at", "site__time_zone", "prev_at", "prev_zone", "pump_id", "prev_pump", "pump__replaces_id"
        )
        .order_by()
    )
    for at, zone, prev_at, prev_zone, pump, prev_pump, replaces in found:
        if prev_at is not None and prev_pump in (pump, replaces):
            here = at.astimezone(zoneinfo.ZoneInfo(zone)).date()
            intervals[(here - prev_at.astimezone(zoneinfo.ZoneInfo(prev_zone)).date()).days] += 1
    return by_site, intervals


def pump_days_by_site(scope: Scope, start: dt.date, end: dt.date) -> dict[int, int]:
    """**Pump-years**, per site.

    For each pump, the days of ``[implant_date, explant_date)`` inside the period (the explant day
    belongs to the successor; a pump left in place stops at the patient's death), split between
    sites by the patient's stays (a patient who moved mid-year brings pump time to each site for
    the days spent there), summed and divided by 365.25.
    """
    # Pumps of patients who never died need no date of death: one anti-join finds them, and only
    # the others look their date of death up (two queries).
    pumps = Pump.objects.filter(_overlapping_pumps(start, end)).filter(
        Q(patient__stays__started_on__isnull=True) | Q(patient__stays__started_on__lte=end),
        Q(patient__stays__ended_on__isnull=True) | Q(patient__stays__ended_on__gt=start),
        **({} if scope.everywhere else {"patient__stays__site_id__in": scope.site_ids}),
    )
    died = Exists(StatusChange.objects.filter(patient=OuterRef("patient_id"), to_status=PatientStatus.DECEASED))
    days: Counter = Counter()
    for qs, dead in ((pumps.filter(~died), False), (pumps.filter(died), True)):
        rows = (
            qs.values(site=F("patient__stays__site_id"))
            .annotate(d=Sum(_pump_days(start, end, died=dead, stays="patient__stays")))
            .order_by()
        )
        for r in rows:
            days[r["site"]] += max(_days(r["d"]), 0)
    return days


def pump_years(sites, start, end) -> float:
    """Unrounded pump-years of the period (rates divide by this, the report shows it rounded)."""
    return sum(pump_days_by_site(Scope.of(sites), start, end).values()) / DAYS_PER_YEAR
