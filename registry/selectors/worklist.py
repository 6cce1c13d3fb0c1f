"""The worklist, most urgent first, a page at a time (over 500 lines: its rule table, SQL and rows change together).

Everything due for a set of patients: refills, batteries and follow-up visits.
"""

from __future__ import annotations

import datetime as dt
import operator
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from registry import scheduling
from registry.models import ContactAttempt, FollowUp, Patient, RefillAppointment, Site
from registry.scheduling import RefillStatus, WorkStatus
from registry.selectors import rows as sql_rows
from registry.selectors.memo import ProcessMemo
from registry.selectors.prepared import execute_prepared
from registry.selectors.rules import (
    SiteDay,
    _site_today,
    no_show_q,
    refill_status_q,
    refill_status_range,
    site_days,
    sites_today,
    with_refill_status,
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


class WorkKind(models.TextChoices):
    """The kinds of worklist item (the dashboard's filter labels them)."""

    REFILL = "refill", "Refills"
    BATTERY = "battery", "Battery / ERI"
    FOLLOW_UP = "follow_up", "Follow-ups"


@dataclass(frozen=True)
class WorkItem:
    """One row of the worklist: why a patient needs attention, and by when."""

    patient: Patient
    kind: str  # a WorkKind
    due_date: dt.date
    status: str  # a WorkStatus: which ones each kind has is ``WORK_URGENCY``
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

    @property
    def booking(self) -> dict | None:
        """The patient's open refill booking (``with_booking``), with what the row says of it."""
        at = getattr(self.patient, "booking_at", None)
        if at is None:
            return None
        local = at.astimezone(zoneinfo.ZoneInfo(self.patient.booking_zone))
        due, alarm = self.patient.next_refill_due, self.patient.alarm_date
        return {
            "id": self.patient.booking_id,
            "at": local,
            "label": f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}",
            "clinic": self.patient.booking_clinic,
            "after_due": due is not None and local.date() > due,
            "after_alarm": alarm is not None and local.date() >= alarm,
        }

    @property
    def last_contact(self) -> str:
        """ "3 Mar: no answer": the last logged call or message, in the patient's site's zone."""
        at = getattr(self.patient, "last_contact_at", None)
        if at is None:
            return ""
        local = at.astimezone(zoneinfo.ZoneInfo(self.patient.site.time_zone))
        outcome = ContactAttempt.Outcome(self.patient.last_contact_outcome).label.lower()
        return f"{local.day} {local:%b}: {outcome}"

    def sort_key(self) -> tuple:
        """Most urgent first, then earliest date; ties broken so that the order is total."""
        return (self.urgency, self.due_date, self.patient.pk, self.kind, self.target_id or 0)


# The worklist's rule table: each (kind, status) an item can have, most urgent first. A new kind
# of item adds its rows here (and a member in ``worklist_page``); the dashboard's sections and the
# API's statuses are read from it.
WORK_URGENCY = {
    key: n
    for n, key in enumerate(
        [
            (WorkKind.REFILL, WorkStatus.CRITICAL),
            (WorkKind.REFILL, WorkStatus.NEEDS_ATTENTION),
            # A booked refill visit whose day passed without a refill: back at the top.
            (WorkKind.REFILL, WorkStatus.NO_SHOW),
            (WorkKind.REFILL, WorkStatus.OVERDUE),
            (WorkKind.BATTERY, WorkStatus.OVERDUE),
            (WorkKind.REFILL, WorkStatus.DUE),
            (WorkKind.FOLLOW_UP, WorkStatus.MISSED),
            (WorkKind.BATTERY, WorkStatus.DUE),
            (WorkKind.FOLLOW_UP, WorkStatus.DUE),
            (WorkKind.REFILL, WorkStatus.UPCOMING),
        ]
    )
}
WORK_STATUSES = tuple(dict.fromkeys(status for _, status in WORK_URGENCY))
WORK_KINDS = tuple(WorkKind)
# Refill statuses ranked ahead of a no-show: a patient with one keeps it when a booking also passed.
_AHEAD_OF_NO_SHOW = tuple(
    s
    for (k, s), n in WORK_URGENCY.items()
    if k == WorkKind.REFILL and n < WORK_URGENCY[(WorkKind.REFILL, WorkStatus.NO_SHOW)]
)


