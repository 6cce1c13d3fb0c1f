"""Who is counted and where each event happened: the constants, the pure helpers and the query
building blocks every section shares."""

from __future__ import annotations

import datetime as dt
import math
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    DateField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncDate

from registry.models import (
    PatientStatus,
    Site,
    SiteStay,
    StatusChange,
)

# Kiresuk & Sherman's inter-goal correlation (docs/reporting.md, "Goal attainment"). It is part of
# the scale's definition, not a clinical default, so it is a constant rather than a site setting.
GAS_RHO = 0.3
DAYS_PER_YEAR = 365.25
NOT_RECORDED = "not_recorded"
ACTIVE_STATUSES = [
    PatientStatus.REFERRED,
    PatientStatus.EVALUATING,
    PatientStatus.SCREENING,
    PatientStatus.CANDIDATE,
    PatientStatus.IMPLANTED,
]


# --- Pure helpers ------------------------------------------------------------------------------


def gas_t_score_from_sums(sum_wx: float, sum_w2: float, sum_w: float, rho: float = GAS_RHO) -> float:
    """T = 50 + 10·Σwx / sqrt((1−ρ)·Σw² + ρ·(Σw)²) (Kiresuk & Sherman)."""
    return 50 + 10 * sum_wx / math.sqrt((1 - rho) * sum_w2 + rho * sum_w**2)


def gas_t_score(goals: Iterable[tuple[int, int]], rho: float = GAS_RHO) -> float | None:
    """T-score of one patient's reviewed goals given as (weight, score) pairs; None without goals."""
    pairs = list(goals)
    if not pairs:
        return None
    return gas_t_score_from_sums(
        sum(w * x for w, x in pairs), sum(w * w for w, _ in pairs), sum(w for w, _ in pairs), rho
    )


def age_in_years(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _rate(part: int, whole: int | float, per: int = 1, digits: int = 3) -> float | None:
    return round(part / whole * per, digits) if whole else None


def _days(value) -> int:
    """A summed date difference: a timedelta on every backend Django supports, or a number."""
    if value is None:
        return 0
    if isinstance(value, dt.timedelta):
        return value.days
    return int(value)


# --- Scope: which sites, and where each event happened -----------------------------------------


@dataclass(frozen=True)
class Scope:
    """The sites reported on (``sites`` None: all) with their ids and time zones, read once."""

    sites: QuerySet[Site] | None
    site_ids: tuple[int, ...]
    zones: dict[str, tuple[int, ...]]  # time zone -> ids of the sites in scope that use it
    names: dict[int, str]

    @classmethod
    def of(cls, sites: QuerySet[Site] | None) -> Scope:
        qs = Site.objects.all() if sites is None else Site.objects.filter(pk__in=sites.values("pk"))
        rows = list(qs.order_by("name").values_list("pk", "name", "time_zone"))
        zones: dict[str, list[int]] = defaultdict(list)
        for pk, _, zone in rows:
            zones[zone].append(pk)
        return cls(
            sites,
            tuple(pk for pk, _, _ in rows),
            {z: tuple(ids) for z, ids in sorted(zones.items())},
            {pk: name for pk, name, _ in rows},
        )

    @property
    def everywhere(self) -> bool:
        return self.sites is None


def _stay_holds_sql(stay: str, day: str) -> str:
    """The stay (alias ``stay``) whose dates hold ``day`` (an SQL expression). Statements join the
    stays to their rows by patient directly, not through the patients table."""
    return (
        f"({stay}.started_on IS NULL OR {stay}.started_on <= {day}) "
        f"AND ({stay}.ended_on IS NULL OR {stay}.ended_on > {day})"
    )


def _sites_sql(scope: Scope, column: str) -> tuple[str, dict]:
    """SQL and its named parameters for "``column`` is a site in scope" (true everywhere)."""
    if scope.everywhere:
        return "1 = 1", {}
    if not scope.site_ids:
        return "1 = 0", {}
    params = {f"site_{i}": pk for i, pk in enumerate(scope.site_ids)}
    return f"{column} IN ({', '.join(f'%({name})s' for name in params)})", params


def _happened_at_sql(scope: Scope, patient: str, day: str) -> tuple[str, dict]:
    """``_happened_at`` in SQL: the patient (an SQL expression) had a stay in scope holding ``day``."""
    if scope.everywhere:
        return "1 = 1", {}
    sites, params = _sites_sql(scope, "hs.site_id")
    return (
        f"EXISTS (SELECT 1 FROM registry_sitestay hs WHERE hs.patient_id = {patient} AND {sites} "  # noqa: S608
        f"AND {_stay_holds_sql('hs', day)})",
        params,
    )


def _happened_at(scope: Scope, patient: str, day) -> Q:
    """Events of the patient at ``patient`` (an id path) dated ``day`` that happened at a site in scope."""
    if scope.everywhere:
        return Q()
    when = OuterRef(day) if isinstance(day, str) else day
    stays = SiteStay.objects.filter(patient_id=OuterRef(patient), site_id__in=scope.site_ids).filter(
        Q(started_on__isnull=True) | Q(started_on__lte=when), Q(ended_on__isnull=True) | Q(ended_on__gt=when)
    )
    return Q(Exists(stays))


def _in_sites(scope: Scope, field: str) -> Q:
    """Rows whose own site (``field``, e.g. a refill's) is in scope."""
    return Q() if scope.everywhere else Q(**{f"{field}__in": scope.site_ids})


def _local_date(field: str, site_field: str, scope: Scope):
    """The calendar date of a timestamp in the zone of the row's site: one CASE arm per zone."""
    if not scope.zones:
        return Value(None, output_field=DateField())
    if len(scope.zones) == 1:
        return TruncDate(field, tzinfo=zoneinfo.ZoneInfo(next(iter(scope.zones))))
    return Case(
        *[
            When(**{f"{site_field}__in": ids}, then=TruncDate(field, tzinfo=zoneinfo.ZoneInfo(z)))
            for z, ids in scope.zones.items()
        ],
        output_field=DateField(),
    )


def _instant_after(end: dt.date) -> dt.datetime:
    """An instant after the end of ``end`` in every time zone (UTC+14 is the furthest ahead)."""
    return dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)


