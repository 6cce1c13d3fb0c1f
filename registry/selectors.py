"""Reads shared by the dashboard, the API, the admin and the tasks (STYLE.md, "selectors").

A patient's refill status depends on the day, so it is not stored: it is annotated in SQL from the
stored dates and each site's own "today" (its time zone) and lead window, with the same rules as
``registry.scheduling.refill_status``.
"""

from __future__ import annotations

import datetime as dt
import operator
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    DateField,
    Expression,
    F,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from registry import scheduling
from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
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

URGENCY = {"critical": 0, "overdue": 1, "due": 2, "upcoming": 3, "none": 4}


def sites_today(now: dt.datetime, sites: QuerySet[Site] | None = None) -> list[tuple[int, dt.date, int, int]]:
    """Each site's id, today in its zone, refill lead window and follow-up grace days (one query)."""
    rows = (sites if sites is not None else Site.objects.all()).values_list(
        "pk", "time_zone", "refill_lead_days", "follow_up_grace_days"
    )
    return [
        (pk, scheduling.today_in(zoneinfo.ZoneInfo(tz), now), max(leads or [0]), grace) for pk, tz, leads, grace in rows
    ]


def site_days(
    now: dt.datetime | None = None, sites: QuerySet[Site] | None = None, rows=None
) -> dict[tuple[dt.date, int], list]:
    """Group site ids by (today in the site's zone, the site's refill lead window).

    ``rows``: ``sites_today``'s answer, when the caller has read it already.
    """
    groups: dict[tuple[dt.date, int], list] = defaultdict(list)
    for pk, today, lead, _ in rows if rows is not None else sites_today(now or timezone.now(), sites):
        groups[(today, lead)].append(pk)
    return groups


