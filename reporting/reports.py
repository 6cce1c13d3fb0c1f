"""Program reporting: the figures a program publishes, computed in SQL.

``summary(sites=..., start=..., end=...)`` returns one JSON-ready dict of nested sections; ``tables``
turns it into the rows of every CSV table, and ``patient_export`` / ``pump_year_export`` give the
de-identified research rows. Every section is a fixed number of aggregate queries, so the number
of queries does not grow with the number of patients. Medians and confidence intervals are taken
in Python over a few aggregated rows.

Each figure's definition is the docstring of the function that computes it (``DEFINITIONS``);
``docs/reporting.md`` is generated from those docstrings and a test keeps the two identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
import zipfile
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Window
from django.db.models.functions import Coalesce, ExtractYear, Greatest, Lag, Least, RowNumber, TruncDate
from django.utils import timezone

from registry.models import (
    Complication,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    Reminder,
    ScreeningTrial,
    Site,
    SiteStay,
    StatusChange,
)
from reporting import anonymity, rates

# Kiresuk & Sherman's inter-goal correlation (docs/reporting.md, "Goal attainment"). It is part of
# the scale's definition, not a clinical default, so it is a constant rather than a site setting.
GAS_RHO = 0.3
DAYS_PER_YEAR = 365.25
NOT_RECORDED = "not_recorded"
# Refill intervals: the window reads this much history before the period (longer gaps are
# looked up one by one). Refill intervals are weeks to months; 200 days covers nearly all.
INTERVAL_LOOKBACK_DAYS = 200
ACTIVE_STATUSES = [
    PatientStatus.REFERRED,
    PatientStatus.EVALUATING,
    PatientStatus.SCREENING,
    PatientStatus.CANDIDATE,
    PatientStatus.IMPLANTED,
]
# Published ITB complication rates, per 100 pump-years, for the comparison on the reports page.
# Where a paper gives counts and mean follow-up rather than a rate, the rate is derived as
# events / (patients x mean years of follow-up) and said so.
LITERATURE = [
    {
        "figure": "infection",
        "low": 2.3,
        "high": 5.0,
        "sources": [
            "Imerci A et al. Complications of intrathecal baclofen treatment in paediatric cerebral palsy. "
            "J Child Orthop 2019;13(5):529-535 (PMC6808077): 50 infections in 341 children over a mean "
            "6.3 years, about 2.3 per 100 patient-years (derived).",
            "Dickey MP et al. Infectious complications of intrathecal baclofen pump devices in a pediatric "
            "population. Pediatr Infect Dis J 2013;32(7):715-722: 5% of patients infected in the first "
            "year after implant, about 5 per 100 pump-years in that year.",
        ],
    },
    {
        "figure": "catheter",
        "low": 2.0,
        "high": 2.0,
        "sources": [
            "Low rate of intrathecal baclofen pump catheter-related complications: long-term study in over "
            "100 adult patients associated with reinforced catheter. Neuromodulation 2021;24(7):1176-1180 "
            "(PMID 33974333): 9 catheter complications in 126 adults over a mean 43 months, about 2.0 per "
            "100 patient-years (derived); older series with non-reinforced catheters report more.",
        ],
    },
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


def _latest(qs: QuerySet, group: str, day: str) -> QuerySet:
    """The rows of ``qs`` with no later row (by ``day``, then id) in ``qs`` for the same ``group``.

    "The latest row per group" as an anti-join (``NOT EXISTS``): PostgreSQL hashes the rows once,
    where a correlated ``ORDER BY … LIMIT 1`` subquery per group ran once per group and per use.
    Portable, unlike ``DISTINCT ON``.
    """
    later = qs.filter(**{group: OuterRef(group)}).filter(
        Q(**{f"{day}__gt": OuterRef(day)}) | Q(**{day: OuterRef(day), "id__gt": OuterRef("id")})
    )
    return qs.filter(~Exists(later))


def _status_at(end: dt.date):
    return Subquery(
        StatusChange.objects.filter(patient=OuterRef("pk"), changed_on__lte=end)
        .order_by("-changed_on", "-id")
        .values("to_status")[:1]
    )


# --- Sections ----------------------------------------------------------------------------------


def indications_at(scope: Scope, end: dt.date) -> dict[int, tuple[str, int | None]]:
    """**Indication in force** at the end of the period (census and research export).

    The census and the export read each patient's primary indication (diagnosis and GMFCS level)
    as it stood at the end of the period's last day (UTC), from the indication's audit history:
    an indication changed, made primary or removed later still counts as it was then. An
    indication first recorded after the period counts as first recorded (records are often
    entered after the fact). Returns only the patients whose indications were recorded or changed
    after the period, as {patient id: (diagnosis or "", GMFCS level)}; everyone else's current
    primary indication is the one in force.
    """
    History = Indication.history.model
    cutoff = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    touched = History.objects.filter(history_date__gte=cutoff).values("patient_id")
    rows = (
        History.objects.filter(patient_id__in=touched)
        .filter(_happened_at(scope, "patient_id", end))
        .values_list("id", "patient_id", "diagnosis", "gmfcs_level", "is_primary", "history_type", "history_date")
        .order_by("id", "history_date", "history_id")
    )
    versions: dict[int, tuple] = {}
    patients: set[int] = set()
    for pk, patient, diagnosis, gmfcs, primary, kind, when in rows:
        patients.add(patient)
        if pk not in versions or when < cutoff:
            versions[pk] = (patient, diagnosis, gmfcs, primary, kind)
    found = {p: ("", None) for p in patients}
    for patient, diagnosis, gmfcs, primary, kind in versions.values():
        if primary and kind != "-":
            found[patient] = (diagnosis, gmfcs)
    return found


def _census(scope: Scope, end: dt.date) -> dict:
    """**Census** (as of ``end``).

    Patients registered by ``end`` (a status-history row dated on or before it) whose stay on
    ``end`` is at a site in scope. Status is the ``to_status`` of the latest ``StatusChange`` dated
    on or before ``end`` (the later id wins a same-day tie). Indication and GMFCS level are those
    of the primary indication in force at the end ("not_recorded" without one), each also counted
    among the implanted. **Active** patients are those in the care pathway on ``end``: referred,
    evaluating, screening, candidate or implanted (explanted, not a candidate, discontinued,
    transferred and deceased patients are not); **with a pump** are the implanted.
    """
    latest = _latest(StatusChange.objects.filter(changed_on__lte=end), "patient_id", "changed_on")
    latest = latest.filter(_happened_at(scope, "patient_id", end))
    groups = (
        latest.annotate(
            primary_indication=FilteredRelation(
                "patient__indications", condition=Q(patient__indications__is_primary=True)
            )
        )
        .values("primary_indication__diagnosis", "primary_indication__gmfcs_level", status_at_end=F("to_status"))
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: Counter = Counter()
    for g in groups:
        counts[
            (g["status_at_end"], g["primary_indication__diagnosis"] or "", g["primary_indication__gmfcs_level"])
        ] += g["n"]
    edited = indications_at(scope, end)
    # No id is -1: the query runs (and is counted) whether or not anyone was edited.
    for pk, status, dx, gmfcs in (
        latest.filter(patient_id__in=list(edited) or [-1])
        .annotate(
            primary_indication=FilteredRelation(
                "patient__indications", condition=Q(patient__indications__is_primary=True)
            )
        )
        .values_list("patient_id", "to_status", "primary_indication__diagnosis", "primary_indication__gmfcs_level")
    ):
        counts[(status, dx or "", gmfcs)] -= 1
        counts[(status, *edited[pk])] += 1
    by_status = dict.fromkeys(PatientStatus.values, 0)
    by_indication: dict[str, dict] = {}
    by_gmfcs: dict[str, dict] = {}
    for (status, dx, gmfcs), n in counts.items():
        if not n:
            continue
        by_status[status] += n
        implanted = n if status == PatientStatus.IMPLANTED else 0
        level = str(gmfcs) if gmfcs else NOT_RECORDED
        for table, key in ((by_indication, dx or NOT_RECORDED), (by_gmfcs, level)):
            row = table.setdefault(key, {"patients": 0, "implanted": 0})
            row["patients"] += n
            row["implanted"] += implanted
    dx_order = [*Indication.Diagnosis.values, NOT_RECORDED]
    gmfcs_order = ["1", "2", "3", "4", "5", NOT_RECORDED]
    return {
        "as_of": end.isoformat(),
        "patients": sum(by_status.values()),
        "active": sum(by_status[s] for s in ACTIVE_STATUSES),
        "with_pump": by_status[PatientStatus.IMPLANTED],
        "by_status": by_status,
        "by_indication": [{"indication": k, **by_indication[k]} for k in dx_order if k in by_indication],
        "by_gmfcs": [{"gmfcs_level": k, **by_gmfcs[k]} for k in gmfcs_order if k in by_gmfcs],
    }


def _activity(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Referrals, trials, implants, replacements and explants**, by calendar year.

    Each is counted at the site where the patient's stay held its date. **Referrals**:
    registrations (first history row) plus re-referrals (a change to "referred"), dated in the
    period. **Trials**: screening trials performed in the period; the positive rate is per
    *patient*: patients with at least one positive trial / patients trialled (a 50 mcg dose that
    failed before a 100 mcg dose worked is one positive patient). **Implants**: pumps implanted in
    the period that replace no pump (first implants and re-implants). **Replacements**: pumps
    implanted in the period that replace one. **Explants**: pumps explanted in the period with no
    successor (a replaced pump's explant is the replacement).
    """
    years = {
        y: {
            "year": y,
            "referrals": 0,
            "trials": 0,
            "patients_trialled": 0,
            "patients_positive": 0,
            "positive_rate": None,
            "implants": 0,
            "replacements": 0,
            "explants": 0,
        }
        for y in range(start.year, end.year + 1)
    }
    referrals = (
        StatusChange.objects.filter(changed_on__gte=start, changed_on__lte=end)
        .filter(Q(from_status="") | Q(to_status=PatientStatus.REFERRED))
        .filter(_happened_at(scope, "patient_id", "changed_on"))
        .annotate(year=ExtractYear("changed_on"))
        .values("year")
        .annotate(n=Count("id"))
        .order_by()
    )
    for r in referrals:
        years[r["year"]]["referrals"] = r["n"]
    positive = Q(response=ScreeningTrial.Response.POSITIVE)
    trial_rows = ScreeningTrial.objects.filter(performed_on__gte=start, performed_on__lte=end).filter(
        _happened_at(scope, "patient_id", "performed_on")
    )
    trials = (
        trial_rows.annotate(year=ExtractYear("performed_on"))
        .values("year")
        .annotate(
            n=Count("id"),
            patients=Count("patient", distinct=True),
            positive_patients=Count("patient", distinct=True, filter=positive),
        )
        .order_by()
    )
    for r in trials:
        years[r["year"]].update(
            trials=r["n"], patients_trialled=r["patients"], patients_positive=r["positive_patients"]
        )
    implants = (
        Pump.objects.filter(implant_date__gte=start, implant_date__lte=end)
        .filter(_happened_at(scope, "patient_id", "implant_date"))
        .annotate(year=ExtractYear("implant_date"))
        .values("year")
        .annotate(
            new=Count("id", filter=Q(replaces__isnull=True)), replaced=Count("id", filter=Q(replaces__isnull=False))
        )
        .order_by()
    )
    for r in implants:
        years[r["year"]].update(implants=r["new"], replacements=r["replaced"])
    explants = (
        Pump.objects.filter(explant_date__gte=start, explant_date__lte=end, replaced_by__isnull=True)
        .filter(_happened_at(scope, "patient_id", "explant_date"))
        .annotate(year=ExtractYear("explant_date"))
        .values("year")
        .annotate(n=Count("id"))
        .order_by()
    )
    for r in explants:
        years[r["year"]]["explants"] = r["n"]
    rows = list(years.values())
    for row in rows:
        row["positive_rate"] = _rate(row["patients_positive"], row["patients_trialled"])
    keys = ("referrals", "trials", "implants", "replacements", "explants")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    # Patients are counted once over the whole period, not once per year.
    whole = trial_rows.aggregate(
        patients=Count("patient", distinct=True), positive_patients=Count("patient", distinct=True, filter=positive)
    )
    totals.update(
        patients_trialled=whole["patients"],
        patients_positive=whole["positive_patients"],
        positive_rate=_rate(whole["positive_patients"], whole["patients"]),
    )
    return {"by_year": rows, "totals": totals}


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


