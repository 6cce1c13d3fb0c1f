"""Program reporting: the figures a program publishes (issue 6), computed in SQL.

``summary(sites=..., start=..., end=...)`` returns one JSON-ready dict of nested sections; ``tables``
turns it into the rows of every CSV table, and ``patient_export`` / ``pump_year_export`` give the
de-identified research rows. Every section is one aggregate query (``Count``/``Sum`` with
``filter=Q(...)``, grouped with ``values``), so the number of queries does not grow with the
number of patients. Two medians are taken in Python, the refill interval's over counts of each
interval length and the reminder wait's over a fetched column: ``percentile_cont`` is
PostgreSQL-only and SQLite has no median.

Definitions (the period is ``start``..``end``, both days included):

- **Scope and moved patients**: a patient's records all count for the patient's *current* site.
  The registry keeps no site on each event, and the audit history records when a move was
  *typed*, not when it happened, so a patient who moved from A to B appears in B's reports for
  the whole period (and in A's for none); the program-wide report is unaffected.
- **Census** (as of ``end``): patients registered by ``end`` (a status-history row dated on or
  before it). Status is the ``to_status`` of the latest ``StatusChange`` dated on or before
  ``end`` (the later id wins a same-day tie). Indication and GMFCS level are those of the
  primary indication ("not_recorded" without one), each also counted among the implanted.
  "Active" is every status but discontinued, transferred and deceased.
- **Referrals**: registrations (first history row) plus re-referrals (a change to "referred"),
  dated in the period. **Trials**: screening trials performed in the period; the positive rate is
  per *patient*: patients with at least one positive trial / patients trialled (a 50 mcg dose that
  failed before a 100 mcg dose worked is one positive patient).
- **Implants**: pumps implanted in the period that replace no pump (first implants and
  re-implants). **Replacements**: pumps implanted in the period that replace one. **Explants**:
  pumps explanted in the period with no successor (a replaced pump's explant is the replacement).
- **Refills**: refills performed in the period (local date in the site's zone), by the stored
  timeliness of the cycle each one closed (first fill, on time, late, after the alarm date). The
  on-time rate leaves first fills out. The **refill interval** is the days (local dates) between
  a refill and the patient's previous refill *in the same pump chain* (the same pump, or the pump
  it replaced), counted in the period of the later refill: the gap over an explant without
  successor is not a refill interval, a replacement is.
- **Pump-years**: for each pump, the days of ``[implant_date, explant_date)`` inside the period
  (the explant day belongs to the successor; a pump left in place stops at the patient's death),
  summed and divided by 365.25.
- **Complications**: complications dated in the period, by kind, and per 100 pump-years
  (``count / pump_years * 100``; none when there are no pump-years). Infections are the
  "infection" kind.
- **Goal attainment**: goals set on or before ``end``; each goal's score is its latest review
  dated in the period. Goals without one count as "not reviewed" and are left out of attainment.
  Share at or above expected = goals scored >= 0 / reviewed goals. The mean GAS T-score is the
  mean over patients of each patient's T-score over their reviewed goals (``gas_t_score``).
- **Follow-up adherence**: visits due in the period, by status; adherence = completed /
  (completed + missed); cancelled and still-scheduled visits are reported but left out.
- **Reminders**: reminders created in the period (local date); delivered = reached the recipient
  (sent or acknowledged); failed; acknowledged; median hours from creation to acknowledgement.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
import zoneinfo
from collections import Counter
from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Avg,
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
    StatusChange,
)

# Kiresuk & Sherman's inter-goal correlation (FACTS.md, "Scales"). It is part of the scale's
# definition, not a clinical default, so it is a constant rather than a site setting.
GAS_RHO = 0.3
DAYS_PER_YEAR = 365.25
NOT_RECORDED = "not_recorded"
# Refill intervals: the window reads this much history before the period (longer gaps are
# looked up one by one). Refill intervals are weeks to months; 200 days covers nearly all.
INTERVAL_LOOKBACK_DAYS = 200
ENDED_STATUSES = {PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED, PatientStatus.DECEASED}


# --- Pure helpers ------------------------------------------------------------------------------


def gas_t_score_from_sums(sum_wx: float, sum_w2: float, sum_w: float, rho: float = GAS_RHO) -> float:
    """T = 50 + 10·Σwx / sqrt((1−ρ)·Σw² + ρ·(Σw)²) (Kiresuk & Sherman; FACTS.md)."""
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


# --- SQL building blocks -----------------------------------------------------------------------


def _scope(sites: QuerySet[Site] | None, path: str) -> Q:
    """Records of patients whose current site is in ``sites`` (None: every site)."""
    return Q() if sites is None else Q(**{f"{path}__in": sites})


def _zones(sites: QuerySet[Site] | None) -> list[str]:
    qs = Site.objects.all() if sites is None else Site.objects.filter(pk__in=sites.values("pk"))
    return sorted(set(qs.values_list("time_zone", flat=True)))


def _local_date(field: str, zone_field: str, zones: list[str]):
    """The site-local calendar date of a timestamp: one CASE arm per time zone in scope."""
    if not zones:
        return Value(None, output_field=DateField())
    return Case(
        *[When(**{zone_field: z}, then=TruncDate(field, tzinfo=zoneinfo.ZoneInfo(z))) for z in zones],
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


def _pump_days(start: dt.date, end: dt.date, died: bool = True):
    """Days of the pump's ``[implant, explant)`` inside ``[start, end]``, as an SQL duration.

    A pump left in place after the patient died stops counting on the date of death (``died=False``
    leaves out that look-up, for pumps of patients known to be alive).
    """
    after_end = _date(end + dt.timedelta(days=1))
    first = Greatest(F("implant_date"), _date(start), output_field=DateField())
    last = Least(
        Coalesce(F("explant_date"), after_end),
        Coalesce(_death_date(), after_end) if died else after_end,
        after_end,
        output_field=DateField(),
    )
    # A pump whose patient died before the period starts counts 0 days, not negative ones.
    last = Greatest(last, first, output_field=DateField())
    return ExpressionWrapper(last - first, output_field=DurationField())


def _overlapping_pumps(start: dt.date, end: dt.date) -> Q:
    return Q(implant_date__lte=end) & (Q(explant_date__isnull=True) | Q(explant_date__gt=start))


def _status_at(end: dt.date):
    return Subquery(
        StatusChange.objects.filter(patient=OuterRef("pk"), changed_on__lte=end)
        .order_by("-changed_on", "-id")
        .values("to_status")[:1]
    )


def _latest(qs: QuerySet, group: str, day: str) -> QuerySet:
    """The rows of ``qs`` with no later row (by ``day``, then id) in ``qs`` for the same ``group``.

    "The latest row per group" as an anti-join (``NOT EXISTS``): PostgreSQL hashes the rows once,
    where a correlated ``ORDER BY … LIMIT 1`` subquery per group ran once per group and per use
    (issue 7). Portable, unlike ``DISTINCT ON``.
    """
    later = qs.filter(**{group: OuterRef(group)}).filter(
        Q(**{f"{day}__gt": OuterRef(day)}) | Q(**{day: OuterRef(day), "id__gt": OuterRef("id")})
    )
    return qs.filter(~Exists(later))


def _latest_reviews(sites, start, end) -> QuerySet[GoalReview]:
    """Each goal's score: its latest review in the period, for goals set on or before ``end``."""
    in_period = GoalReview.objects.filter(reviewed_on__gte=start, reviewed_on__lte=end)
    return _latest(in_period, "goal_id", "reviewed_on").filter(
        _scope(sites, "goal__patient__site"), goal__set_on__lte=end
    )