def open_follow_ups(patients: QuerySet[Patient] | None, *, start: dt.date | None, end: dt.date) -> QuerySet[FollowUp]:
    """Open visits (scheduled or missed) due by ``end`` of patients still on the worklist.

    Which of them a worklist lists depends on each site's day (``scheduling.visit_work_status``):
    a missed one only until a later visit of its kind is booked (``FollowUp.superseded``, kept by
    database triggers, migration 0007). ``patients=None`` means every patient (no semi-join).
    """
    visits = FollowUp.objects.filter(due_date__lte=end, status__in=scheduling.OPEN_VISIT_STATUSES)
    if patients is None:
        visits = visits.exclude(patient__status__in=_LEFT)
    else:
        # One semi-join with both conditions: a clinic's patients (a few thousand from the site
        # index), not every patient still listed joined and then narrowed to the clinic's.
        visits = visits.filter(patient__in=patients.filter(_STAYING).values("pk"))
    if start is not None:
        visits = visits.exclude(status=FollowUp.Status.SCHEDULED, due_date__lt=start - dt.timedelta(days=30))
    return visits


# "Not one of the statuses that left" rather than "one of those that stay": a filter the planner
# applies along the date indexes, not a bitmap of the status index ANDed with them.
_LEFT = sorted(scheduling.LEFT_WORKLIST_STATUSES)
_STAYING = ~Q(status__in=_LEFT)


# What a work item shows of its patient (the API's rows, the dashboard's table, the reasons):
# loaded alone, not with every settings column of a page's sites and clinicians.
WORK_ITEM_PATIENT_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "next_refill_due",
    "alarm_date",
    "refill_due_basis",
    "schedule_attention",
    "battery_eri_date",
    "site__name",
    "site__time_zone",
    "primary_clinician__username",
    "primary_clinician__first_name",
    "primary_clinician__last_name",
)