def _safety(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Complications** and their rates per 100 pump-years.

    Complications dated in the period, at the site where the patient's stay held their date, by
    kind. A complication **has pump time behind it** when it was recorded against a pump or dated
    on a day one of the patient's pumps was in place (implant to explant day, both included);
    the others (e.g. a CSF leak after a screening trial) are counted but kept out of every rate.
    Each **rate** is complications with pump time / pump-years x 100, shown with its numerator,
    its denominator and its exact Poisson 95% confidence interval (``reporting.rates``); there is
    no rate without pump-years. Infections are the "infection" kind, catheter complications the
    "catheter" kind; both are compared with the ranges published for ITB (``LITERATURE``): the
    program is "above" a range when its whole interval lies above it, "below" when below, and
    "consistent" otherwise.
    """
    site_days = pump_days_by_site(scope, start, end)
    years = sum(site_days.values()) / DAYS_PER_YEAR
    pump_in_place = Exists(
        Pump.objects.filter(patient_id=OuterRef("patient_id"), implant_date__lte=OuterRef("occurred_on")).filter(
            Q(explant_date__isnull=True) | Q(explant_date__gte=OuterRef("occurred_on"))
        )
    )
    with_pump = Q(pump__isnull=False) | Q(pump_in_place)
    rows = (
        Complication.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
        .filter(
            _stay_holds("patient__stays", "occurred_on"),
            **({} if scope.everywhere else {"patient__stays__site_id__in": scope.site_ids}),
        )
        .values("kind", site=F("patient__stays__site_id"))
        .annotate(
            n=Count("id"),
            with_pump=Count("id", filter=with_pump),
            surgery=Count("id", filter=Q(needed_surgery=True)),
        )
        .order_by()
    )
    by_kind_counts: dict[str, Counter] = defaultdict(Counter)
    by_site_counts: Counter = Counter()
    for r in rows:
        c = by_kind_counts[r["kind"]]
        c["n"] += r["n"]
        c["with_pump"] += r["with_pump"]
        c["surgery"] += r["surgery"]
        by_site_counts[r["site"]] += r["with_pump"]
    by_kind = []
    for kind in Complication.Kind.values:
        c = by_kind_counts.get(kind, Counter())
        by_kind.append(
            {
                "kind": kind,
                "count": c["n"],
                "without_pump_time": c["n"] - c["with_pump"],
                "needed_surgery": c["surgery"],
                **_rate_fields(rates.rate(c["with_pump"], years)),
            }
        )
    total = sum(r["count"] for r in by_kind)
    with_pump_total = total - sum(r["without_pump_time"] for r in by_kind)
    overall = rates.rate(with_pump_total, years)
    kinds = {r["kind"]: r for r in by_kind}
    literature = []
    for ref in LITERATURE:
        k = kinds[ref["figure"]]
        literature.append(
            {
                **ref,
                "rate": k["per_100_pump_years"],
                "ci_low": k["ci_low"],
                "ci_high": k["ci_high"],
                "verdict": _verdict(k["ci_low"], k["ci_high"], ref["low"], ref["high"]),
            }
        )
    return {
        "pump_years": round(years, 3),
        "complications": total,
        "with_pump_time": with_pump_total,
        "without_pump_time": total - with_pump_total,
        "needed_surgery": sum(r["needed_surgery"] for r in by_kind),
        "complications_per_100_pump_years": overall["rate"],
        "ci_low": overall["ci_low"],
        "ci_high": overall["ci_high"],
        "infections": kinds["infection"]["count"],
        "infections_per_100_pump_years": kinds["infection"]["per_100_pump_years"],
        "by_kind": by_kind,
        "literature": literature,
        "_site_days": site_days,
        "_site_complications": by_site_counts,
    }


def _rate_fields(r: dict) -> dict:
    return {"per_100_pump_years": r["rate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}


def _verdict(ci_low, ci_high, low: float, high: float) -> str | None:
    if ci_low is None:
        return None
    if ci_low > high:
        return "above"
    if ci_high < low:
        return "below"
    return "consistent"


def _by_site(scope: Scope, refills: dict, safety: dict) -> list[dict]:
    """**Sites compared** (the funnel plot).

    Per site in scope: its pump-years, its complications with pump time and their rate per 100
    pump-years with the exact 95% interval, its closed refill cycles and its late share (late
    or after the alarm date / closed). The funnel plot draws each site's rate against its size
    (pump-years; closed cycles for the late share) with the program's overall figure and the
    95% and 99.8% control limits around it: a site outside a limit differs from the program by
    more than chance would explain at that level.
    """
    days, complications, by_site = safety["_site_days"], safety["_site_complications"], refills["_by_site"]
    rows = []
    for pk, name in scope.names.items():
        closed = sum(n for (site, kind), n in by_site.items() if site == pk and kind != Refill.Timeliness.FIRST)
        late = sum(n for (site, kind), n in by_site.items() if site == pk and kind in LATE)
        r = rates.rate(complications.get(pk, 0), days.get(pk, 0) / DAYS_PER_YEAR)
        rows.append(
            {
                "site": name,
                "pump_years": r["pump_years"],
                "complications": r["count"],
                **_rate_fields(r),
                "refills_closed": closed,
                "refills_late": late,
                "late_share": _rate(late, closed),
            }
        )
    return rows


def _latest_reviews(scope: Scope, start: dt.date, end: dt.date) -> QuerySet[GoalReview]:
    """Each goal's score: its latest review in the period, for goals set on or before ``end``."""
    in_period = GoalReview.objects.filter(reviewed_on__gte=start, reviewed_on__lte=end)
    return (
        _latest(in_period, "goal_id", "reviewed_on")
        .filter(goal__set_on__lte=end)
        .filter(_happened_at(scope, "goal__patient_id", "reviewed_on"))
    )


def _reviewed_goal_sums(scope: Scope, start: dt.date, end: dt.date) -> QuerySet:
    """Per patient with reviewed goals: Σwx, Σw², Σw and the number of goals over each goal's latest review."""
    return (
        _latest_reviews(scope, start, end)
        .values(patient_id=F("goal__patient_id"))
        .annotate(
            swx=Sum(F("goal__weight") * F("score")),
            sw2=Sum(F("goal__weight") * F("goal__weight")),
            sw=Sum("goal__weight"),
            n=Count("id"),
        )
        .order_by()
    )


def _goals(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Goal attainment** (Goal Attainment Scaling).

    Goals set on or before ``end`` (counted at the site where the patient was on ``end``); each
    goal's score is its latest review dated in the period (at the site of that review). Goals
    without one count as "not reviewed" and are left out of attainment. Share at or above
    expected = goals scored >= 0 / reviewed goals. A category's **mean score** is weighted by the
    goals' weights (Σwx / Σw). A patient's **GAS T-score** is 50 + 10·Σwx / sqrt((1−ρ)·Σw² +
    ρ·(Σw)²) with ρ = 0.3 over their reviewed goals; the **mean T-score** is the mean over patients
    with two or more reviewed goals. A T-score from a single goal is only a rescaled score
    (-2..+2 become 30..70), so those patients are counted and averaged apart
    (``single_goal_patients``, ``single_goal_mean_t_score``) and never mixed into the mean.
    """
    goal_counts = (
        Goal.objects.filter(set_on__lte=end)
        .filter(_happened_at(scope, "patient_id", end))
        .values("category")
        .annotate(goals=Count("id"))
        .order_by()
    )
    scores = {
        r["category"]: r
        for r in _latest_reviews(scope, start, end)
        .values(category=F("goal__category"))
        .annotate(
            reviewed=Count("id"),
            at_or_above=Count("id", filter=Q(score__gte=0)),
            swx=Sum(F("goal__weight") * F("score")),
            sw=Sum("goal__weight"),
        )
        .order_by()
    }
    no_reviews = {"reviewed": 0, "at_or_above": 0, "swx": None, "sw": None}
    categories = {c["category"]: {**c, **scores.get(c["category"], no_reviews)} for c in goal_counts}
    by_category = []
    for cat in Goal.Category.values:
        c = categories.get(cat)
        if c is None:
            continue
        by_category.append(
            {
                "category": cat,
                "goals": c["goals"],
                "reviewed": c["reviewed"],
                "not_reviewed": c["goals"] - c["reviewed"],
                "at_or_above_expected": c["at_or_above"],
                "share_at_or_above_expected": _rate(c["at_or_above"], c["reviewed"]),
                "mean_score": round(c["swx"] / c["sw"], 2) if c["sw"] else None,
            }
        )
    several, single = [], []
    for r in _reviewed_goal_sums(scope, start, end):
        (several if r["n"] > 1 else single).append(gas_t_score_from_sums(r["swx"], r["sw2"], r["sw"]))
    goals = sum(c["goals"] for c in by_category)
    reviewed = sum(c["reviewed"] for c in by_category)
    at_or_above = sum(c["at_or_above_expected"] for c in by_category)
    return {
        "goals": goals,
        "reviewed": reviewed,
        "not_reviewed": goals - reviewed,
        "at_or_above_expected": at_or_above,
        "share_at_or_above_expected": _rate(at_or_above, reviewed),
        "patients_with_t_score": len(several),
        "mean_t_score": round(statistics.fmean(several), 2) if several else None,
        "single_goal_patients": len(single),
        "single_goal_mean_t_score": round(statistics.fmean(single), 2) if single else None,
        "by_category": by_category,
    }


def _follow_ups(scope: Scope, start: dt.date, end: dt.date, today: dt.date) -> dict:
    """**Follow-up adherence**, from dates alone.

    Visits due in the period, at the site where the patient's stay held the due date. A visit is
    **completed** when a completion date is recorded (``completed_late`` when that date is after
    the due date plus the site's grace days), **missed** when it is not completed, not cancelled
    and its due date plus the site's grace days is before the day the report is run, and **open**
    when its grace period has not yet passed. Whether the reminder sweep has marked a visit
    "missed" makes no difference. Adherence = completed / (completed + missed); cancelled and
    open visits are reported but left out.
    """
    S = FollowUp.Status
    site_filter = {} if scope.everywhere else {"patient__stays__site_id__in": scope.site_ids}
    grace = F("patient__stays__site__follow_up_grace_days")
    due = DayNumber("due_date")
    rows = (
        FollowUp.objects.filter(due_date__gte=start, due_date__lte=end)
        .filter(_stay_holds("patient__stays", "due_date"), **site_filter)
        .annotate(due_day=due, grace=grace, done_day=DayNumber("completed_on"))
        .aggregate(
            due=Count("id"),
            completed=Count("id", filter=Q(completed_on__isnull=False)),
            completed_late=Count("id", filter=Q(completed_on__isnull=False, done_day__gt=F("due_day") + F("grace"))),
            cancelled=Count("id", filter=Q(status=S.CANCELLED)),
            missed=Count(
                "id",
                filter=Q(completed_on__isnull=True)
                & ~Q(status=S.CANCELLED)
                & Q(due_day__lt=_day_number(today) - F("grace")),
            ),
        )
    )
    rows["open"] = rows["due"] - rows["completed"] - rows["cancelled"] - rows["missed"]
    keys = ["due", "completed", "completed_late", "missed", "open", "cancelled"]
    return {**{k: rows[k] for k in keys}, "adherence": _rate(rows["completed"], rows["completed"] + rows["missed"])}


def _reminders(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Reminders**, per reminder event, with delivery per channel beneath.

    A **reminder event** is one due thing: the same kind of reminder about the same record and
    due date (a refill due on 3 March), however many leads, recipients and channels it was sent
    on. Events are counted in the period that holds their due date, at the site that sent them.
    Each message's outcome comes from what happened to it, never from what was done later:
    **delivered** when it was handed to its channel (an inbox message when it was posted),
    **failed** when delivery was given up or failed before the message was acknowledged, and
    **cancelled** when its reason went away before it was sent; acknowledging a failed message
    leaves it failed. An event is **reached** when at least one of its messages was delivered,
    **failed** when none was and one failed, **cancelled** when all were cancelled unsent.
    **Acknowledged** is its own figure: events acknowledged by anyone, and the median hours from
    an event's first message to its first acknowledgement.
    """
    St = Reminder.Status
    qs = Reminder.objects.filter(_in_sites(scope, "site_id"), due_date__gte=start, due_date__lte=end)
    delivered = Q(sent_at__isnull=False)
    failed = Q(sent_at__isnull=True) & (Q(status=St.FAILED) | (Q(status=St.ACKNOWLEDGED) & ~Q(last_error="")))
    cancelled = Q(sent_at__isnull=True, status=St.CANCELLED)
    acknowledged = Q(acknowledged_at__isnull=False)
    channels = {
        r["channel"]: r
        for r in qs.values("channel")
        .annotate(
            messages=Count("id"),
            delivered=Count("id", filter=delivered),
            failed=Count("id", filter=failed),
            cancelled=Count("id", filter=cancelled),
            acknowledged=Count("id", filter=acknowledged),
        )
        .order_by()
    }
    flag = {"output_field": IntegerField()}
    events = (
        qs.values("kind", "target_type", "target_id", "due_date")
        .annotate(
            reached=Max(Case(When(delivered, then=1), default=0, **flag)),
            failed=Max(Case(When(failed, then=1), default=0, **flag)),
            open=Max(Case(When(cancelled, then=0), default=1, **flag)),
            first_message=Min("created_at"),
            first_ack=Min("acknowledged_at"),
        )
        .values_list("reached", "failed", "open", "first_message", "first_ack")
        .order_by()
    )
    counts: Counter = Counter()
    hours = []
    for reached, any_failed, open_, first, ack in events:
        counts["events"] += 1
        if reached:
            counts["reached"] += 1
        elif any_failed:
            counts["failed"] += 1
        elif not open_:
            counts["cancelled"] += 1
        else:
            counts["not_sent"] += 1
        if ack is not None:
            counts["acknowledged"] += 1
            hours.append((ack - first).total_seconds() / 3600)
    by_channel = []
    for channel in Reminder.Channel.values:
        c = channels.get(channel)
        if c:
            by_channel.append(
                {
                    "channel": channel,
                    **{k: c[k] for k in ("messages", "delivered", "failed", "cancelled", "acknowledged")},
                }
            )
    keys = ["events", "reached", "failed", "cancelled", "not_sent", "acknowledged"]
    return {
        **{k: counts[k] for k in keys},
        "reached_share": _rate(counts["reached"], counts["events"] - counts["cancelled"]),
        "median_hours_to_acknowledgement": _median(hours),
        "by_channel": by_channel,
    }


DEFINITIONS = [
    _census,
    indications_at,
    _activity,
    _refills,
    pump_days_by_site,
    _safety,
    _by_site,
    _goals,
    _follow_ups,
    _reminders,
]


def summary(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date, today: dt.date | None = None) -> dict:
    """Every published figure of the program for ``sites`` (None: all) over ``start``..``end``.

    ``today`` (default: the current date) is the day the report is run, which decides whether a
    visit's grace period has passed.
    """
    if start > end:
        raise ValueError("start must not be after end")
    scope = Scope.of(sites)
    refills = _refills(scope, start, end)
    safety = _safety(scope, start, end)
    report = {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "sites": list(scope.names.values()),
        "census": _census(scope, end),
        "activity": _activity(scope, start, end),
        "refills": refills,
        "safety": safety,
        "by_site": _by_site(scope, refills, safety),
        "goals": _goals(scope, start, end),
        "follow_ups": _follow_ups(scope, start, end, today or timezone.localdate()),
        "reminders": _reminders(scope, start, end),
    }
    for section in (refills, safety):
        for key in [k for k in section if k.startswith("_")]:
            del section[key]
    return report


# --- Tables (CSV) ------------------------------------------------------------------------------

TABLES = {
    "census-status": "Census by status",
    "census-indication": "Census by primary indication",
    "census-gmfcs": "Census by GMFCS level",
    "activity": "Referrals, trials and surgery by year",
    "refills": "Refills",
    "complications": "Complications per 100 pump-years (exact 95% CI)",
    "literature": "Complication rates against the published ranges",
    "sites": "Sites compared",
    "goals": "Goal attainment by category",
    "follow-ups": "Follow-up adherence",
    "reminders": "Reminder events",
    "reminder-channels": "Reminder messages by channel",
}


def _measures(section: dict, keys: Iterable[str]) -> tuple[list[str], list[list]]:
    return ["measure", "value"], [[k, section[k]] for k in keys]


def _columns(rows: list[dict], cols: list[str]) -> list[list]:
    return [[r[c] for c in cols] for r in rows]


def table(report: dict, name: str) -> tuple[list[str], list[list]]:
    """Header and rows of one table of a ``summary`` (the page and the CSV show the same rows)."""
    census, activity, safety = report["census"], report["activity"], report["safety"]
    if name == "census-status":
        rows = [[s, n] for s, n in census["by_status"].items()]
        return ["status", "patients"], [*rows, ["active", census["active"]], ["total", census["patients"]]]
    if name == "census-indication":
        return ["indication", "patients", "implanted"], _columns(
            census["by_indication"], ["indication", "patients", "implanted"]
        )
    if name == "census-gmfcs":
        return ["gmfcs_level", "patients", "implanted"], _columns(
            census["by_gmfcs"], ["gmfcs_level", "patients", "implanted"]
        )
    if name == "activity":
        cols = [
            "year",
            "referrals",
            "trials",
            "patients_trialled",
            "patients_positive",
            "positive_rate",
            "implants",
            "replacements",
            "explants",
        ]
        rows = _columns(activity["by_year"], cols)
        rows.append(["total", *[activity["totals"][c] for c in cols[1:]]])
        return cols, rows
    if name == "refills":
        keys = ["performed", "first", "on_time", "late", "after_alarm", "closed", "on_time_rate", "late_share"]
        return _measures(report["refills"], [*keys, "intervals", "median_interval_days"])
    if name == "complications":
        cols = [
            "kind",
            "count",
            "without_pump_time",
            "needed_surgery",
            "pump_years",
            "per_100_pump_years",
            "ci_low",
            "ci_high",
        ]
        rows = [[*[r[c] for c in cols[:4]], safety["pump_years"], *[r[c] for c in cols[5:]]] for r in safety["by_kind"]]
        total = [safety["complications"], safety["without_pump_time"], safety["needed_surgery"], safety["pump_years"]]
        rows.append(["total", *total, safety["complications_per_100_pump_years"], safety["ci_low"], safety["ci_high"]])
        return cols, rows
    if name == "literature":
        cols = ["figure", "rate", "ci_low", "ci_high", "published_low", "published_high", "verdict"]
        rows = [
            [r["figure"], r["rate"], r["ci_low"], r["ci_high"], r["low"], r["high"], r["verdict"]]
            for r in safety["literature"]
        ]
        return cols, rows
    if name == "sites":
        cols = [
            "site",
            "pump_years",
            "complications",
            "per_100_pump_years",
            "ci_low",
            "ci_high",
            "refills_closed",
            "refills_late",
            "late_share",
        ]
        return cols, _columns(report["by_site"], cols)
    if name == "goals":
        goals = report["goals"]
        cols = [
            "category",
            "goals",
            "reviewed",
            "not_reviewed",
            "at_or_above_expected",
            "share_at_or_above_expected",
            "mean_score",
        ]
        rows = _columns(goals["by_category"], cols)
        rows.append(["total", *[goals[c] for c in cols[1:-1]], ""])
        rows.append(["mean_t_score", goals["mean_t_score"], "patients", goals["patients_with_t_score"], "", "", ""])
        rows.append(
            [
                "single_goal_mean_t_score",
                goals["single_goal_mean_t_score"],
                "patients",
                goals["single_goal_patients"],
                "",
                "",
                "",
            ]
        )
        return cols, rows
    if name == "follow-ups":
        keys = ["due", "completed", "completed_late", "missed", "open", "cancelled", "adherence"]
        return _measures(report["follow_ups"], keys)
    if name == "reminders":
        keys = ["events", "reached", "failed", "cancelled", "not_sent", "acknowledged", "reached_share"]
        return _measures(report["reminders"], [*keys, "median_hours_to_acknowledgement"])
    if name == "reminder-channels":
        cols = ["channel", "messages", "delivered", "failed", "cancelled", "acknowledged"]
        return cols, _columns(report["reminders"]["by_channel"], cols)
    raise KeyError(name)


def to_csv(header: list[str], rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def long_rows(report: dict) -> list[list]:
    """Every table in one tidy CSV (table, row, column, value) for ``program_report --format csv``."""
    rows = []
    for name in TABLES:
        header, body = table(report, name)
        for r in body:
            rows += [[name, r[0], col, value] for col, value in zip(header[1:], r[1:], strict=True)]
    return rows


# --- De-identified research exports ------------------------------------------------------------

PATIENT_EXPORT_COLUMNS = [
    "study_id",
    "site",
    "sex",
    "age_band",
    "primary_indication",
    "gmfcs_level",
    "status",
    "first_implant_period",
    "pumps",
    "pump_years",
    "refills",
    "refills_on_time",
    "refills_late",
    "refills_after_alarm",
    "complications",
    "infections",
    "goals_reviewed",
    "gas_t_score",
]
PUMP_YEAR_COLUMNS = ["study_id", "pump", "year", "days_implanted", "refills", "complications"]
DATA_DICTIONARY = {
    "study_id": "Random research identifier of the patient (Patient.study_id): stable across exports, "
    "derived from nothing about the person.",
    "site": "Site where the patient was cared for on the period's last day. Quasi-identifier.",
    "sex": "female, male, other or unknown. Quasi-identifier.",
    "age_band": "Age in whole years on the period's last day (on the date of death for a patient who "
    "died: ages stop at death), in 5-year bands (20-year bands when needed for k), 80+ top-coded. "
    "Quasi-identifier.",
    "primary_indication": "Diagnosis of the primary indication in force on the period's last day; "
    "not_recorded without one. Quasi-identifier.",
    "gmfcs_level": "GMFCS level (1-5) of that indication; empty when not recorded. Quasi-identifier.",
    "status": "Program status on the period's last day. Quasi-identifier.",
    "first_implant_period": "5-year period of the patient's first pump implant; empty if never implanted. "
    "Quasi-identifier.",
    "pumps": "Pumps implanted by the period's end.",
    "pump_years": "Pump-years in the period at the sites exported (days implanted / 365.25).",
    "refills": "Refills done in the period at the sites exported.",
    "refills_on_time": "Of those, closing a cycle on time.",
    "refills_late": "Of those, after the due date.",
    "refills_after_alarm": "Of those, after the alarm date.",
    "complications": "Complications dated in the period at the sites exported.",
    "infections": "Of those, infections.",
    "goals_reviewed": "Goals with a review in the period (each goal's latest review).",
    "gas_t_score": "GAS T-score over those goals (50 + 10·Σwx / sqrt(0.7·Σw² + 0.3·(Σw)²)); a value "
    "from a single goal is only a rescaled score: read it with goals_reviewed.",
    "pump": "The pump's ordinal in the patient's history (1 = first implant).",
    "year": "Calendar year.",
    "days_implanted": "Days of that year, inside the period, with the pump in place.",
}
ANONYMITY_COLUMNS = {"age_band", "first_implant_period"}


@dataclass
class ResearchExport:
    """A de-identified export with what a reader must know about it: k, suppression, dictionary."""

    kind: str
    header: list[str]
    rows: list[list]
    start: dt.date
    end: dt.date
    sites: list[str]
    k_requested: int
    k_achieved: int | None
    suppressed: int
    generalised: dict[str, int]

    def dictionary_rows(self) -> list[list[str]]:
        return [[c, DATA_DICTIONARY[c]] for c in self.header]

    def readme(self) -> str:
        generalised = ", ".join(f"{c}: {n}" for c, n in sorted(self.generalised.items())) or "none"
        lines = [
            f"ITB registry research export: {self.kind}",
            f"Period: {self.start} to {self.end}",
            f"Sites: {', '.join(self.sites) or 'none'}",
            f"Rows: {len(self.rows)}",
            f"k requested: {self.k_requested}",
            f"k achieved: {self.k_achieved if self.k_achieved is not None else 'no row released'}",
            f"Patients suppressed (left out): {self.suppressed}",
            f"Values generalised or withheld, by column: {generalised}",
            f"Quasi-identifiers: {', '.join(anonymity.QUASI_IDENTIFIERS)}",
            "",
            "Every combination of the quasi-identifiers in the patients file is shared by at least k",
            "patients. A withheld value is '*'. The pump-year file leaves out the suppressed patients.",
            "Columns are described in data_dictionary.csv; definitions in the registry's docs/reporting.md.",
        ]
        return "\n".join(lines) + "\n"

    def bundle(self) -> bytes:
        """A zip of the rows, the data dictionary and a README stating the k achieved."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{self.kind}.csv", to_csv(self.header, self.rows))
            z.writestr("data_dictionary.csv", to_csv(["column", "description"], self.dictionary_rows()))
            z.writestr("README.txt", self.readme())
        return out.getvalue()


def _patient_rows(scope: Scope, start: dt.date, end: dt.date) -> list[dict]:
    """One dict per patient registered by ``end`` and at a site in scope on ``end``."""
    T = Refill.Timeliness
    refills = {
        r["pump__patient_id"]: r
        for r in Refill.objects.filter(_in_sites(scope, "site_id"))
        .annotate(local_date=_local_date("performed_at", "site_id", scope))
        .filter(local_date__gte=start, local_date__lte=end)
        .values("pump__patient_id")
        .annotate(
            n=Count("id"),
            on_time=Count("id", filter=Q(timeliness=T.ON_TIME)),
            late=Count("id", filter=Q(timeliness=T.LATE)),
            after_alarm=Count("id", filter=Q(timeliness=T.AFTER_ALARM)),
        )
        .order_by()
    }
    complications = {
        r["patient_id"]: r
        for r in Complication.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
        .filter(_happened_at(scope, "patient_id", "occurred_on"))
        .values("patient_id")
        .annotate(n=Count("id"), infections=Count("id", filter=Q(kind=Complication.Kind.INFECTION)))
        .order_by()
    }
    pumps = _pump_summaries(scope, start, end)
    goals = {
        r["patient_id"]: (gas_t_score_from_sums(r["swx"], r["sw2"], r["sw"]), r["n"])
        for r in _reviewed_goal_sums(scope, start, end)
    }
    edited = indications_at(scope, end)
    site_at_end = Subquery(
        SiteStay.objects.filter(patient_id=OuterRef("pk"))
        .filter(Q(started_on__isnull=True) | Q(started_on__lte=end), Q(ended_on__isnull=True) | Q(ended_on__gt=end))
        .values("site__name")[:1]
    )
    patients = (
        Patient.objects.filter(_happened_at(scope, "pk", end), study_id__isnull=False)
        .annotate(
            status_at_end=_status_at(end),
            died=_death_date("pk"),
            site_at_end=site_at_end,
            primary_indication=FilteredRelation("indications", condition=Q(indications__is_primary=True)),
        )
        .filter(status_at_end__isnull=False)
        .values_list(
            "pk",
            "study_id",
            "site_at_end",
            "sex",
            "date_of_birth",
            "died",
            "primary_indication__diagnosis",
            "primary_indication__gmfcs_level",
            "status_at_end",
        )
        .order_by("study_id")
    )
    rows = []
    for pk, study_id, site, sex, born, died, dx, gmfcs, status in patients:
        if pk in edited:
            dx, gmfcs = edited[pk]
        r, c, p = refills.get(pk, {}), complications.get(pk, {}), pumps.get(pk, {})
        t_score, reviewed = goals.get(pk, (None, 0))
        rows.append(
            {
                "study_id": study_id,
                "site": site,
                "sex": sex,
                "age_band": anonymity.age_band(age_in_years(born, min(end, died or end))),
                "primary_indication": dx or NOT_RECORDED,
                "gmfcs_level": str(gmfcs) if gmfcs else "",
                "status": status,
                "first_implant_period": anonymity.implant_period(p.get("first_year")),
                "pumps": p.get("n", 0),
                "pump_years": p.get("pump_years", 0.0),
                "refills": r.get("n", 0),
                "refills_on_time": r.get("on_time", 0),
                "refills_late": r.get("late", 0),
                "refills_after_alarm": r.get("after_alarm", 0),
                "complications": c.get("n", 0),
                "infections": c.get("infections", 0),
                "goals_reviewed": reviewed,
                "gas_t_score": round(t_score, 2) if t_score is not None else "",
            }
        )
    return rows


def patient_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date, k: int = 5) -> ResearchExport:
    """One row per patient registered by ``end``, k-anonymous: no name, MRN, contact or date of birth.

    The study id is the random ``Patient.study_id`` (stable across exports, unrelated to the MRN).
    Quasi-identifiers are generalised and rare combinations suppressed (``reporting.anonymity``)
    until every combination is shared by at least ``k`` patients; the k achieved, the rows left
    out and the values generalised come with the file. Ages stop at death. Rows are ordered by
    study id, never by name. Counts cover the period, as in ``summary``.
    """
    scope = Scope.of(sites)
    result = anonymity.k_anonymise(_patient_rows(scope, start, end), k)
    rows = [[r[c] for c in PATIENT_EXPORT_COLUMNS] for r in result.rows]
    return ResearchExport(
        "patients",
        PATIENT_EXPORT_COLUMNS,
        rows,
        start,
        end,
        list(scope.names.values()),
        k,
        result.k_achieved,
        result.suppressed,
        result.generalised,
    )


def _pump_summaries(scope: Scope, start: dt.date, end: dt.date) -> dict[int, dict]:
    """Per patient: pumps implanted by ``end``, the first implant year, pump-years in the period."""
    counts = {
        r["patient_id"]: r
        for r in Pump.objects.filter(implant_date__lte=end)
        .values("patient_id")
        .annotate(n=Count("id"), first_year=ExtractYear(Min("implant_date")))
        .order_by()
    }
    days = (
        Pump.objects.filter(_overlapping_pumps(start, end))
        .filter(
            Q(patient__stays__started_on__isnull=True) | Q(patient__stays__started_on__lte=end),
            Q(patient__stays__ended_on__isnull=True) | Q(patient__stays__ended_on__gt=start),
            **({} if scope.everywhere else {"patient__stays__site_id__in": scope.site_ids}),
        )
        .values("patient_id")
        .annotate(d=Sum(_pump_days(start, end, stays="patient__stays")))
        .order_by()
    )
    for r in days:
        if r["patient_id"] in counts:
            counts[r["patient_id"]]["pump_years"] = round(max(_days(r["d"]), 0) / DAYS_PER_YEAR, 3)
    return counts


def pump_year_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date, k: int = 5) -> ResearchExport:
    """One row per pump and calendar year of the period in which it was implanted for a day or more.

    ``pump`` is the pump's ordinal in the patient's history (1 = first implant), counted over all
    their pumps. Refills are counted by the local year of the site where each was done,
    complications by the pump they were recorded against (complications without a pump appear
    only in the patient export). Patients suppressed from the k-anonymous patient export of the
    same period and sites are left out here too.
    """
    patients = patient_export(sites=sites, start=start, end=end, k=k)
    released = {r[0] for r in patients.rows}
    scope = Scope.of(sites)
    ordinal = Window(RowNumber(), partition_by=[F("patient_id")], order_by=[F("implant_date").asc(), F("id").asc()])
    pumps = (
        Pump.objects.filter(implant_date__lte=end, patient__study_id__isnull=False)
        .annotate(ordinal=ordinal, death=_death_date())
        .values_list("pk", "patient__study_id", "ordinal", "implant_date", "explant_date", "death")
    )
    local = _local_date("performed_at", "site_id", scope)
    refills = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Refill.objects.filter(_in_sites(scope, "site_id"))
        .annotate(local_date=local)
        .filter(local_date__gte=start, local_date__lte=end)
        .annotate(year=ExtractYear("local_date"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    complications = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Complication.objects.filter(pump__isnull=False, occurred_on__gte=start, occurred_on__lte=end)
        .annotate(year=ExtractYear("occurred_on"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    rows = []
    for pk, study_id, number, implanted, explanted, died in pumps:
        if study_id not in released:
            continue
        for year in range(start.year, end.year + 1):
            first = max(implanted, start, dt.date(year, 1, 1))
            stop = min(
                explanted or dt.date.max, died or dt.date.max, end + dt.timedelta(days=1), dt.date(year + 1, 1, 1)
            )
            days = (stop - first).days
            if days <= 0:
                continue
            rows.append([study_id, number, year, days, refills.get((pk, year), 0), complications.get((pk, year), 0)])
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return ResearchExport(
        "pump-years",
        PUMP_YEAR_COLUMNS,
        rows,
        start,
        end,
        patients.sites,
        k,
        patients.k_achieved,
        patients.suppressed,
        patients.generalised,
    )