def _census_patients(sites: QuerySet[Site] | None, end: dt.date) -> QuerySet[Patient]:
    return (
        Patient.objects.filter(_scope(sites, "site"))
        .annotate(
            status_at_end=_status_at(end),
            primary_indication=FilteredRelation("indications", condition=Q(indications__is_primary=True)),
        )
        .filter(status_at_end__isnull=False)
    )


def _reviewed_goal_sums(sites, start, end) -> QuerySet:
    """Per patient with reviewed goals: Σwx, Σw², Σw over each goal's latest review in the period."""
    return (
        _latest_reviews(sites, start, end)
        .values(patient_id=F("goal__patient_id"))
        .annotate(
            swx=Sum(F("goal__weight") * F("score")),
            sw2=Sum(F("goal__weight") * F("goal__weight")),
            sw=Sum("goal__weight"),
        )
        .order_by()
    )


# --- Sections ----------------------------------------------------------------------------------


def _census(sites, end) -> dict:
    # Each patient's latest status change on or before ``end`` is the patient's status then.
    latest = _latest(StatusChange.objects.filter(changed_on__lte=end), "patient_id", "changed_on")
    groups = (
        latest.filter(_scope(sites, "patient__site"))
        .annotate(
            primary_indication=FilteredRelation(
                "patient__indications", condition=Q(patient__indications__is_primary=True)
            )
        )
        .values(
            "primary_indication__diagnosis",
            "primary_indication__gmfcs_level",
            status_at_end=F("to_status"),
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status = dict.fromkeys(PatientStatus.values, 0)
    by_indication: dict[str, dict] = {}
    by_gmfcs: dict[str, dict] = {}
    for g in groups:
        by_status[g["status_at_end"]] += g["n"]
        implanted = g["n"] if g["status_at_end"] == PatientStatus.IMPLANTED else 0
        dx = g["primary_indication__diagnosis"] or NOT_RECORDED
        level = str(g["primary_indication__gmfcs_level"]) if g["primary_indication__gmfcs_level"] else NOT_RECORDED
        for table, key in ((by_indication, dx), (by_gmfcs, level)):
            row = table.setdefault(key, {"patients": 0, "implanted": 0})
            row["patients"] += g["n"]
            row["implanted"] += implanted
    dx_order = [*Indication.Diagnosis.values, NOT_RECORDED]
    gmfcs_order = ["1", "2", "3", "4", "5", NOT_RECORDED]
    return {
        "as_of": end.isoformat(),
        "patients": sum(by_status.values()),
        "active": sum(n for s, n in by_status.items() if s not in ENDED_STATUSES),
        "by_status": by_status,
        "by_indication": [{"indication": k, **by_indication[k]} for k in dx_order if k in by_indication],
        "by_gmfcs": [{"gmfcs_level": k, **by_gmfcs[k]} for k in gmfcs_order if k in by_gmfcs],
    }


def _activity(sites, start, end) -> dict:
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
        StatusChange.objects.filter(_scope(sites, "patient__site"), changed_on__gte=start, changed_on__lte=end)
        .filter(Q(from_status="") | Q(to_status=PatientStatus.REFERRED))
        .annotate(year=ExtractYear("changed_on"))
        .values("year")
        .annotate(n=Count("id"))
        .order_by()
    )
    for r in referrals:
        years[r["year"]]["referrals"] = r["n"]
    positive = Q(response=ScreeningTrial.Response.POSITIVE)
    trials = (
        ScreeningTrial.objects.filter(_scope(sites, "patient__site"), performed_on__gte=start, performed_on__lte=end)
        .annotate(year=ExtractYear("performed_on"))
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
        Pump.objects.filter(_scope(sites, "patient__site"), implant_date__gte=start, implant_date__lte=end)
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
        Pump.objects.filter(
            _scope(sites, "patient__site"), explant_date__gte=start, explant_date__lte=end, replaced_by__isnull=True
        )
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
    whole = ScreeningTrial.objects.filter(
        _scope(sites, "patient__site"), performed_on__gte=start, performed_on__lte=end
    ).aggregate(
        patients=Count("patient", distinct=True), positive_patients=Count("patient", distinct=True, filter=positive)
    )
    totals.update(
        patients_trialled=whole["patients"],
        patients_positive=whole["positive_patients"],
        positive_rate=_rate(whole["positive_patients"], whole["patients"]),
    )
    return {"by_year": rows, "totals": totals}


def _refills(sites, start, end, zones) -> dict:
    by_timeliness, intervals = _refill_figures(sites, start, end, zones)
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
        "on_time_rate": _rate(counts["on_time"], closed),
        "intervals": len(values),
        "median_interval_days": _median(values),
    }


def refill_intervals(sites, start, end, zones=None) -> list[int]:
    """Days between each refill in the period and the previous one in its pump chain."""
    zones = _zones(sites) if zones is None else zones
    return sorted(_refill_figures(sites, start, end, zones)[1].elements())


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


def _refill_figures(sites, start, end, zones) -> tuple[Counter, Counter]:
    """Refills in the period by timeliness, and the refill intervals as {days: how many}.

    One pass: a ``Lag`` window over each patient's refills in time order gives the previous
    refill's local day and pump; the pair is an interval when the previous pump is this pump or
    the one it replaced. The window reads refills from ``INTERVAL_LOOKBACK_DAYS`` before ``start``
    (reading all history took seconds at 100,000 patients, issue 7); an outer query keeps the
    period's refills and counts them by (timeliness, interval), so a few hundred rows come back
    instead of one per refill (window results cannot be grouped in the same SELECT).

    A refill with no earlier refill in that stretch comes back by id and gets its predecessor from
    a second query, one indexed look-up each, so the first interval of the period reaches back as
    far as it must. Only refills whose chain may reach back that far are looked up: a pump that
    replaces none and was implanted inside the stretch has all its refills in it (the refill
    trigger of migration 0002 refuses a refill before the implant date), so its first refill
    there has no interval. That leaves out nearly every first fill. Two queries.
    """
    local = _local_date("performed_at", "pump__patient__site__time_zone", zones)
    day = DayNumber(local) if zones else Value(None, output_field=IntegerField())
    window = {"partition_by": [F("pump__patient_id")], "order_by": [F("performed_at").asc(), F("id").asc()]}
    lookback = _instant_before(start - dt.timedelta(days=INTERVAL_LOOKBACK_DAYS))
    inner = (
        Refill.objects.filter(
            _scope(sites, "pump__patient__site"), performed_at__gte=lookback, performed_at__lt=_instant_after(end)
        )
        .values(
            "id",
            "timeliness",
            "pump_id",
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
    timeliness, intervals, first_in_window = Counter(), Counter(), []
    try:
        # The inner SQL is Django's own, its parameters kept apart; only column names are added.
        inner_sql, params = inner.query.sql_with_params()
    except EmptyResultSet:  # a scope of no sites (``Site.objects.none()``)
        return timeliness, intervals
    sql = (
        "SELECT w.timeliness,"  # noqa: S608
        " CASE WHEN w.prev_pump = w.pump_id OR w.prev_pump = w.replaces THEN w.day - w.prev_day END,"
        " CASE WHEN w.prev_day IS NULL AND w.may_reach_back THEN w.id END,"
        " COUNT(*)"
        f" FROM ({inner_sql}) w WHERE w.day >= %s AND w.day <= %s GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _day_number(start), _day_number(end)])
        for kind, days, pk, n in cursor.fetchall():
            timeliness[kind] += n
            if days is not None:
                intervals[days] += n
            if pk is not None:
                first_in_window.append(pk)
    earlier = Refill.objects.filter(pump__patient_id=OuterRef("pump__patient_id")).filter(
        Q(performed_at__lt=OuterRef("performed_at")) | Q(performed_at=OuterRef("performed_at"), id__lt=OuterRef("id"))
    )
    earlier = earlier.order_by("-performed_at", "-id")
    # An empty list still queries (no id is -1): the same number of queries on every call. The
    # previous refill is the same patient's, so its local date is taken in the same zone.
    found = (
        Refill.objects.filter(pk__in=first_in_window or [-1])
        .annotate(
            local=local,
            prev_at=Subquery(earlier.values("performed_at")[:1]),
            prev_pump=Subquery(earlier.values("pump_id")[:1]),
        )
        .values_list("local", "prev_at", "pump__patient__site__time_zone", "pump_id", "prev_pump", "pump__replaces_id")
        .order_by()
    )
    for local_day, prev_at, zone, pump, prev_pump, replaces in found:
        if prev_at is not None and prev_pump in (pump, replaces):
            intervals[(local_day - prev_at.astimezone(zoneinfo.ZoneInfo(zone)).date()).days] += 1
    return timeliness, intervals


def pump_years(sites, start, end) -> float:
    """Unrounded pump-years of the period (rates divide by this, the report shows it rounded).

    Pumps of patients who never died need no date of death: one anti-join finds them, and only
    the others look their date of death up (a look-up per pump took ~0.5 s at 100,000 patients).
    """
    pumps = Pump.objects.filter(_scope(sites, "patient__site"), _overlapping_pumps(start, end))
    died = Exists(StatusChange.objects.filter(patient=OuterRef("patient_id"), to_status=PatientStatus.DECEASED))
    living = pumps.filter(~died).aggregate(d=Sum(_pump_days(start, end, died=False)))["d"]
    dead = pumps.filter(died).aggregate(d=Sum(_pump_days(start, end)))["d"]
    return max(_days(living) + _days(dead), 0) / DAYS_PER_YEAR


def _safety(sites, start, end) -> dict:
    years = pump_years(sites, start, end)
    kinds = (
        Complication.objects.filter(_scope(sites, "patient__site"), occurred_on__gte=start, occurred_on__lte=end)
        .values("kind")
        .annotate(n=Count("id"), surgery=Count("id", filter=Q(needed_surgery=True)))
        .order_by()
    )
    found = {k["kind"]: k for k in kinds}
    by_kind = [
        {
            "kind": kind,
            "count": found.get(kind, {}).get("n", 0),
            "needed_surgery": found.get(kind, {}).get("surgery", 0),
            "per_100_pump_years": _rate(found.get(kind, {}).get("n", 0), years, per=100, digits=2),
        }
        for kind in Complication.Kind.values
    ]
    total = sum(r["count"] for r in by_kind)
    infections = found.get(Complication.Kind.INFECTION, {}).get("n", 0)
    return {
        "pump_years": round(years, 3),
        "complications": total,
        "needed_surgery": sum(r["needed_surgery"] for r in by_kind),
        "complications_per_100_pump_years": _rate(total, years, per=100, digits=2),
        "infections": infections,
        "infections_per_100_pump_years": _rate(infections, years, per=100, digits=2),
        "by_kind": by_kind,
    }


def _goals(sites, start, end) -> dict:
    goal_counts = (
        Goal.objects.filter(_scope(sites, "patient__site"), set_on__lte=end)
        .values("category")
        .annotate(goals=Count("id"))
        .order_by()
    )
    scores = {
        r["category"]: r
        for r in _latest_reviews(sites, start, end)
        .values(category=F("goal__category"))
        .annotate(reviewed=Count("id"), at_or_above=Count("id", filter=Q(score__gte=0)), mean_score=Avg("score"))
        .order_by()
    }
    no_reviews = {"reviewed": 0, "at_or_above": 0, "mean_score": None}
    categories = [{**c, **scores.get(c["category"], no_reviews)} for c in goal_counts]
    found = {c["category"]: c for c in categories}
    by_category = []
    for cat in Goal.Category.values:
        c = found.get(cat)
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
                "mean_score": round(float(c["mean_score"]), 2) if c["mean_score"] is not None else None,
            }
        )
    t_scores = [gas_t_score_from_sums(r["swx"], r["sw2"], r["sw"]) for r in _reviewed_goal_sums(sites, start, end)]
    goals = sum(c["goals"] for c in by_category)
    reviewed = sum(c["reviewed"] for c in by_category)
    at_or_above = sum(c["at_or_above_expected"] for c in by_category)
    return {
        "goals": goals,
        "reviewed": reviewed,
        "not_reviewed": goals - reviewed,
        "at_or_above_expected": at_or_above,
        "share_at_or_above_expected": _rate(at_or_above, reviewed),
        "patients_with_t_score": len(t_scores),
        "mean_t_score": round(statistics.fmean(t_scores), 2) if t_scores else None,
        "by_category": by_category,
    }


def _follow_ups(sites, start, end) -> dict:
    S = FollowUp.Status
    counts = FollowUp.objects.filter(_scope(sites, "patient__site"), due_date__gte=start, due_date__lte=end).aggregate(
        due=Count("id"),
        completed=Count("id", filter=Q(status=S.COMPLETED)),
        missed=Count("id", filter=Q(status=S.MISSED)),
        cancelled=Count("id", filter=Q(status=S.CANCELLED)),
        scheduled=Count("id", filter=Q(status=S.SCHEDULED)),
    )
    return {**counts, "adherence": _rate(counts["completed"], counts["completed"] + counts["missed"])}


def _reminders(sites, start, end, zones) -> dict:
    S = Reminder.Status
    qs = (
        Reminder.objects.filter(_scope(sites, "patient__site"))
        .annotate(local_date=_local_date("created_at", "patient__site__time_zone", zones))
        .filter(local_date__gte=start, local_date__lte=end)
    )
    counts = qs.aggregate(
        created=Count("id"),
        delivered=Count("id", filter=Q(status__in=[S.SENT, S.ACKNOWLEDGED])),
        failed=Count("id", filter=Q(status=S.FAILED)),
        acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
        cancelled=Count("id", filter=Q(status=S.CANCELLED)),
    )
    waits = qs.filter(acknowledged_at__isnull=False).values_list(
        ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField()), flat=True
    )
    hours = [w.total_seconds() / 3600 for w in waits]
    return {**counts, "median_hours_to_acknowledgement": _median(hours)}


def summary(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date) -> dict:
    """Every published figure of the program for ``sites`` (None: all) over ``start``..``end``."""
    if start > end:
        raise ValueError("start must not be after end")
    zones = _zones(sites)
    site_names = list((Site.objects.all() if sites is None else sites).order_by("name").values_list("name", flat=True))
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "sites": site_names,
        "census": _census(sites, end),
        "activity": _activity(sites, start, end),
        "refills": _refills(sites, start, end, zones),
        "safety": _safety(sites, start, end),
        "goals": _goals(sites, start, end),
        "follow_ups": _follow_ups(sites, start, end),
        "reminders": _reminders(sites, start, end, zones),
    }


