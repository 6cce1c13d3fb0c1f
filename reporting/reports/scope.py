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

from django.db.models import (
    Case,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, TruncDate

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


def _stay_holds(stays: str, day) -> Q:
    """The stay (relation path ``stays``) whose dates hold ``day`` (a field name or a date)."""
    when = F(day) if isinstance(day, str) else day
    return (Q(**{f"{stays}__started_on__isnull": True}) | Q(**{f"{stays}__started_on__lte": when})) & (
        Q(**{f"{stays}__ended_on__isnull": True}) | Q(**{f"{stays}__ended_on__gt": when})
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


def _pump_days(start: dt.date, end: dt.date, died: bool = True, stays: str | None = None):
    """Days of the pump's ``[implant, explant)`` inside ``[start, end]``, as an SQL duration.

    A pump left in place after the patient died stops counting on the date of death (``died=False``
    leaves out that look-up, for pumps of patients known to be alive). With ``stays`` (a relation
    path to the patient's stays), only the days inside that stay count.
    """
    after_end = _date(end + dt.timedelta(days=1))
    firsts = [F("implant_date"), _date(start)]
    lasts = [Coalesce(F("explant_date"), after_end), after_end]
    if died:
        lasts.append(Coalesce(_death_date(), after_end))
    if stays:
        firsts.append(Coalesce(F(f"{stays}__started_on"), _date(start)))
        lasts.append(Coalesce(F(f"{stays}__ended_on"), after_end))
    first = Greatest(*firsts, output_field=DateField())
    # A pump whose patient died before the period starts counts 0 days, not negative ones.
    last = Greatest(Least(*lasts, output_field=DateField()), first, output_field=DateField())
    return ExpressionWrapper(last - first, output_field=DurationField())


def _overlapping_pumps(start: dt.date, end: dt.date) -> Q:
    return Q(implant_date__lte=end) & (Q(explant_date__isnull=True) | Q(explant_date__gt=start))


def _status_at(end: dt.date):
    return Subquery(
        StatusChange.objects.filter(patient=OuterRef("pk"), changed_on__lte=end)
        .order_by("-changed_on", "-id")
        .values("to_status")[:1]
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
