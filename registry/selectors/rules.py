"""The worklist's rules: a patient's refill status and a site's "today", in Python and in SQL.

A patient's refill status depends on the day, so it is not stored: it is annotated in SQL from the
stored dates and each site's own "today" (its time zone) and lead window, with the same rules as
``registry.scheduling.refill_status``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from typing import NamedTuple

from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone

from registry import scheduling
from registry.models import Patient, RefillAppointment, Site, site_today
from registry.selectors.memo import ProcessMemo

# A patient's refill status, most urgent first (0): the order of ``scheduling.REFILL_STATUS_RULES``.
URGENCY = {status: n for n, status in enumerate([*scheduling.REFILL_STATUSES[1:], scheduling.RefillStatus.NONE])}


class SiteDay(NamedTuple):
    """A site's "today" (in its zone) with what the worklist's SQL reads beside it."""

    site_id: int
    today: dt.date
    lead_days: int
    grace_days: int


_SITE_COLUMNS = ("pk", "time_zone", "refill_lead_days", "follow_up_grace_days")
# Every site's row as of one data version: a site changes only by a write, and each write raises it.
_EVERY_SITE: ProcessMemo[list[tuple]] = ProcessMemo(limit=1)
# Their days, per data version and second: each request of a busy second shares one computation.
_EVERY_SITE_DAY: ProcessMemo[list[SiteDay]] = ProcessMemo(limit=2)


def sites_today(now: dt.datetime, sites: QuerySet[Site] | None = None, *, version: str | None = None) -> list[SiteDay]:
    """Each site's day, refill lead window and follow-up grace days (one query, no Site objects).

    ``version``: the data version the caller has just read; every site's row is then read once per
    version in each process, and a page's request reads none (the list is shared: never change it).
    """
    if sites is None and version is not None:
        # Within one second every site's day is the same (zone offsets are whole seconds).
        second = now.replace(microsecond=0)
        return _EVERY_SITE_DAY.get_or_build((version, second), lambda: _every_site_today(second, version))
    rows = (sites if sites is not None else Site.objects.all()).values_list(*_SITE_COLUMNS)
    return _days(rows, now)


def _every_site_today(now: dt.datetime, version: str) -> list[SiteDay]:
    return _days(_EVERY_SITE.get_or_build(version, lambda: list(Site.objects.values_list(*_SITE_COLUMNS))), now)


def _days(rows, now: dt.datetime) -> list[SiteDay]:
    return [
        SiteDay(pk, scheduling.today_in(zoneinfo.ZoneInfo(tz), now), max(leads or [0]), grace)
        for pk, tz, leads, grace in rows
    ]


def forget_site_rows() -> None:
    """Drop the sites' rows kept per data version (tests: a flushed table does not raise it)."""
    _EVERY_SITE.clear()
    _EVERY_SITE_DAY.clear()


def site_days(
    now: dt.datetime | None = None, sites: QuerySet[Site] | None = None, rows=None
) -> dict[tuple[dt.date, int], list]:
    """Group site ids by (today in the site's zone, the site's refill lead window).

    ``rows``: ``sites_today``'s answer, when the caller has read it already.
    """
    groups: dict[tuple[dt.date, int], list] = defaultdict(list)
    for day in rows if rows is not None else sites_today(now or timezone.now(), sites):
        groups[(day.today, day.lead_days)].append(day.site_id)
    return groups


# The patient's site and the stored columns the refill status rule reads.
_COLUMNS = tuple(dict.fromkeys(["site_id", "next_refill_due", *(r.column for r in scheduling.REFILL_STATUS_RULES)]))


class _SiteColumns(Expression):
    """An expression over the patient's site, next due date and alarm date, resolved once.

    The refill rule below is written as SQL over these three columns, not as ``Q`` objects: the
    ORM resolves those condition by condition (some thirty for a patient page, a hundred for the
    worklist), and that cost as much as the page's query.
    """

    def __init__(self, output_field):
        super().__init__(output_field=output_field)
        self.columns = [F(name) for name in _COLUMNS]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def compiled_columns(self, compiler) -> dict[str, str]:
        return {name: compiler.compile(c)[0] for name, c in zip(_COLUMNS, self.columns, strict=True)}