def data_version() -> str:
    """The ``DataVersion`` counter as a cache-key part (migration 0009 raises it on every write).

    On PostgreSQL the counter moves at commit; a transaction that has written reads its own
    uncommitted state, so its key also names the transaction and how many writing statements it
    has run (a test's request after its own write is not served the page from before it).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT (SELECT value FROM registry_dataversion WHERE id = 1), p.txid, p.statements"
                " FROM (SELECT 1) one LEFT JOIN registry_dataversion_pending p ON p.txid = txid_current_if_assigned()"
            )
        else:
            cursor.execute("SELECT value, NULL, NULL FROM registry_dataversion WHERE id = 1")
        row = cursor.fetchone() or (None, None, None)
    return ".".join(str(part) for part in row if part is not None) or "none"


class _SiteColumns(Expression):
    """An expression over the patient's site, next due date and alarm date, resolved once.

    The refill rule below is written as SQL over these three columns, not as ``Q`` objects: the
    ORM resolves those condition by condition (some thirty for a patient page, a hundred for the
    worklist), and that cost as much as the page's query (issue 7).
    """

    def __init__(self, output_field):
        super().__init__(output_field=output_field)
        self.columns = [F("site_id"), F("next_refill_due"), F("alarm_date")]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def compiled_columns(self, compiler) -> dict[str, str]:
        site, due, alarm = (compiler.compile(c)[0] for c in self.columns)
        return {"site_id": site, "next_refill_due": due, "alarm_date": alarm}


class _BySiteGroup(_SiteColumns):
    """One CASE over the patient's site group: ``branch(day, lead, columns)`` is each group's SQL.

    The largest group is the ELSE branch, so the sites' ids are listed once for each other group
    (a handful of days at most) rather than in every condition: a tenth of the parameters to
    build, send and plan at 40 sites (issue 7).
    """

    def __init__(self, groups, branch, output_field):
        super().__init__(output_field)
        self.groups, self.branch = groups, branch

    def as_sql(self, compiler, connection):
        columns = self.compiled_columns(compiler)
        site = columns["site_id"]
        ordered = sorted(self.groups.items(), key=lambda g: len(g[1]))
        if not ordered:
            return self.branch(timezone.now().date(), 0, columns, connection)
        *others, (last, _) = ordered
        if not others:
            return self.branch(*last, columns, connection)
        sql, params = ["CASE"], []
        for (day, lead), ids in others:
            then, then_params = self.branch(day, lead, columns, connection)
            sql.append(f"WHEN {_in_list(site, ids)} THEN {then}")
            params += [*ids, *then_params]
        default, default_params = self.branch(*last, columns, connection)
        sql.append(f"ELSE {default} END")
        return " ".join(sql), [*params, *default_params]


def _site_today(groups) -> _BySiteGroup:
    """Each patient's site's "today", from ``site_days``."""
    return _BySiteGroup(groups, lambda day, lead, cols, connection: ("%s", [_sql_date(day, connection)]), DateField())


def _sql_date(day: dt.date, connection):
    return connection.ops.adapt_datefield_value(day)


def _in_list(column: str, ids) -> str:
    return f"{column} IN ({', '.join(['%s'] * len(ids))})"


# ``registry.scheduling.refill_status`` in precedence order: (status, column, comparison, days
# after the site's today). Stated once: the status CASE and the status filter below read it.
_REFILL_RULE = [
    ("critical", "alarm_date", "lte", lambda lead: 0),
    ("overdue", "next_refill_due", "lt", lambda lead: 0),
    ("due", "next_refill_due", "lte", lambda lead: lead),
]
_SQL_COMPARISON = {"lt": "<", "lte": "<="}


def _refill_case(label):
    """The branch of ``_BySiteGroup``: the rule above as one CASE, each status mapped by ``label``."""

    def branch(day, lead, columns, connection):
        sql, params = [f"CASE WHEN {columns['next_refill_due']} IS NULL THEN %s"], [label("none")]
        for status, column, lookup, offset in _REFILL_RULE:
            sql.append(f"WHEN {columns[column]} {_SQL_COMPARISON[lookup]} %s THEN %s")
            params += [_sql_date(day + dt.timedelta(days=offset(lead)), connection), label(status)]
        sql.append("ELSE %s END")
        return " ".join(sql), [*params, label("upcoming")]

    return branch


def with_refill_status(qs: QuerySet[Patient], now: dt.datetime | None = None, groups=None) -> QuerySet[Patient]:
    """Annotate ``site_today``, ``refill_status`` and ``urgency`` (0 = most urgent).

    ``groups`` is ``site_days(now)`` when the caller has it already (one query fewer). The status
    and its urgency are one CASE each, rather than an urgency CASE over the status CASE, which
    would inline the status five times.
    """
    groups = site_days(now) if groups is None else groups
    return qs.annotate(
        site_today=_site_today(groups),
        refill_status=_BySiteGroup(groups, _refill_case(str), CharField()),
        urgency=_BySiteGroup(groups, _refill_case(URGENCY.get), IntegerField()),
    )


class _RefillStatusIs(_SiteColumns):
    """The condition "``refill_status`` is ``status``" (see ``refill_status_q``)."""

    conditional = True

    def __init__(self, groups, status):
        super().__init__(BooleanField())
        self.groups, self.status = groups, status

    def as_sql(self, compiler, connection):
        columns = self.compiled_columns(compiler)
        # The tests of the statuses before this one (negated) and its own; "upcoming" has none.
        statuses = [rule[0] for rule in _REFILL_RULE]
        rules = _REFILL_RULE[: statuses.index(self.status) + 1] if self.status in statuses else _REFILL_RULE
        either, params = [], []
        for (day, lead), ids in self.groups.items():
            sql = [_in_list(columns["site_id"], ids)]
            params += ids
            for status, column, lookup, offset in rules:
                test = f"{columns[column]} {_SQL_COMPARISON[lookup]} %s"
                # A status after another holds only where the earlier test is not true; written as
                # the ORM writes an excluded lookup, NULL-safe and estimable from the statistics.
                sql.append(test if status == self.status else f"NOT ({test} AND {columns[column]} IS NOT NULL)")
                params.append(_sql_date(day + dt.timedelta(days=offset(lead)), connection))
            either.append("(" + " AND ".join(sql) + ")")
        return f"({columns['next_refill_due']} IS NOT NULL AND ({' OR '.join(either) or '1 = 0'}))", params


def refill_status_q(status: str, groups) -> Q:
    """Patients whose ``refill_status`` (above) is ``status``, as plain conditions on the dates.

    The same rule as the CASE, written so that PostgreSQL can estimate it from the columns'
    statistics (a CASE compared with a constant is a blind guess): the worklist's per-urgency
    members then walk the due-date index and stop after a page instead of sorting every row.
    """
    return Q(_RefillStatusIs(groups, status))


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


@dataclass(frozen=True)
class WorkItem:
    """One row of the worklist: why a patient needs attention, and by when."""

    patient: Patient
    kind: str  # "refill", "battery" or "follow_up"
    due_date: dt.date
    status: str  # refill: critical/overdue/due/upcoming; battery: due/overdue; follow_up: due/missed
    reason: str
    target_id: int | None = None

    @property
    def urgency(self) -> int:
        return WORK_URGENCY[(self.kind, self.status)]

    @property
    def due_label(self) -> str:
        """ "Wed 25 Nov 2026": the worklist's date, formatted once here rather than by a template
        filter per row (two hundred rows per page)."""
        return f"{self.due_date:%a} {self.due_date.day} {self.due_date:%b %Y}"

    def sort_key(self) -> tuple:
        """Most urgent first, then earliest date; ties broken so that the order is total."""
        return (self.urgency, self.due_date, self.patient.pk, self.kind, self.target_id or 0)


WORK_URGENCY = {
    ("refill", "critical"): 0,
    ("refill", "overdue"): 1,
    ("battery", "overdue"): 2,
    ("refill", "due"): 3,
    ("follow_up", "missed"): 4,
    ("battery", "due"): 5,
    ("follow_up", "due"): 6,
    ("refill", "upcoming"): 7,
}
WORK_KINDS = ("refill", "battery", "follow_up")


def open_follow_ups(patients: QuerySet[Patient] | None, *, start: dt.date | None, end: dt.date) -> QuerySet[FollowUp]:
    """Visits a worklist shows: scheduled or missed, due by ``end``, and not superseded.

    A missed (or never-recorded) visit stays on the worklist until the patient has a later visit
    of the same kind booked or done: rebooking is how a coordinator closes it. Without this rule a
    missed annual review from years ago would stay on every worklist for ever (issue 7 found
    36,000 such rows at 100,000 patients). ``FollowUp.superseded`` holds the rule's answer, kept by
    database triggers (migration 0007), so this reads the partial index ``follow_up_open_idx``.
    ``patients=None`` means every patient (no join).
    """
    visits = FollowUp.objects.filter(
        due_date__lte=end,
        status__in=[FollowUp.Status.SCHEDULED, FollowUp.Status.MISSED],
        superseded=False,
    )
    if patients is not None:
        visits = visits.filter(patient__in=patients.values("pk"))
    if start is not None:
        visits = visits.exclude(status=FollowUp.Status.SCHEDULED, due_date__lt=start - dt.timedelta(days=30))
    return visits


def worklist(
    *,
    start: dt.date | None,
    end: dt.date,
    patients: QuerySet[Patient] | None = None,
    kinds: tuple[str, ...] = WORK_KINDS,
    now: dt.datetime | None = None,
    battery_window_days: int = 180,
) -> list[WorkItem]:
    """Everything due by ``end`` for ``patients`` (default: all), most urgent first.

    A constant number of queries whatever the program's size (sites, refills, batteries,
    follow-ups). Anything critical, overdue or missed is listed whatever ``start`` says: nobody
    past a date may fall out of a window. Battery items appear from ``battery_window_days`` before
    the ERI date (the earliest battery reminder lead by default, FACTS.md).
    """
    base = patients if patients is not None else Patient.objects.all()
    items: list[WorkItem] = []
    if "refill" in kinds:
        for p in refill_worklist(end=end, sites=None, now=now).filter(pk__in=base.values("pk")):
            if start is not None and p.next_refill_due < start and p.refill_status == "upcoming":
                continue
            items.append(_refill_item(p))
    if "battery" in kinds:
        horizon = end + dt.timedelta(days=battery_window_days)
        qs = with_refill_status(
            base.filter(battery_eri_date__isnull=False, battery_eri_date__lte=horizon).select_related(
                "site", "primary_clinician"
            ),
            now,
        )
        for p in qs:
            items.append(_battery_item(p, "overdue" if p.battery_eri_date <= p.site_today else "due"))
    if "follow_up" in kinds:
        visits = open_follow_ups(base, start=start, end=end).select_related(
            "patient__site", "patient__primary_clinician"
        )
        for v in visits:
            site = v.patient.site
            overdue = scheduling.follow_up_missed(
                scheduling.today_in(site.zone, now or timezone.now()),
                visit_date=v.due_date,
                grace_days=site.follow_up_grace_days,
            )
            status = "missed" if v.status == FollowUp.Status.MISSED or overdue else "due"
            items.append(_follow_up_item(v, v.patient, status))
    items.sort(key=WorkItem.sort_key)
    return items


def search_patients(
    patients: QuerySet[Patient], *, query: str = "", status: str = "", diagnosis: str = ""
) -> QuerySet[Patient]:
    """Patients matching every word of ``query`` (name or MRN), a status and a diagnosis."""
    qs = patients
    for word in query.replace(",", " ").split():
        qs = qs.filter(Q(given_name__icontains=word) | Q(family_name__icontains=word) | Q(mrn__icontains=word))
    if status:
        qs = qs.filter(status=status)
    if diagnosis:
        qs = qs.filter(pk__in=Patient.objects.filter(indications__diagnosis=diagnosis).values("pk"))
    primary = Prefetch(
        "indications", queryset=Indication.objects.filter(is_primary=True), to_attr="primary_indications"
    )
    return with_refill_status(qs.select_related("site", "primary_clinician").prefetch_related(primary)).order_by(
        "family_name", "given_name", "id"
    )


def patient_detail(patients: QuerySet[Patient], pk: int) -> Patient:
    """One patient (from a queryset already scoped to the user) with the records its page shows."""
    return (
        patients.select_related("site", "primary_clinician")
        .prefetch_related(
            Prefetch("pumps", queryset=Pump.objects.order_by("implant_date", "id")),
            "indications",
            Prefetch("follow_ups", queryset=FollowUp.objects.order_by("due_date", "id")),
            Prefetch("goals__reviews", queryset=GoalReview.objects.order_by("reviewed_on", "id")),
        )
        .get(pk=pk)
    )


@dataclass(frozen=True)
class ReservoirCurve:
    """The projected reservoir of the current refill cycle, for the patient page's chart."""

    points: list[tuple[dt.datetime, Decimal]]
    reservoir_ml: Decimal
    alarm_ml: Decimal
    refill: Refill


