"""Reads of patients: search, one patient as the app reads one, its page, the reservoir chart and the timeline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Prefetch, Q, QuerySet

from registry import scheduling
from registry.models import (
    Complication,
    ContactAttempt,
    DoseChange,
    FollowUp,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    RefillAppointment,
    Reminder,
    ScreeningTrial,
    Site,
    StatusChange,
)
from registry.selectors import rows as sql_rows
from registry.selectors.memo import ProcessMemo
from registry.selectors.rules import with_refill_status


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


# --- One patient as the app reads one ------------------------------------------------------------
# The patient with its site and clinician, and its pumps, indications and the active pump's latest
# refills as JSON arrays in the same row: one statement where prefetching took four. Each record
# is an array of its columns in field order, read back into a model instance by ``_read_rows``.

RECENT_REFILLS = 10


def _rows_json(model, where: str, order: str, limit: int | None = None) -> str:
    """A scalar subquery: ``model``'s rows matching ``where``, in ``order``, as one JSON array of
    arrays (text on PostgreSQL, whose own decoding would turn numerics into floats)."""
    postgres = connection.vendor == "postgresql"
    row, rows = ("json_build_array", "json_agg") if postgres else ("json_array", "json_group_array")
    cut = f" LIMIT {int(limit)}" if limit else ""
    return (
        f"SELECT {rows}({row}({sql_rows.columns(model, 'r')})){'::text' if postgres else ''} "  # noqa: S608
        f"FROM (SELECT * FROM {model._meta.db_table} x WHERE {where} ORDER BY {order}{cut}) r"
    )


_RECORD_SQL: ProcessMemo[tuple[str, tuple]] = ProcessMemo(limit=64)  # one per vendor and scope


def _record_sql(scope: tuple[str, tuple] | None) -> tuple[str, tuple]:
    """The patient's row with its site's and clinician's, and its records as three JSON columns:
    the statement and the JSON columns' parameters (the patient's id and the scope's follow)."""
    table = Patient._meta.db_table
    patient = f'"{table}"."id"'
    pumps, users = Pump._meta.db_table, get_user_model()
    active_pump = f"SELECT a.id FROM {pumps} a WHERE a.patient_id = {patient} AND a.explant_date IS NULL"  # noqa: S608
    records = [
        _rows_json(Pump, f"x.patient_id = {patient}", "x.implant_date, x.id"),
        _rows_json(Indication, f"x.patient_id = {patient}", "x.is_primary DESC, x.id"),
        # The refills in force (``Refill.objects``) of the pump in place, newest first.
        _rows_json(
            Refill,
            f"x.pump_id = ({active_pump}) AND x.entered_in_error = %s",
            "x.performed_at DESC, x.id DESC",
            RECENT_REFILLS,
        ),
    ]
    quoted = f'"{table}"'
    json_columns = ", ".join(f"({r})" for r in records)
    sql = (
        f"SELECT {sql_rows.columns(Patient, quoted)}, {sql_rows.columns(Site, 's')}, "  # noqa: S608
        f"{sql_rows.columns(users, 'u')}, {json_columns} "
        f"FROM {table} JOIN {Site._meta.db_table} s ON s.id = {table}.site_id "
        f"LEFT JOIN {users._meta.db_table} u ON u.id = {table}.primary_clinician_id WHERE {patient} = %s"
    )
    return (sql if scope is None else f"{sql} AND {patient} IN ({scope[0]})"), (False,)