def with_booking(qs: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate each patient's open refill booking (at most one): id, time, clinic and its zone;
    and the last logged contact with the family: when and its outcome."""
    booked = RefillAppointment.objects.filter(patient=OuterRef("pk"), status=RefillAppointment.Status.BOOKED)
    contacts = ContactAttempt.objects.filter(patient=OuterRef("pk")).order_by("-contacted_at", "-id")
    return qs.annotate(
        booking_id=Subquery(booked.values("pk")[:1]),
        booking_at=Subquery(booked.values("starts_at")[:1]),
        booking_clinic=Subquery(booked.values("site__name")[:1]),
        booking_zone=Subquery(booked.values("site__time_zone")[:1]),
        last_contact_at=Subquery(contacts.values("contacted_at")[:1]),
        last_contact_outcome=Subquery(contacts.values("outcome")[:1]),
    )


def _refill_item(p: Patient, status: str) -> WorkItem:
    if status == WorkStatus.NEEDS_ATTENTION:
        return WorkItem(p, WorkKind.REFILL, p.next_refill_due, status, p.schedule_attention)
    if status == WorkStatus.NO_SHOW:
        missed = p.booking_at.astimezone(zoneinfo.ZoneInfo(p.booking_zone))
        return WorkItem(
            p,
            WorkKind.REFILL,
            p.next_refill_due,
            status,
            f"Did not come to the refill visit booked {missed:%d %b %Y %H:%M}: call the family and rebook",
            p.booking_id,
        )
    if status == WorkStatus.CRITICAL:
        reason = f"Alarm date {p.alarm_date:%d %b %Y} reached: refill now"
    elif status == WorkStatus.OVERDUE:
        reason = f"Refill was due {p.next_refill_due:%d %b %Y}"
    else:  # due or upcoming
        reason = f"Refill due {p.next_refill_due:%d %b %Y}"
    return WorkItem(p, WorkKind.REFILL, p.next_refill_due, status, reason)


def _battery_item(p: Patient, status: str) -> WorkItem:
    return WorkItem(
        p,
        WorkKind.BATTERY,
        p.battery_eri_date,
        status,
        f"Battery ERI {p.battery_eri_date:%d %b %Y}: plan the replacement",
    )


def _follow_up_item(v: FollowUp, patient: Patient, status: str) -> WorkItem:
    return _visit_item(v.kind, v.due_date, v.pk, patient, status)


def _visit_item(visit_kind: str, due: dt.date, visit_pk: int, patient: Patient, status: str) -> WorkItem:
    label = FollowUp.Kind(visit_kind).label
    reason = f"{label} missed (due {due:%d %b %Y})" if status == WorkStatus.MISSED else f"{label} due"
    return WorkItem(patient, WorkKind.FOLLOW_UP, due, status, reason, visit_pk)


def _ranked_rows(members: list[QuerySet], per_urgency: bool, offset: int, limit: int) -> QuerySet | None:
    """The page's rows of the members' UNION ALL, most urgent first (``None``: no rows to read)."""
    if not members or limit <= 0:
        return None
    union = members[0].union(*members[1:], all=True) if len(members) > 1 else members[0]
    if per_urgency:
        # The members come in urgency order, each in its own (date, patient, visit) order, so their
        # concatenation is the ranking: PostgreSQL runs a UNION ALL's members in turn (an Append)
        # and stops at the LIMIT, so the members past the page's last urgency never run.
        return union[offset : offset + limit]
    order = ("work_urgency", "item_due", "item_patient", "item_kind", "item_target")
    return union.order_by(*order)[offset : offset + limit]


# Compiled statements of recent worklist pages (``worklist_page``).
_STATEMENTS: ProcessMemo[tuple] = ProcessMemo(limit=256)


def _compiled(qs: QuerySet | None) -> tuple[str, None] | QuerySet | None:
    """A queryset's SQL, its parameters bound, on PostgreSQL; elsewhere, or when it can match
    nothing, the queryset itself (SQLite's dates need the ORM's converters; the ORM answers an
    empty one)."""
    if qs is None or connection.vendor != "postgresql":
        return qs
    try:
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    except EmptyResultSet:
        return qs
    # The parameters bound into the SQL once (the cache key holds every value they come from): a
    # page has about a thousand, too many to bind again on every request.
    return connection.ops.compose_sql(sql, params), None


def _fetch(statement) -> list[tuple]:
    if statement is None:
        return []
    if isinstance(statement, QuerySet):
        return list(statement)
    return sql_rows.fetch_all(*statement)


def _counting(sql: str) -> str:
    return f"SELECT COUNT(*) FROM ({sql}) counted"  # noqa: S608 - the ORM's own SQL


@dataclass(frozen=True)
class WorklistPage:
    total: int | None
    items: list[WorkItem]


def _urgency_case(kind: str, status_field: str) -> Case:
    """``WORK_URGENCY`` of one kind of item, in SQL."""
    whens = [When(**{status_field: status}, then=Value(v)) for (k, status), v in WORK_URGENCY.items() if k == kind]
    return Case(*whens, output_field=IntegerField())


def _page_statements(every_site, groups, start, end, patients, kinds, battery_window_days, offset, limit, sites):
    """The page's rows and the items to count, as two querysets (``worklist_page`` says how)."""
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

    if WorkKind.REFILL in kinds:
        # The scope's own conditions (its sites), not a semi-join: the site indexes stay usable.
        # A no-show is listed whatever its due date: the family must be called now.
        no_show = no_show_q(groups)
        # ``qs``: the refills listed (due by ``end``, or a no-show); ``staying`` where a member's own
        # conditions already say so (each no-show test is one more subplan to plan).
        staying = base.order_by().filter(_STAYING, next_refill_due__isnull=False)
        qs = staying.filter(Q(next_refill_due__lte=end) | no_show)
        last_due = min((day + dt.timedelta(days=lead) for day, lead in groups), default=days[0])
        ranked = with_refill_status(qs, groups=groups) if not per_urgency else None
        if start is not None and start > last_due + dt.timedelta(days=1):
            # Only then can an upcoming refill fall before ``start`` (it is past its lead window).
            early = refill_status_q(RefillStatus.UPCOMING, groups) & Q(next_refill_due__lt=start) & ~no_show
            qs, staying = qs.exclude(early), staying.exclude(early)
            ranked = ranked.exclude(early) if ranked is not None else None
        # Counted in two parts so that neither reads every patient: those due by ``end`` along the
        # due-date index, and the no-shows due later from the open bookings whose day has passed.
        passed = RefillAppointment.objects.filter(status=RefillAppointment.Status.BOOKED, starts_on__lt=max(days))
        counted += [
            staying.filter(next_refill_due__lte=end).values_list("pk"),
            qs.filter(next_refill_due__gt=end, pk__in=passed.values("patient_id")).order_by().values_list("pk"),
        ]
        item = {
            "item_kind": Value(WorkKind.REFILL.value),
            "item_due": F("next_refill_due"),
            "item_patient": F("pk"),
            "item_target": Cast(Value(None), BigIntegerField()),
        }
        if window and per_urgency:
            # Each status with a date range it implies, so that the index scan starts there. Its
            # status and urgency are constants: no CASE to plan in every member.
            hints = {status: refill_status_range(status, groups) for status in scheduling.REFILL_STATUSES[1:]}
            hints = {status: hint & Q(next_refill_due__lte=end) & ~no_show for status, hint in hints.items()}
            if start is not None:
                hints[scheduling.REFILL_STATUS_OTHERWISE] &= Q(next_refill_due__gte=start)
            # The statuses ranked ahead of a no-show keep theirs: the no-show member leaves them out.
            hints[WorkStatus.NO_SHOW] = no_show
            for status in _AHEAD_OF_NO_SHOW:
                hints[status] = refill_status_range(status, groups)  # its own range only: no-shows too
                hints[WorkStatus.NO_SHOW] &= ~refill_status_q(status, groups)
            members += [
                (
                    WORK_URGENCY[(WorkKind.REFILL, status)],
                    cut(
                        (qs if status in _AHEAD_OF_NO_SHOW else staying)
                        .filter(hint, refill_status_q(status, groups) if status != WorkStatus.NO_SHOW else Q())
                        .annotate(
                            **item,
                            item_status=Value(str(status)),
                            work_urgency=Value(WORK_URGENCY[(WorkKind.REFILL, status)]),
                        ),
                        "item_due",
                    ),
                )
                for status, hint in hints.items()
            ]
        elif window:
            status = Case(
                When(Q(refill_status__in=_AHEAD_OF_NO_SHOW), then=F("refill_status")),
                When(no_show, then=Value(WorkStatus.NO_SHOW.value)),
                default=F("refill_status"),
                output_field=CharField(),
            )
            rows = ranked.annotate(item_status=status).annotate(
                **item, work_urgency=_urgency_case(WorkKind.REFILL, "item_status")
            )
            members.append((0, rows.order_by().values_list(*columns)))
    if WorkKind.BATTERY in kinds:
        horizon = end + dt.timedelta(days=battery_window_days)
        qs = base.filter(_STAYING, battery_eri_date__isnull=False, battery_eri_date__lte=horizon)
        counted.append(qs.order_by().values_list("pk"))
        status = Case(
            When(battery_eri_date__lte=F("site_today"), then=Value(WorkStatus.OVERDUE.value)),
            default=Value(WorkStatus.DUE.value),
            output_field=CharField(),
        )
        rows = qs.order_by().annotate(
            site_today=_site_today(groups),
            item_kind=Value(WorkKind.BATTERY.value),
            item_status=status,
            work_urgency=_urgency_case(WorkKind.BATTERY, "item_status"),
            item_due=F("battery_eri_date"),
            item_patient=F("pk"),
            item_target=Cast(Value(None), BigIntegerField()),
        )
        if window and per_urgency:
            # Overdue and due batteries rank apart (other items between them): a member each.
            hints = {
                WorkStatus.OVERDUE: Q(battery_eri_date__lte=max(days)),
                WorkStatus.DUE: Q(battery_eri_date__gt=min(days)),
            }
            members += [
                (WORK_URGENCY[(WorkKind.BATTERY, status)], cut(rows.filter(hint, item_status=status), "item_due"))
                for status, hint in hints.items()
            ]
        elif window:
            members.append((0, rows.values_list(*columns)))
    if WorkKind.FOLLOW_UP in kinds:
        visits = open_follow_ups(patients, start=start, end=end)
        if sites is not None:
            visits = visits.filter(site_id__in=sites)
        # Missed once the site's grace period has passed, in the site's own "today".
        cutoffs: dict[dt.date, list[int]] = defaultdict(list)
        for day in every_site:
            cutoffs[scheduling.missed_cutoff(day.today, day.grace_days)].append(day.site_id)
        # The sites' cutoffs differ by a day or so: before the earliest every visit is missed, and
        # only a visit between the earliest and a later cutoff needs its site (its own column).
        earliest = min(cutoffs, default=dt.date.min)
        band = reduce(
            operator.or_,
            [Q(site_id__in=ids, due_date__lt=cutoff) for cutoff, ids in cutoffs.items() if cutoff > earliest],
            Q(pk__in=[]),
        )
        missed = Q(status=FollowUp.Status.MISSED) | Q(due_date__lt=earliest) | band
        # ``scheduling.visit_work_status``: a later visit of the kind supersedes a missed one only.
        buckets = {WorkStatus.MISSED: missed & Q(superseded=False), WorkStatus.DUE: ~missed}
        visits = visits.filter(buckets[WorkStatus.MISSED] | buckets[WorkStatus.DUE])
        counted.append(visits.order_by().values_list("pk"))
        visits = visits.annotate(
            item_kind=Value(WorkKind.FOLLOW_UP.value),
            item_due=F("due_date"),
            item_patient=F("patient_id"),
            item_target=F("pk"),
        ).order_by()
        if window and per_urgency:
            # Due is the rest of the open visits, with the date range it implies for the index.
            buckets[WorkStatus.DUE] = Q(status=FollowUp.Status.SCHEDULED, due_date__gte=earliest) & ~band
            members += [
                (
                    WORK_URGENCY[(WorkKind.FOLLOW_UP, label)],
                    cut(
                        visits.filter(rule).annotate(
                            item_status=Value(str(label)), work_urgency=Value(WORK_URGENCY[(WorkKind.FOLLOW_UP, label)])
                        ),
                        "item_due",
                    ),
                )
                for label, rule in buckets.items()
            ]
        elif window:
            status = Case(
                When(missed, then=Value(WorkStatus.MISSED.value)),
                default=Value(WorkStatus.DUE.value),
                output_field=CharField(),
            )
            rows = visits.annotate(item_status=status, work_urgency=_urgency_case(WorkKind.FOLLOW_UP, "item_status"))
            members.append((0, rows.values_list(*columns)))
    if not counted:
        return None, None
    page = _ranked_rows([member for _, member in sorted(members, key=lambda m: m[0])], per_urgency, offset, limit)
    return page, counted[0].union(*counted[1:], all=True)


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
    count_limit: int | None = None,
    sites: list[int] | None = None,
    site_rows: list[SiteDay] | None = None,
) -> WorklistPage:
    """One page of ``worklist`` (same items, same order) and the total, sorted and cut in SQL.

    Why: program-wide the worklist holds 25,000 items at 100,000 patients; building them all in
    Python to show fifty costs seconds, and even ranking them all in SQL costs tens of ms.
    So the page is a UNION ALL of one member per urgency (critical refills, overdue refills, ...),
    each ordered by date along an index and cut at ``offset + limit`` rows: the database reads
    about a page per member, whatever the program's size. (SQLite cannot order and cut inside a
    UNION: there the members are whole kinds and the union is ranked as a whole, same result.)
    The total counts primary keys only, from the same indexes. What the rows show of their patients
    and visits comes with them on PostgreSQL (``_rows_sql``), and in two more queries elsewhere: a
    constant number of queries whatever the size. ``count=False``
    skips the total (``total`` is then ``None``): a paginator that has counted needs only the page;
    ``count_limit``: a page that shows "more than N" counts no further than N + 1 items.
    ``sites`` narrows the page to these sites' patients (a clinic's scope): visits are then read
    by their own site column, through an index of open visits by site, not by a semi-join on
    patients that walked every site's visits.
    """
    now = now or timezone.now()
    every_site = site_rows if site_rows is not None else sites_today(now)  # for the CASEs and cutoffs below
    groups = site_days(rows=every_site)
    # The statements' SQL depends only on these (the data is not in it): built and compiled once
    # per process for each, since building and compiling the members cost more than running them.
    try:
        scope = str(patients.query) if patients is not None else None
    except EmptyResultSet:
        scope = object()  # no patients at all: nothing to share
    key = (
        tuple(every_site),
        timezone.now().date(),
        start,
        end,
        scope,
        tuple(kinds),
        battery_window_days,
        offset,
        limit,
        count,
        count_limit,
        tuple(sites) if sites is not None else None,
    )
    statements = _STATEMENTS.get(key)
    if statements is None:
        page, counted = _page_statements(
            every_site, groups, start, end, patients, kinds, battery_window_days, offset, limit, sites
        )
        if counted is None:
            return WorklistPage(0, [])
        if count and count_limit is not None:
            # Counting stops after ``count_limit`` + 1 items: enough to say "more than".
            counted = counted[: count_limit + 1]
        statements = (_compiled(page), _compiled(counted) if count else None)
        # Only SQL is kept: a queryset would keep its rows.
        if not any(isinstance(s, QuerySet) for s in statements):
            _STATEMENTS.put(key, statements)
    page_statement, count_statement = statements
    if isinstance(page_statement, tuple) and not isinstance(count_statement, QuerySet):
        return _page_with_rows(page_statement[0], count_statement[0] if count_statement else None)
    rows = _fetch(page_statement)
    total = None
    if isinstance(count_statement, QuerySet):
        total = count_statement.count()
    elif count_statement is not None:
        total = _fetch((_counting(count_statement[0]), None))[0][0]
    if not rows:
        return WorklistPage(total, [])
    by_pk = {
        p.pk: p
        for p in with_booking(
            Patient.objects.filter(pk__in={r[4] for r in rows})
            .select_related("site", "primary_clinician")
            .only(*WORK_ITEM_PATIENT_FIELDS)
        )
    }
    visits = FollowUp.objects.in_bulk([r[5] for r in rows if r[0] == WorkKind.FOLLOW_UP])
    return WorklistPage(
        total,
        [
            _item(kind, status, due, by_pk[patient_pk], target, visits[target].kind if target in visits else None)
            for kind, status, _, due, patient_pk, target in rows
        ],
    )