def patient_reservoir_curve(patient: Patient) -> ReservoirCurve | None:
    """The curve from the active pump's latest refill through its later dose changes, or None."""
    pump = patient.active_pump
    if pump is None:
        return None
    refill = Refill.objects.filter(pump=pump).order_by("-performed_at").first()
    if refill is None:
        return None
    changes = DoseChange.objects.filter(pump=pump, effective_at__gt=refill.performed_at).order_by("effective_at")
    fill = scheduling.FillState(
        refill.performed_at, refill.volume_after_ml, refill.concentration_mcg_per_ml, refill.daily_dose_mcg
    )
    steps = [scheduling.DoseStep(c.effective_at, c.daily_dose_mcg) for c in changes]
    return ReservoirCurve(
        scheduling.reservoir_curve(fill, steps), pump.reservoir_volume_ml, pump.alarm_volume_ml, refill
    )


@dataclass(frozen=True)
class TimelineEvent:
    on: dt.date
    at: dt.datetime | None
    kind: str
    title: str
    detail: str = ""


def patient_timeline(patient: Patient) -> list[TimelineEvent]:
    """Everything that happened to ``patient``, newest first, in a fixed number of queries."""
    zone = patient.site.zone
    events: list[TimelineEvent] = []

    def instant(kind: str, at: dt.datetime, title: str, detail: str = "") -> None:
        events.append(TimelineEvent(at.astimezone(zone).date(), at.astimezone(zone), kind, title, detail))

    for c in StatusChange.objects.filter(patient=patient).select_related("changed_by"):
        old = _status_label(c.from_status) if c.from_status else "—"
        title = f"Status: {old} → {_status_label(c.to_status)}"
        events.append(TimelineEvent(c.changed_on, None, "status", title, c.reason))
    for t in ScreeningTrial.objects.filter(patient=patient):
        detail = f"{t.get_route_display()}, {t.test_dose_mcg} mcg"
        if t.ashworth_before or t.ashworth_after:
            detail += f"; Ashworth {t.ashworth_before or '?'} → {t.ashworth_after or '?'}"
        events.append(
            TimelineEvent(t.performed_on, None, "trial", f"Screening trial: {t.get_response_display()}", detail)
        )
    for p in Pump.objects.filter(patient=patient):
        title = "Pump replaced" if p.replaces_id else "Pump implanted"
        detail = f"{p.manufacturer} {p.model} {p.serial_number}, {p.reservoir_volume_ml} mL".replace("  ", " ")
        events.append(TimelineEvent(p.implant_date, None, "pump", title, detail))
        if p.explant_date:
            events.append(TimelineEvent(p.explant_date, None, "pump", "Pump explanted", p.explant_reason))
    for r in Refill.objects.filter(pump__patient=patient).select_related("performed_by"):
        detail = f"{r.volume_after_ml} mL at {r.concentration_mcg_per_ml} mcg/mL, {r.daily_dose_mcg} mcg/day"
        if r.timeliness:
            detail += f"; {r.get_timeliness_display().lower()}"
        if r.residual_discrepancy:
            detail += f"; residual discrepancy (removed {r.volume_removed_ml} mL, expected {r.expected_residual_ml} mL)"
        instant("refill", r.performed_at, "Refill", detail)
    for d in DoseChange.objects.filter(pump__patient=patient):
        instant("dose", d.effective_at, f"Dose change to {d.daily_dose_mcg} mcg/day", d.notes)
    for f in FollowUp.objects.filter(patient=patient):
        events.append(
            TimelineEvent(
                f.completed_on or f.due_date,
                None,
                "follow_up",
                f"{f.get_kind_display()}: {f.get_status_display().lower()}",
                f.outcome_notes,
            )
        )
    for g in patient.goals.all():
        events.append(TimelineEvent(g.set_on, None, "goal", f"Goal set: {g.get_category_display()}", g.description))
        for review in g.reviews.all():
            events.append(
                TimelineEvent(
                    review.reviewed_on,
                    None,
                    "goal_review",
                    f"Goal review: GAS {review.score:+d}",
                    f"{g.get_category_display()}. {review.notes}".strip(),
                )
            )
    for c in Complication.objects.filter(patient=patient):
        detail = f"{c.get_severity_display()}" + ("; needed surgery" if c.needed_surgery else "")
        if c.resolved_on:
            detail += f"; resolved {c.resolved_on:%d %b %Y}"
        events.append(
            TimelineEvent(c.occurred_on, None, "complication", f"Complication: {c.get_kind_display()}", detail)
        )
    for m in Reminder.objects.filter(patient=patient).order_by("-created_at")[:100]:
        instant(
            "reminder",
            m.created_at,
            f"Reminder: {m.get_kind_display()}",
            f"for {m.due_date:%d %b %Y}, {m.get_channel_display().lower()} — {m.get_status_display().lower()}",
        )
    midnight = dt.time(0, 0)
    events.sort(key=lambda e: (e.on, (e.at.time() if e.at else midnight), e.kind), reverse=True)
    return events