def _aware(text: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite keeps UTC without the offset


def _decimal(places: int) -> Callable[[object], Decimal]:
    exponent = Decimal(1).scaleb(-places)
    return lambda value: Decimal(value).quantize(exponent)  # SQLite keeps 20.000 as 20


def _reader(field) -> Callable[[object], object] | None:
    """How a JSON value becomes the field's value (None: as it is)."""
    if isinstance(field, models.DateTimeField):
        return _aware
    if isinstance(field, models.DateField):
        return dt.date.fromisoformat
    if isinstance(field, models.DecimalField):
        return _decimal(field.decimal_places)
    if isinstance(field, models.BooleanField):
        return bool  # SQLite's 0 and 1
    return None


_READERS: dict[type, tuple[tuple[str, ...], tuple]] = {}


def _read_rows(model, text: str | None) -> list:
    """``_rows_json``'s answer as instances of ``model``."""
    if model not in _READERS:
        fields = model._meta.concrete_fields
        _READERS[model] = (tuple(f.attname for f in fields), tuple(_reader(f) for f in fields))
    names, readers = _READERS[model]
    out = []
    for values in json.loads(text, parse_float=Decimal) if text else ():
        values = [v if r is None or v is None else r(v) for r, v in zip(readers, values, strict=True)]
        out.append(model.from_db(connection.alias, names, values))
    return out


def _as_prefetched(instance, name: str, records: list) -> None:
    """``records`` as ``instance.<name>.all()`` answers them once prefetched (no further query)."""
    field = getattr(type(instance), name).field
    for record in records:
        field.set_cached_value(record, instance)
    queryset = getattr(instance, name).all()
    queryset._result_cache, queryset._prefetch_done = records, True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def patient_record(patients: QuerySet[Patient], pk: int) -> Patient:
    """One patient from ``patients`` (a queryset already scoped to the user, which may prefetch
    more) as the app reads one, in one statement built once per scope: with its site and
    clinician, ``pumps`` and ``indications`` prefetched, and ``recent_refills``, the active pump's
    latest refills in force (``RECENT_REFILLS``, newest first). ``Patient.DoesNotExist`` outside
    the scope. The queryset's own prefetches follow, one statement each."""
    scope = _scope(patients)
    sql, record_params = _RECORD_SQL.get_or_build(
        (connection.vendor, scope[0] if scope else None), lambda: _record_sql(scope)
    )
    rows = sql_rows.fetch_all(sql, [*record_params, pk, *(scope[1] if scope else ())])
    if not rows:
        raise Patient.DoesNotExist(f"No patient {pk} among those the user may see.")
    values = rows[0]
    n, m = sql_rows.width(Patient), sql_rows.width(Patient) + sql_rows.width(Site)
    patient = sql_rows.instance(Patient, values[:n])
    Patient.site.field.set_cached_value(patient, sql_rows.instance(Site, values[n:m]))
    clinician_values = values[m:-3]
    clinician = sql_rows.instance(get_user_model(), clinician_values) if clinician_values[0] is not None else None
    Patient.primary_clinician.field.set_cached_value(patient, clinician)
    pump_rows, indication_rows, refill_rows = values[-3:]
    _as_prefetched(patient, "pumps", _read_rows(Pump, pump_rows))
    _as_prefetched(patient, "indications", _read_rows(Indication, indication_rows))
    patient.recent_refills = _read_rows(Refill, refill_rows)
    active = patient.active_pump
    for refill in patient.recent_refills:
        Refill.pump.field.set_cached_value(refill, active)
    if patients._prefetch_related_lookups:
        models.prefetch_related_objects([patient], *patients._prefetch_related_lookups)
    return patient


def _scope(patients: QuerySet[Patient]) -> tuple[str, tuple] | None:
    """The ids ``patients`` allows, as SQL and parameters (None: every patient)."""
    if not patients.query.where:
        return None
    try:
        return patients.prefetch_related(None).order_by().values("pk").query.sql_with_params()
    except EmptyResultSet as nobody:
        raise Patient.DoesNotExist from nobody


# --- One patient as its representation shows it ----------------------------------------------------
# The patient's columns, its site's and its active pump's id, in SQL built once per process for each
# scope: the ORM built and compiled this statement for every read, three times its running time.

_ROW_SQL: ProcessMemo[str] = ProcessMemo(limit=64)


def _row_sql(scope: tuple[str, tuple] | None) -> str:
    patient, site = Patient._meta, Site._meta
    active_pump = f"(SELECT a.id FROM {Pump._meta.db_table} a WHERE a.patient_id = p.id AND a.explant_date IS NULL)"  # noqa: S608
    sql = (
        f"SELECT {sql_rows.columns(Patient, 'p')}, {sql_rows.columns(Site, 's')}, {active_pump} "  # noqa: S608
        f"FROM {patient.db_table} p JOIN {site.db_table} s ON s.id = p.site_id WHERE p.id = %s"
    )
    return sql if scope is None else f"{sql} AND p.id IN ({scope[0]})"


def patient_row(patients: QuerySet[Patient], pk: int, fetch: Callable[[str, Sequence], list] | None = None) -> Patient:
    """One patient of ``patients`` (a queryset scoped to the user) with its site loaded and
    ``active_pump_id``, in one statement; ``Patient.DoesNotExist`` outside the scope.
    ``fetch(sql, params)`` runs the statement (default: a plain cursor), so a caller may add to it."""
    scope = _scope(patients)
    sql = _ROW_SQL.get_or_build((connection.vendor, scope[0] if scope else None), lambda: _row_sql(scope))
    params = [pk, *(scope[1] if scope else ())]
    rows = (fetch or sql_rows.fetch_all)(sql, params)
    if not rows:
        raise Patient.DoesNotExist(f"No patient {pk} among those the user may see.")
    values, n = rows[0], sql_rows.width(Patient)
    patient = sql_rows.instance(Patient, values[:n])
    site = sql_rows.instance(Site, values[n:-1])
    Patient.site.field.set_cached_value(patient, site)
    patient.active_pump_id = values[-1]
    return patient


def patient_detail(patients: QuerySet[Patient], pk: int) -> Patient:
    """One patient (from a queryset already scoped to the user) with the records its page shows."""
    return patient_record(
        patients.prefetch_related(
            Prefetch("follow_ups", queryset=FollowUp.objects.order_by("due_date", "id")),
            Prefetch("goals__reviews", queryset=GoalReview.objects.order_by("reviewed_on", "id")),
            Prefetch(
                "contacts",
                queryset=ContactAttempt.objects.select_related("recorded_by").order_by("-contacted_at", "-id")[:10],
                to_attr="recent_contacts",
            ),
            Prefetch(
                "refill_appointments",
                queryset=RefillAppointment.objects.filter(status=RefillAppointment.Status.BOOKED).select_related(
                    "site"
                ),
                to_attr="open_refill_visits",
            ),
        ),
        pk,
    )


@dataclass(frozen=True)
class PatientChange:
    """One saved edit of a patient's details: when, by whom, and each field's old and new value."""

    at: dt.datetime
    by: str
    changes: list[tuple[str, str, str]]


# Fields the history may show: not the stored schedule, which the history does not keep.
_SHOWN_FIELDS = {f.name: f for f in Patient._meta.fields}


def _shown(field, value) -> str:
    if value in (None, ""):
        return "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def patient_changes(patient: Patient, limit: int = 50) -> list[PatientChange]:
    """The patient's edits, newest first, from django-simple-history (two queries)."""
    rows = list(patient.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    users = {}
    clinician_ids = {r.primary_clinician_id for r in rows if r.primary_clinician_id}
    if clinician_ids:
        users = {u.pk: (u.get_full_name() or u.username) for u in get_user_model().objects.filter(pk__in=clinician_ids)}
    out = []
    for newer, older in zip(rows, rows[1:], strict=False):
        delta = newer.diff_against(older)
        changes = []
        for change in delta.changes:
            field = _SHOWN_FIELDS.get(change.field)
            if field is None:
                continue
            old, new = change.old, change.new
            if change.field == "primary_clinician":
                old, new = users.get(old, old), users.get(new, new)
            changes.append((str(field.verbose_name).capitalize(), _shown(field, old), _shown(field, new)))
        if changes:
            user = newer.history_user
            by = (user.get_full_name() or user.username) if user is not None else "the system"
            out.append(PatientChange(newer.history_date, by, changes))
    return out


@dataclass(frozen=True)
class ReservoirCurve:
    """The projected reservoir of the current refill cycle, for the patient page's chart."""

    points: list[tuple[dt.datetime, Decimal]]
    reservoir_ml: Decimal
    alarm_ml: Decimal
    refill: Refill


def patient_reservoir_curve(patient: Patient) -> ReservoirCurve | None:
    """The curve from the active pump's latest refill through its later dose changes, or None
    (the refill from ``recent_refills`` when ``patient_record`` read them)."""
    pump = patient.active_pump
    if pump is None:
        return None
    if hasattr(patient, "recent_refills"):
        refill = next(iter(patient.recent_refills), None)
    else:
        refill = Refill.objects.filter(pump=pump).order_by("-performed_at", "-id").first()
    if refill is None:
        return None
    changes = DoseChange.objects.filter(pump=pump).in_cycle(refill.performed_at).order_by("effective_at")
    fill = scheduling.FillState(
        refill.performed_at, refill.volume_after_ml, refill.concentration_mcg_per_ml, refill.daily_dose_mcg
    )
    steps = [scheduling.DoseStep(c.effective_at, c.daily_dose_mcg) for c in changes]
    return ReservoirCurve(
        scheduling.reservoir_curve(fill, steps), pump.reservoir_volume_ml, pump.alarm_volume_ml, refill
    )


class TimelineKind(scheduling.Named):
    """What a timeline event records (the page styles each kind; refills and dose changes can be corrected)."""

    STATUS = "status"
    TRIAL = "trial"
    PUMP = "pump"
    REFILL = "refill"
    DOSE = "dose"
    FOLLOW_UP = "follow_up"
    GOAL = "goal"
    GOAL_REVIEW = "goal_review"
    COMPLICATION = "complication"
    REMINDER = "reminder"


@dataclass(frozen=True)
class TimelineEvent:
    on: dt.date
    at: dt.datetime | None
    kind: TimelineKind
    title: str
    detail: str = ""
    record_id: int | None = None  # a refill's or dose change's id: the page offers to correct it
    entered_in_error: bool = False
    by: str = ""


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _correction(record) -> str:
    marked = f"Entered in error: {record.error_reason}"
    if record.error_marked_by is not None:
        marked += f" (marked by {_name(record.error_marked_by)}"
        marked += f" on {record.error_marked_at:%d %b %Y})" if record.error_marked_at else ")"
    return marked


def patient_timeline(patient: Patient) -> list[TimelineEvent]:
    """Everything that happened to ``patient``, newest first, in a fixed number of queries (fewer when
    its pumps, visits and goals are prefetched, as ``patient_detail`` does)."""
    zone = patient.site.zone
    events: list[TimelineEvent] = []

    def instant(kind: TimelineKind, at: dt.datetime, title: str, detail: str = "", **extra) -> None:
        events.append(TimelineEvent(at.astimezone(zone).date(), at.astimezone(zone), kind, title, detail, **extra))

    for c in StatusChange.objects.filter(patient=patient).select_related("changed_by"):
        old = _status_label(c.from_status) if c.from_status else "—"
        title = f"Status: {old} → {_status_label(c.to_status)}"
        events.append(TimelineEvent(c.changed_on, None, TimelineKind.STATUS, title, c.reason))
    for t in ScreeningTrial.objects.filter(patient=patient):
        detail = f"{t.get_route_display()}, {t.test_dose_mcg} mcg"
        if t.ashworth_before or t.ashworth_after:
            detail += f"; Ashworth {t.ashworth_before or '?'} → {t.ashworth_after or '?'}"
        events.append(
            TimelineEvent(
                t.performed_on, None, TimelineKind.TRIAL, f"Screening trial: {t.get_response_display()}", detail
            )
        )
    for p in patient.pumps.all():  # prefetched by ``patient_record``
        title = "Pump replaced" if p.replaces_id else "Pump implanted"
        detail = f"{p.manufacturer} {p.model} {p.serial_number}, {p.reservoir_volume_ml} mL".replace("  ", " ")
        events.append(TimelineEvent(p.implant_date, None, TimelineKind.PUMP, title, detail))
        if p.explant_date:
            events.append(TimelineEvent(p.explant_date, None, TimelineKind.PUMP, "Pump explanted", p.explant_reason))
    # Records entered in error stay on the timeline, marked, with the reason and who marked them.
    for r in Refill.all_objects.filter(pump__patient=patient).select_related("performed_by", "error_marked_by"):
        detail = f"{r.volume_after_ml} mL at {r.concentration_mcg_per_ml} mcg/mL, {r.daily_dose_mcg} mcg/day"
        if r.timeliness:
            detail += f"; {r.get_timeliness_display().lower()}"
        if r.residual_discrepancy:
            detail += f"; residual discrepancy (removed {r.volume_removed_ml} mL, expected {r.expected_residual_ml} mL)"
        if r.notes:
            detail += f". Notes: {r.notes}"
        if r.entered_in_error:
            detail = f"{_correction(r)}. {detail}"
        title = "Refill (entered in error)" if r.entered_in_error else "Refill"
        extra = {"record_id": r.pk, "entered_in_error": r.entered_in_error, "by": _name(r.performed_by)}
        instant(TimelineKind.REFILL, r.performed_at, title, detail, **extra)
    for d in DoseChange.all_objects.filter(pump__patient=patient).select_related("documented_by", "error_marked_by"):
        detail = f"{_correction(d)}. {d.notes}".strip() if d.entered_in_error else d.notes
        title = f"Dose change to {d.daily_dose_mcg} mcg/day" + (" (entered in error)" if d.entered_in_error else "")
        extra = {"record_id": d.pk, "entered_in_error": d.entered_in_error, "by": _name(d.documented_by)}
        instant(TimelineKind.DOSE, d.effective_at, title, detail, **extra)
    for f in patient.follow_ups.all():
        events.append(
            TimelineEvent(
                f.completed_on or f.due_date,
                None,
                TimelineKind.FOLLOW_UP,
                f"{f.get_kind_display()}: {f.get_status_display().lower()}",
                f.outcome_notes,
            )
        )
    for g in patient.goals.all():
        events.append(
            TimelineEvent(g.set_on, None, TimelineKind.GOAL, f"Goal set: {g.get_category_display()}", g.description)
        )
        for review in g.reviews.all():
            events.append(
                TimelineEvent(
                    review.reviewed_on,
                    None,
                    TimelineKind.GOAL_REVIEW,
                    f"Goal review: GAS {review.score:+d}",
                    f"{g.get_category_display()}. {review.notes}".strip(),
                )
            )
    for c in Complication.objects.filter(patient=patient):
        detail = f"{c.get_severity_display()}" + ("; needed surgery" if c.needed_surgery else "")
        if c.resolved_on:
            detail += f"; resolved {c.resolved_on:%d %b %Y}"
        events.append(
            TimelineEvent(
                c.occurred_on, None, TimelineKind.COMPLICATION, f"Complication: {c.get_kind_display()}", detail
            )
        )
    for m in Reminder.objects.filter(patient=patient).order_by("-created_at")[:100]:
        instant(
            TimelineKind.REMINDER,
            m.created_at,
            f"Reminder: {m.get_kind_display()}",
            f"for {m.due_date:%d %b %Y}, {m.get_channel_display().lower()} — {m.get_status_display().lower()}",
        )
    midnight = dt.time(0, 0)
    events.sort(key=lambda e: (e.on, (e.at.time() if e.at else midnight), e.kind), reverse=True)
    return events


def _status_label(value: str) -> str:
    return PatientStatus(value).label if value in PatientStatus.values else value