class _BySiteGroup(_SiteColumns):
    """One CASE over the patient's site group: ``branch(day, lead, columns)`` is each group's SQL.

    The largest group is the ELSE branch, so the sites' ids are listed once for each other group
    (a handful of days at most) rather than in every condition: a tenth of the parameters to
    build, send and plan at 40 sites.
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


_SQL_COMPARISON = {"eq": "=", "lt": "<", "lte": "<="}


def _operand(rule: scheduling.StatusTest, day: dt.date, lead: int, connection):
    value = rule.value(day, lead)
    return _sql_date(value, connection) if isinstance(value, dt.date) else value


def _test(rule: scheduling.StatusTest, columns: dict[str, str]) -> str:
    return f"{columns[rule.column]} {_SQL_COMPARISON[rule.comparison]} %s"


def _refill_case(label):
    """The branch of ``_BySiteGroup``: ``scheduling.REFILL_STATUS_RULES`` as one CASE, statuses mapped by ``label``."""

    def branch(day, lead, columns, connection):
        sql, params = [f"CASE WHEN {columns['next_refill_due']} IS NULL THEN %s"], [label(scheduling.RefillStatus.NONE)]
        for rule in scheduling.REFILL_STATUS_RULES:
            sql.append(f"WHEN {_test(rule, columns)} THEN %s")
            params += [_operand(rule, day, lead, connection), label(rule.status)]
        sql.append("ELSE %s END")
        return " ".join(sql), [*params, label(scheduling.REFILL_STATUS_OTHERWISE)]

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
        # The tests of the statuses before this one (negated) and its own; the last status has none.
        rules = scheduling.REFILL_STATUS_RULES
        statuses = [rule.status for rule in rules]
        rules = rules[: statuses.index(self.status) + 1] if self.status in statuses else rules
        either, params = [], []
        for (day, lead), ids in self.groups.items():
            sql = [_in_list(columns["site_id"], ids)]
            params += ids
            for rule in rules:
                test, column = _test(rule, columns), columns[rule.column]
                # A status after another holds only where the earlier test is not true; written as
                # the ORM writes an excluded lookup, NULL-safe and estimable from the statistics.
                sql.append(test if rule.status == self.status else f"NOT ({test} AND {column} IS NOT NULL)")
                params.append(_operand(rule, day, lead, connection))
            either.append("(" + " AND ".join(sql) + ")")
        return f"({columns['next_refill_due']} IS NOT NULL AND ({' OR '.join(either) or '1 = 0'}))", params


def refill_status_q(status: str, groups) -> Q:
    """Patients whose ``refill_status`` (above) is ``status``, as plain conditions on the dates.

    The same rule as the CASE, written so that PostgreSQL can estimate it from the columns'
    statistics (a CASE compared with a constant is a blind guess): the worklist's per-urgency
    members then walk the due-date index and stop after a page instead of sorting every row.
    """
    return Q(_RefillStatusIs(groups, status))


def no_show_q(groups) -> Q:
    """Patients with an open refill booking whose day has passed at its clinic: a no-show.

    Worked out from the booking's date and the clinic's "today" (``site_days``), whether or not a
    sweep has run; the booking closes when the refill is recorded, moved or cancelled.
    """
    if not groups:
        return Q(pk__in=[])
    # One EXISTS whatever the number of site days: each is a subplan wherever the worklist tests it.
    passed = Q(pk__in=[])
    for (day, _), ids in groups.items():
        passed |= Q(starts_on__lt=day, site_id__in=ids) if len(groups) > 1 else Q(starts_on__lt=day)
    booked = RefillAppointment.objects.filter(passed, patient=OuterRef("pk"), status=RefillAppointment.Status.BOOKED)
    return Q(Exists(booked))


_NEGATED = {"lt": "gte", "lte": "gt"}


def refill_status_range(status: str, groups) -> Q:
    """The dates ``status`` implies at every site group, for an index scan to start from.

    Read from ``scheduling.REFILL_STATUS_RULES``: the status's own date test (its column: the due
    date, or the alarm date for critical) at the latest site's day, and the earlier statuses'
    due-date tests, negated, at the earliest (due dates only: a listed patient always has one,
    where a missing alarm date passes a negated test). Only a hint: ``refill_status_q`` is the rule.
    """
    hint = Q()
    for rule in scheduling.REFILL_STATUS_RULES:
        own = rule.status == status
        if rule.comparison in _NEGATED and (own or rule.column == "next_refill_due"):
            bounds = [rule.value(day, lead) for day, lead in groups] or [timezone.now().date()]
            if own:
                hint &= Q(**{f"{rule.column}__{rule.comparison}": max(bounds)})
            else:
                hint &= Q(**{f"next_refill_due__{_NEGATED[rule.comparison]}": min(bounds)})
        if rule.status == status:
            break
    return hint


def refill_status_sql(columns: dict[str, str], today: str, lead: str, status: str | None = None) -> str:
    """``scheduling.REFILL_STATUS_RULES`` as plain SQL over the given column and day expressions.

    The refill status as a CASE, or with ``status`` the condition that the status is that one
    (the tests before it negated, NULL-safe). For hand-written SQL (the bench's floors) that keeps
    the rule rather than a copy of it. Constants are the rule's own, never user input.
    """
    days = {scheduling.TODAY: today, scheduling.LEAD_WINDOW_END: f"({today} + {lead})"}

    def test(rule):
        operand = days.get(rule.operand) or "'" + rule.operand.replace("'", "''") + "'"
        return f"{columns[rule.column]} {_SQL_COMPARISON[rule.comparison]} {operand}"

    rules = scheduling.REFILL_STATUS_RULES
    if status is None:
        whens = " ".join(f"WHEN {test(r)} THEN '{r.status}'" for r in rules)
        otherwise = scheduling.REFILL_STATUS_OTHERWISE
        none = scheduling.RefillStatus.NONE
        return f"CASE WHEN {columns['next_refill_due']} IS NULL THEN '{none}' {whens} ELSE '{otherwise}' END"
    parts = [f"{columns['next_refill_due']} IS NOT NULL"]
    for rule in rules:
        if rule.status == status:
            parts.append(test(rule))
            break
        parts.append(f"NOT coalesce({test(rule)}, false)")
    return "(" + " AND ".join(parts) + ")"


def patient_refill_status(patient: Patient, now: dt.datetime | None = None) -> scheduling.RefillStatus:
    """The same rule for one loaded patient (no query beyond its site)."""
    site = patient.site
    today = site_today(site, now)
    return scheduling.refill_status(
        today,
        due_date=patient.next_refill_due,
        alarm_date=patient.alarm_date,
        lead_window_days=max(site.refill_lead_days or [0]),
        basis=patient.refill_due_basis,
    )