def _status_label(value: str) -> str:
    return PatientStatus(value).label if value in PatientStatus.values else value


# What a work item shows of its patient (the API's rows, the dashboard's table, the reasons):
# loaded alone, as a page's 50 sites and clinicians with every settings column cost 2 ms (issue 7).
WORK_ITEM_PATIENT_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "next_refill_due",
    "alarm_date",
    "battery_eri_date",
    "site__name",
    "primary_clinician__username",
    "primary_clinician__first_name",
    "primary_clinician__last_name",
)


def _refill_item(p: Patient) -> WorkItem:
    reason = {
        "critical": f"Alarm date {p.alarm_date:%d %b %Y} reached: refill now",
        "overdue": f"Refill was due {p.next_refill_due:%d %b %Y}",
        "due": f"Refill due {p.next_refill_due:%d %b %Y}",
        "upcoming": f"Refill due {p.next_refill_due:%d %b %Y}",
    }[p.refill_status]
    return WorkItem(p, "refill", p.next_refill_due, p.refill_status, reason)


def _battery_item(p: Patient, status: str) -> WorkItem:
    return WorkItem(
        p, "battery", p.battery_eri_date, status, f"Battery ERI {p.battery_eri_date:%d %b %Y}: plan the replacement"
    )


def _follow_up_item(v: FollowUp, patient: Patient, status: str) -> WorkItem:
    label = v.get_kind_display()
    reason = f"{label} missed (due {v.due_date:%d %b %Y})" if status == "missed" else f"{label} due"
    return WorkItem(patient, "follow_up", v.due_date, status, reason, v.pk)