# --- Tables (CSV) ------------------------------------------------------------------------------

TABLES = {
    "census-status": "Census by status",
    "census-indication": "Census by primary indication",
    "census-gmfcs": "Census by GMFCS level",
    "activity": "Referrals, trials and surgery by year",
    "refills": "Refills",
    "complications": "Complications",
    "goals": "Goal attainment by category",
    "follow-ups": "Follow-up adherence",
    "reminders": "Reminders",
}


def _measures(section: dict, keys: Iterable[str]) -> tuple[list[str], list[list]]:
    return ["measure", "value"], [[k, section[k]] for k in keys]


def table(report: dict, name: str) -> tuple[list[str], list[list]]:
    """Header and rows of one table of a ``summary`` (the page and the CSV show the same rows)."""
    census, activity = report["census"], report["activity"]
    if name == "census-status":
        return ["status", "patients"], [[s, n] for s, n in census["by_status"].items()]
    if name == "census-indication":
        return ["indication", "patients", "implanted"], [
            [r["indication"], r["patients"], r["implanted"]] for r in census["by_indication"]
        ]
    if name == "census-gmfcs":
        return ["gmfcs_level", "patients", "implanted"], [
            [r["gmfcs_level"], r["patients"], r["implanted"]] for r in census["by_gmfcs"]
        ]
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
        rows = [[r[c] for c in cols] for r in activity["by_year"]]
        rows.append(["total", *[activity["totals"][c] for c in cols[1:]]])
        return cols, rows
    if name == "refills":
        keys = ["performed", "first", "on_time", "late", "after_alarm", "on_time_rate", "intervals"]
        return _measures(report["refills"], [*keys, "median_interval_days"])
    if name == "complications":
        safety = report["safety"]
        rows = [[r["kind"], r["count"], r["needed_surgery"], r["per_100_pump_years"]] for r in safety["by_kind"]]
        rows.append(
            ["total", safety["complications"], safety["needed_surgery"], safety["complications_per_100_pump_years"]]
        )
        rows.append(["pump_years", safety["pump_years"], "", ""])
        return ["kind", "count", "needed_surgery", "per_100_pump_years"], rows
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
        rows = [[r[c] for c in cols] for r in goals["by_category"]]
        rows.append(["total", *[goals[c] for c in cols[1:-1]], ""])
        rows.append(["mean_t_score", goals["mean_t_score"], "patients", goals["patients_with_t_score"], "", "", ""])
        return cols, rows
    if name == "follow-ups":
        return _measures(report["follow_ups"], ["due", "completed", "missed", "cancelled", "scheduled", "adherence"])
    if name == "reminders":
        keys = ["created", "delivered", "failed", "acknowledged", "cancelled", "median_hours_to_acknowledgement"]
        return _measures(report["reminders"], keys)
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
    "age_years",
    "primary_indication",
    "gmfcs_level",
    "status",
    "first_implant_year",
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