def _instant_before(start: dt.date) -> dt.datetime:
    """An instant before the start of ``start`` in every time zone (UTC-12 is the furthest behind)."""
    return dt.datetime.combine(start - dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)


def _date(value: dt.date):
    return Value(value, output_field=DateField())


def _death_date(patient_ref: str = "patient_id"):
    return Subquery(
        StatusChange.objects.filter(patient=OuterRef(patient_ref), to_status=PatientStatus.DECEASED)
        .order_by("changed_on")
        .values("changed_on")[:1],
        output_field=DateField(),
    )


def _status_at(end: dt.date):
    return Subquery(
        StatusChange.objects.filter(patient=OuterRef("pk"), changed_on__lte=end)
        .order_by("-changed_on", "-id")
        .values("to_status")[:1]
    )


# Days from 1970-01-01 to a date, as an integer: date arithmetic SQLite and PostgreSQL share.
_DAY_NUMBER = {
    "postgresql": "({} - DATE '1970-01-01')",
    "sqlite": "CAST(julianday({}) - 2440587.5 AS INTEGER)",
}


def _day_sql(expression: str) -> str:
    """Days from 1970-01-01 to an SQL date expression, on the database in use."""
    return _DAY_NUMBER[connection.vendor].format(expression)


def _greatest_sql(*expressions: str) -> str:
    """The largest of non-null SQL values (SQLite's scalar MAX is PostgreSQL's GREATEST)."""
    return f"{'GREATEST' if connection.vendor == 'postgresql' else 'MAX'}({', '.join(expressions)})"


def _least_sql(*expressions: str) -> str:
    """The smallest of non-null SQL values (SQLite's scalar MIN is PostgreSQL's LEAST)."""
    return f"{'LEAST' if connection.vendor == 'postgresql' else 'MIN'}({', '.join(expressions)})"


def _rows(sql: str, params: dict | tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _pump_days_by(scope: Scope, start: dt.date, end: dt.date, key: str) -> list[tuple]:
    """Days of each pump's ``[implant, explant)`` inside ``[start, end]``, summed by ``key`` ("site"
    or "patient"), as (key, days) rows.

    A pump left in place after the patient died stops counting on the date of death, and only the
    days inside each of the patient's stays at a site in scope count, at that site: the spans
    stored per pump and stay (``PumpSpan``, kept by triggers) cut there, so each is clipped to the
    period and summed, without joining the pumps, stays and deaths again.
    """
    sites, params = _sites_sql(scope, "site_id")
    first = _greatest_sql("started_on", "%(start)s")
    last = _least_sql("COALESCE(ended_on, %(after_end)s)", "%(after_end)s")
    column = {"site": "site_id", "patient": "patient_id"}[key]
    sql = f"""
        SELECT {column}, SUM({_day_sql(last)} - {_day_sql(first)}) FROM registry_pumpspan
         WHERE started_on <= %(end)s AND (ended_on IS NULL OR ended_on > %(start)s) AND {sites}
         GROUP BY {column}
    """  # noqa: S608 (only the code's own SQL is interpolated)
    params.update(start=start, end=end, after_end=end + dt.timedelta(days=1))
    return _rows(sql, params)