def _item(kind, status, due, patient: Patient, target, visit_kind) -> WorkItem:
    if kind == WorkKind.REFILL:
        return _refill_item(patient, status)
    if kind == WorkKind.BATTERY:
        return _battery_item(patient, status)
    return _visit_item(visit_kind, due, target, patient, status)


# --- The page with what its rows show, in one statement (PostgreSQL) ------------------------------
# The page's rows numbered in the order the members give them (their concatenation is the ranking),
# joined to what each row shows: the patient's columns (``WORK_ITEM_PATIENT_FIELDS``), site and
# clinician, open booking and last contact, and a visit's kind; the total an InitPlan beside them.


def _in_model_order(model, names) -> tuple[str, ...]:
    """``names`` in the order of the model's fields: ``Model.from_db`` reads the values in that order."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.name in names or f.attname in names)


_PATIENT_COLUMNS = _in_model_order(
    Patient, ("id", "site", "primary_clinician", *(f for f in WORK_ITEM_PATIENT_FIELDS if "__" not in f))
)
_SITE_COLUMNS = _in_model_order(Site, ("id", "name", "time_zone"))
_USER_COLUMNS = _in_model_order(
    Patient._meta.get_field("primary_clinician").related_model, ("id", "username", "first_name", "last_name")
)


def _columns(model, alias: str, names) -> str:
    return ", ".join(f'{alias}."{model._meta.get_field(name).column}"' for name in names)


def _rows_sql(page_sql: str, count_sql: str | None) -> str:
    user = Patient._meta.get_field("primary_clinician").related_model
    total = f"({_counting(count_sql)})" if count_sql is not None else "NULL::bigint"
    sql = f"""
        SELECT page.item_kind, page.item_status, page.item_due, page.item_target, {total},
               {_columns(Patient, "p", _PATIENT_COLUMNS)}, {_columns(Site, "s", _SITE_COLUMNS)},
               {_columns(user, "u", _USER_COLUMNS)}, b.id, b.starts_at, bs.name, bs.time_zone,
               c.contacted_at, c.outcome, f.kind
          FROM (SELECT numbered.*, row_number() OVER () AS n
                  FROM ({page_sql}) numbered (item_kind, item_status, work_urgency, item_due, item_patient, item_target)
               ) page
          JOIN {Patient._meta.db_table} p ON p.id = page.item_patient
          JOIN {Site._meta.db_table} s ON s.id = p.site_id
          LEFT JOIN {user._meta.db_table} u ON u.id = p.primary_clinician_id
          LEFT JOIN LATERAL (
               SELECT a.id, a.starts_at, a.site_id FROM {RefillAppointment._meta.db_table} a
                WHERE a.patient_id = p.id AND a.status = %s LIMIT 1) b ON true
          LEFT JOIN {Site._meta.db_table} bs ON bs.id = b.site_id
          LEFT JOIN LATERAL (
               SELECT x.contacted_at, x.outcome FROM {ContactAttempt._meta.db_table} x
                WHERE x.patient_id = p.id ORDER BY x.contacted_at DESC, x.id DESC LIMIT 1) c ON true
          LEFT JOIN {FollowUp._meta.db_table} f ON f.id = page.item_target AND page.item_kind = %s
         ORDER BY page.n
    """  # noqa: S608 - table and column names from the models; values bound below
    return connection.ops.compose_sql(sql, [RefillAppointment.Status.BOOKED.value, WorkKind.FOLLOW_UP.value])


_ROWS_SQL: ProcessMemo[str] = ProcessMemo(limit=256)


def _page_with_rows(page_sql: str, count_sql: str | None) -> WorklistPage:
    """``worklist_page``'s answer from one statement on PostgreSQL (``_rows_sql``)."""
    sql = _ROWS_SQL.get_or_build((page_sql, count_sql), lambda: _rows_sql(page_sql, count_sql))
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql)
        rows = cursor.fetchall()
    if not rows:
        total = _fetch((_counting(count_sql), None))[0][0] if count_sql is not None else None
        return WorklistPage(total, [])
    user_model = Patient._meta.get_field("primary_clinician").related_model
    n_patient, n_site, n_user = len(_PATIENT_COLUMNS), len(_SITE_COLUMNS), len(_USER_COLUMNS)
    sites, users, items = {}, {}, []
    for row in rows:
        kind, status, due, target, _ = row[:5]
        values = row[5 : 5 + n_patient]
        site_values = row[5 + n_patient : 5 + n_patient + n_site]
        user_values = row[5 + n_patient + n_site : 5 + n_patient + n_site + n_user]
        booking_id, booking_at, clinic, zone, contact_at, outcome, visit_kind = row[5 + n_patient + n_site + n_user :]
        # One site and one clinician instance per page (the ORM's select_related made one per row).
        site = sites.get(site_values[0]) or sites.setdefault(
            site_values[0], sql_rows.loaded(Site, _SITE_COLUMNS, site_values)
        )
        user = None
        if user_values[0] is not None:
            user = users.get(user_values[0]) or users.setdefault(
                user_values[0], sql_rows.loaded(user_model, _USER_COLUMNS, user_values)
            )
        patient = sql_rows.loaded(Patient, _PATIENT_COLUMNS, values)
        Patient.site.field.set_cached_value(patient, site)
        Patient.primary_clinician.field.set_cached_value(patient, user)
        patient.booking_id, patient.booking_at, patient.booking_clinic, patient.booking_zone = (
            booking_id,
            booking_at,
            clinic,
            zone,
        )
        patient.last_contact_at, patient.last_contact_outcome = contact_at, outcome
        items.append(_item(kind, status, due, patient, target, visit_kind))
    return WorklistPage(rows[0][4], items)