def patient_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date) -> list[list]:
    """One row per patient registered by ``end``: no name, MRN, contact or date of birth.

    The study id is the random ``Patient.study_id`` (stable across exports, unrelated to the MRN);
    age is whole years at ``end``; only the implant *year* is given. Rows are ordered by study id,
    never by name. Counts cover the period, as in ``summary``. Patients without a study id (none
    are created so) are left out rather than given an identifier derived from anything else.
    """
    zones = _zones(sites)
    scope = _scope(sites, "pump__patient__site")
    T = Refill.Timeliness
    refills = {
        r["pump__patient_id"]: r
        for r in Refill.objects.filter(scope)
        .annotate(local_date=_local_date("performed_at", "pump__patient__site__time_zone", zones))
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
        for r in Complication.objects.filter(
            _scope(sites, "patient__site"), occurred_on__gte=start, occurred_on__lte=end
        )
        .values("patient_id")
        .annotate(n=Count("id"), infections=Count("id", filter=Q(kind=Complication.Kind.INFECTION)))
        .order_by()
    }
    pumps = _pump_summaries(sites, start, end)
    goals = {
        r["patient_id"]: (gas_t_score_from_sums(r["swx"], r["sw2"], r["sw"]), r["n"])
        for r in _reviewed_goal_sums(sites, start, end).annotate(n=Count("id"))
    }
    rows = []
    patients = (
        _census_patients(sites, end)
        .filter(study_id__isnull=False)
        .values_list(
            "pk",
            "study_id",
            "site__name",
            "sex",
            "date_of_birth",
            "primary_indication__diagnosis",
            "primary_indication__gmfcs_level",
            "status_at_end",
        )
        .order_by("study_id")
    )
    for pk, study_id, site, sex, born, dx, gmfcs, status in patients:
        r, c, p = refills.get(pk, {}), complications.get(pk, {}), pumps.get(pk, {})
        t_score, reviewed = goals.get(pk, (None, 0))
        rows.append(
            [
                study_id,
                site,
                sex,
                age_in_years(born, end),
                dx or NOT_RECORDED,
                gmfcs or "",
                status,
                p.get("first_year", ""),
                p.get("n", 0),
                p.get("pump_years", 0.0),
                r.get("n", 0),
                r.get("on_time", 0),
                r.get("late", 0),
                r.get("after_alarm", 0),
                c.get("n", 0),
                c.get("infections", 0),
                reviewed,
                round(t_score, 2) if t_score is not None else "",
            ]
        )
    return rows