@dataclass(frozen=True)
class WorklistPage:
    total: int | None
    items: list[WorkItem]


def _urgency_case(kind: str, status_field: str) -> Case:
    """``WORK_URGENCY`` of one kind of item, in SQL."""
    whens = [When(**{status_field: status}, then=Value(v)) for (k, status), v in WORK_URGENCY.items() if k == kind]
    return Case(*whens, output_field=IntegerField())


def worklist_page(
    *,
    start: dt.date | None,
    end: dt.date,
    patients: QuerySet[Patient] | None = None,
    kinds: tuple[str, ...] = WORK_KINDS,
    now: dt.datetime | None = None,
    battery_window_days: int = 180,
    offset: int = 0,
    limit: int = 50,
    count: bool = True,
    sites: list[int] | None = None,
) -> WorklistPage:
    """One page of ``worklist`` (same items, same order) and the total, sorted and cut in SQL.

    Why: program-wide the worklist holds 25,000 items at 100,000 patients; building them all in
    Python to show fifty costs seconds, and even ranking them all in SQL costs tens of ms (issue 7).
    So the page is a UNION ALL of one member per urgency (critical refills, overdue refills, ...),
    each ordered by date along an index and cut at ``offset + limit`` rows: the database reads
    about a page per member, whatever the program's size. (SQLite cannot order and cut inside a
    UNION: there the members are whole kinds and the union is ranked as a whole, same result.)
    The total counts primary keys only, from the same indexes. The page's patients and visits are
    then loaded in two queries: a constant number of queries whatever the size. ``count=False``
    skips the total (``total`` is then ``None``): a paginator that has counted needs only the page.
    ``sites`` narrows the page to these sites' patients (a clinic's scope): visits are then read
    by their own site column, through an index of open visits by site, not by a semi-join on
    patients that walked every site's visits.
    """
    now = now or timezone.now()
    every_site = sites_today(now)  # once, for the CASEs and the follow-up cutoffs below
    groups = site_days(rows=every_site)
    if sites is not None:
        patients = (patients if patients is not None else Patient.objects.all()).filter(site_id__in=sites)
    if patients is not None and not patients.query.where:
        patients = None  # every patient (an administrator's scope): no semi-join on the patients
    base = patients if patients is not None else Patient.objects.all()
    per_urgency = connection.features.supports_slicing_ordering_in_compound
    window = offset + limit if limit > 0 else 0  # rows each member must give; 0: count only
    columns = ("item_kind", "item_status", "work_urgency", "item_due", "item_patient", "item_target")
    days = [day for day, _ in groups] or [timezone.now().date()]
    members, counted = [], []

    def cut(qs, *order):
        return qs.order_by(*order, "item_patient", "item_target").values_list(*columns)[:window]

    if "refill" in kinds:
        # The scope's own conditions (its sites), not a semi-join: the site indexes stay usable.
        qs = base.order_by().filter(next_refill_due__isnull=False, next_refill_due__lte=end)
        last_due = min((day + dt.timedelta(days=lead) for day, lead in groups), default=days[0])
        ranked = with_refill_status(qs, now, groups) if not per_urgency else None
        if start is not None and start > last_due + dt.timedelta(days=1):
            # Only then can an upcoming refill fall before ``start`` (it is past its lead window).
            early = refill_status_q("upcoming", groups) & Q(next_refill_due__lt=start)
            qs = qs.exclude(early)
            ranked = ranked.exclude(early) if ranked is not None else None
        counted.append(qs.order_by().values_list("pk"))
        item = {
            "item_kind": Value("refill"),
            "item_due": F("next_refill_due"),
            "item_patient": F("pk"),
            "item_target": Cast(Value(None), BigIntegerField()),
        }
        if window and per_urgency:
            # Each status with a date range it implies, so that the index scan starts there. Its
            # status and urgency are constants: no CASE to plan in every member.
            hints = {
                "critical": Q(),
                "overdue": Q(next_refill_due__lt=max(days)),
                "due": Q(next_refill_due__gte=min(days)),
                "upcoming": Q(next_refill_due__gt=last_due, next_refill_due__gte=start or dt.date.min),
            }
            members += [
                cut(
                    qs.filter(hint, refill_status_q(status, groups)).annotate(
                        **item, item_status=Value(status), work_urgency=Value(WORK_URGENCY[("refill", status)])
                    ),
                    "item_due",
                )
                for status, hint in hints.items()
            ]
        elif window:
            rows = ranked.annotate(
                **item, item_status=F("refill_status"), work_urgency=_urgency_case("refill", "refill_status")
            )
            members.append(rows.order_by().values_list(*columns))
    if "battery" in kinds:
        horizon = end + dt.timedelta(days=battery_window_days)
        qs = base.filter(battery_eri_date__isnull=False, battery_eri_date__lte=horizon)
        counted.append(qs.order_by().values_list("pk"))
        status = Case(
            When(battery_eri_date__lte=F("site_today"), then=Value("overdue")),
            default=Value("due"),
            output_field=CharField(),
        )
        rows = qs.order_by().annotate(
            site_today=_site_today(groups),
            item_kind=Value("battery"),
            item_status=status,
            work_urgency=_urgency_case("battery", "item_status"),
            item_due=F("battery_eri_date"),
            item_patient=F("pk"),
            item_target=Cast(Value(None), BigIntegerField()),
        )
        # A few hundred rows at most (within half a year of ERI): ranked whole.
        if window:
            members.append(cut(rows, "work_urgency", "item_due") if per_urgency else rows.values_list(*columns))
    if "follow_up" in kinds:
        visits = open_follow_ups(patients, start=start, end=end)
        if sites is not None:
            visits = visits.filter(site_id__in=sites)
        counted.append(visits.order_by().values_list("pk"))
        # Missed once the site's grace period has passed, in the site's own "today".
        cutoffs: dict[dt.date, list[int]] = defaultdict(list)
        for pk, today, _, grace in every_site:
            cutoffs[today - dt.timedelta(days=grace)].append(pk)
        # The sites' cutoffs differ by a day or so: before the earliest every visit is missed, and
        # only a visit between the earliest and a later cutoff needs its site (its own column).
        earliest = min(cutoffs, default=dt.date.min)
        band = reduce(
            operator.or_,
            [Q(site_id__in=ids, due_date__lt=cutoff) for cutoff, ids in cutoffs.items() if cutoff > earliest],
            Q(pk__in=[]),
        )
        missed = Q(status=FollowUp.Status.MISSED) | Q(due_date__lt=earliest) | band
        visits = visits.annotate(
            item_kind=Value("follow_up"),
            item_due=F("due_date"),
            item_patient=F("patient_id"),
            item_target=F("pk"),
        ).order_by()
        if window and per_urgency:
            # "due" is the rest of the open visits, with the date range it implies for the index.
            buckets = {"missed": missed, "due": Q(status=FollowUp.Status.SCHEDULED, due_date__gte=earliest) & ~band}
            members += [
                cut(
                    visits.filter(rule).annotate(
                        item_status=Value(label), work_urgency=Value(WORK_URGENCY[("follow_up", label)])
                    ),
                    "item_due",
                )
                for label, rule in buckets.items()
            ]
        elif window:
            status = Case(When(missed, then=Value("missed")), default=Value("due"), output_field=CharField())
            rows = visits.annotate(item_status=status, work_urgency=_urgency_case("follow_up", "item_status"))
            members.append(rows.values_list(*columns))
    if not counted:
        return WorklistPage(0, [])
    total = counted[0].union(*counted[1:], all=True).count() if count else None
    if not members:
        return WorklistPage(total, [])
    union = members[0].union(*members[1:], all=True) if len(members) > 1 else members[0]
    rows = list(
        union.order_by("work_urgency", "item_due", "item_patient", "item_kind", "item_target")[offset : offset + limit]
    )
    by_pk = {
        p.pk: p
        for p in with_refill_status(
            Patient.objects.filter(pk__in={r[4] for r in rows})
            .select_related("site", "primary_clinician")
            .only(*WORK_ITEM_PATIENT_FIELDS),
            now,
            groups,
        )
    }
    visits_by_pk = FollowUp.objects.in_bulk([r[5] for r in rows if r[0] == "follow_up"])
    items = []
    for kind, status, _, _, patient_pk, target in rows:
        patient = by_pk[patient_pk]
        if kind == "refill":
            items.append(_refill_item(patient))
        elif kind == "battery":
            items.append(_battery_item(patient, status))
        else:
            items.append(_follow_up_item(visits_by_pk[target], patient, status))
    return WorklistPage(total, items)