def _pump_summaries(sites, start, end) -> dict[int, dict]:
    """Per patient: pumps implanted by ``end``, the first implant year, pump-years in the period."""
    return {
        r["patient_id"]: {**r, "pump_years": round(_days(r["days"]) / DAYS_PER_YEAR, 3)}
        for r in Pump.objects.filter(_scope(sites, "patient__site"), implant_date__lte=end)
        .values("patient_id")
        .annotate(
            n=Count("id"),
            first_year=ExtractYear(Min("implant_date")),
            days=Sum(_pump_days(start, end), filter=_overlapping_pumps(start, end)),
        )
        .order_by()
    }


def pump_year_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date) -> list[list]:
    """One row per pump and calendar year of the period in which it was implanted for a day or more.

    ``pump`` is the pump's ordinal in the patient's history (1 = first implant), counted over all
    their pumps. Refills are counted by the site-local year, complications by the pump they were
    recorded against (complications without a pump appear only in the patient export).
    """
    zones = _zones(sites)
    ordinal = Window(RowNumber(), partition_by=[F("patient_id")], order_by=[F("implant_date").asc(), F("id").asc()])
    pumps = (
        Pump.objects.filter(_scope(sites, "patient__site"), implant_date__lte=end, patient__study_id__isnull=False)
        .annotate(ordinal=ordinal, death=_death_date())
        .values_list("pk", "patient__study_id", "ordinal", "implant_date", "explant_date", "death")
    )
    local = _local_date("performed_at", "pump__patient__site__time_zone", zones)
    refills = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Refill.objects.filter(_scope(sites, "pump__patient__site"))
        .annotate(local_date=local)
        .filter(local_date__gte=start, local_date__lte=end)
        .annotate(year=ExtractYear("local_date"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    complications = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Complication.objects.filter(
            _scope(sites, "patient__site"), pump__isnull=False, occurred_on__gte=start, occurred_on__lte=end
        )
        .annotate(year=ExtractYear("occurred_on"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    rows = []
    for pk, study_id, number, implanted, explanted, died in pumps:
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
    return rows
