"""Where each FHIR resource type comes from, and reading it in pages, per patient or in bulk.

A resource type has one or more sources: a registry table, its path to the patient, the date a
client searches it by and how a batch of its rows becomes resources (``fhir_api.mapping``). Every
read goes through ``rows``: scoped to the sites the user may see, keyset-ordered by primary key,
so a page costs the same queries whatever its size or position, and a bulk export streams the
whole program batch by batch in the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db.models import Model, Q, QuerySet

from fhir_api import mapping
from registry.models import (
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    Pump,
    Refill,
    RefillAppointment,
    ScreeningTrial,
)
from registry.services import site_today

Build = Callable[[list], Iterator[dict]]


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval [start, end) from a FHIR date search (either side may be open)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def overlaps(self, start: dt.datetime, end: dt.datetime | None) -> bool:
        return (self.end is None or start < self.end) and (self.start is None or end is None or end >= self.start)


@dataclass(frozen=True)
class Source:
    model: type[Model]
    patient_path: str  # "" for Patient itself
    build: Build
    ids: dict[str, Callable[[int], Q]]  # id prefix ("" for a bare number) -> the row holding that id
    date_field: str | None = None
    related: tuple[str, ...] = ()
    where: Q = field(default_factory=Q)

    def path(self, name: str) -> str:
        return f"{self.patient_path}__{name}" if self.patient_path else name

    def queryset(self) -> QuerySet:
        return self.model.objects.filter(self.where).select_related(*self.related).order_by("pk")

    def scoped(self, site_ids: list[int] | None) -> QuerySet:
        qs = self.queryset()
        return qs if site_ids is None else qs.filter(**{self.path("site_id__in"): site_ids})

    def dated(self, qs: QuerySet, when: Interval) -> QuerySet:
        if self.date_field is None:
            return qs
        is_date = self.model._meta.get_field(self.date_field).get_internal_type() == "DateField"
        for op, bound in (("gte", when.start), ("lt", when.end)):
            if bound is not None:
                qs = qs.filter(**{f"{self.date_field}__{op}": bound.date() if is_date else bound})
        return qs


def _each(fn) -> Build:
    return lambda rows: (fn(row) for row in rows)


def _by_pk(pk: int) -> Q:
    return Q(pk=pk)


def _refill_procedures(rows: list[Refill]) -> Iterator[dict]:
    return (mapping.refill_procedure(r, r.pump.patient_id) for r in rows)


def _medication_statements(pumps: list[Pump]) -> Iterator[dict]:
    ids = [p.pk for p in pumps]
    refills, doses = defaultdict(list), defaultdict(list)
    for r in Refill.objects.filter(pump_id__in=ids).order_by("performed_at", "pk"):
        refills[r.pump_id].append(r)
    for d in DoseChange.objects.filter(pump_id__in=ids).order_by("effective_at", "pk"):
        doses[d.pump_id].append(d)
    for pump in pumps:
        yield from mapping.medication_statements(pump, refills[pump.pk], doses[pump.pk])


def _appointments(rows: list[FollowUp]) -> Iterator[dict]:
    return (mapping.appointment(f, f.patient.site.zone) for f in rows)


def _refill_visits(rows: list[RefillAppointment]) -> Iterator[dict]:
    today = {}
    for v in rows:
        if v.site_id not in today:
            today[v.site_id] = site_today(v.site)
        yield mapping.refill_visit(v, today[v.site_id])


def _goals(goals: list[Goal]) -> Iterator[dict]:
    reviews = defaultdict(list)
    for r in GoalReview.objects.filter(goal_id__in=[g.pk for g in goals]).order_by("reviewed_on", "pk"):
        reviews[r.goal_id].append(r)
    return (mapping.goal(g, reviews[g.pk]) for g in goals)


def _gas(rows: list[GoalReview]) -> Iterator[dict]:
    return (mapping.gas_observation(r, r.goal.patient_id) for r in rows)


def _ashworth(rows: list[ScreeningTrial]) -> Iterator[dict]:
    for t in rows:
        yield from mapping.ashworth_observations(t)


SOURCES: dict[str, list[Source]] = {
    "Patient": [Source(Patient, "", _each(mapping.patient), {"": _by_pk}, related=("site",))],
    "Condition": [Source(Indication, "patient", _each(mapping.condition), {"": _by_pk})],
    "Device": [Source(Pump, "patient", _each(mapping.device), {"": _by_pk})],
    "Procedure": [
        Source(
            Pump,
            "patient",
            _each(mapping.implant_procedure),
            {"implant": _by_pk, "replacement": _by_pk},
            "implant_date",
        ),
        Source(
            Pump,
            "patient",
            _each(mapping.explant_procedure),
            {"explant": _by_pk},
            "explant_date",
            where=Q(explant_date__isnull=False),
        ),
        Source(Refill, "pump__patient", _refill_procedures, {"refill": _by_pk}, "performed_at", ("pump",)),
    ],
    "MedicationStatement": [
        Source(
            Pump,
            "patient",
            _medication_statements,
            {"refill": lambda pk: Q(refills__pk=pk), "dose": lambda pk: Q(dose_changes__pk=pk)},
        )
    ],
    "Appointment": [
        Source(FollowUp, "patient", _appointments, {"": _by_pk}, "due_date", ("patient__site",)),
        Source(RefillAppointment, "patient", _refill_visits, {"refill": _by_pk}, "starts_at", ("site",)),
    ],
    "Goal": [Source(Goal, "patient", _goals, {"": _by_pk}, "set_on")],
    "Observation": [
        Source(
            ScreeningTrial,
            "patient",
            _ashworth,
            {"mas-before": _by_pk, "mas-after": _by_pk},
            "performed_on",
            where=~Q(ashworth_before="") | ~Q(ashworth_after=""),
        ),
        Source(GoalReview, "goal__patient", _gas, {"gas": _by_pk}, "reviewed_on", ("goal",)),
    ],
}
RESOURCE_TYPES = list(SOURCES)


def within(resource: dict, when: Interval | None) -> bool:
    """Derived periods (MedicationStatement) are matched here, after building them."""
    if when is None or "effectivePeriod" not in resource:
        return True
    period = resource["effectivePeriod"]
    end = period.get("end")
    end_at = None
    if end is not None:
        end_at = dt.datetime.fromisoformat(end)
        if end_at.tzinfo is None:  # an explant date: the whole day
            end_at = end_at.replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    return when.overlaps(dt.datetime.fromisoformat(period["start"]), end_at)


@dataclass
class Query:
    """One read: the sites in scope (None: all), and the optional patient and date filters."""

    site_ids: list[int] | None
    patient_ids: list[int] | None = None
    when: Interval | None = None
    extra: Q = field(default_factory=Q)  # the Patient search's own filters (identifier, _id)

    def rows(self, source: Source, after_pk: int = 0) -> QuerySet:
        qs = source.scoped(self.site_ids).filter(self.extra if not source.patient_path else Q())
        if self.patient_ids is not None:
            qs = qs.filter(**{source.path("pk__in"): self.patient_ids})
        if self.when is not None:
            qs = source.dated(qs, self.when)
        return qs.filter(pk__gt=after_pk) if after_pk else qs

    def build(self, source: Source, rows: list) -> list[dict]:
        return [r for r in source.build(rows) if within(r, self.when)]


@dataclass
class Page:
    resources: list[dict]
    next_cursor: str | None


def page(resource_type: str, query: Query, count: int, cursor: str | None) -> Page:
    """Up to ``count`` source rows from ``cursor`` ("source.last-pk") on, as resources.

    Each source is read once per page (plus its batch's related rows): constant queries.
    """
    sources = SOURCES[resource_type]
    index, after = _parse_cursor(cursor, len(sources))
    resources: list[dict] = []
    left = count
    while index < len(sources) and left > 0:
        source = sources[index]
        rows = list(query.rows(source, after)[: left + 1])
        more = len(rows) > left
        rows = rows[:left]
        resources += query.build(source, rows)
        left -= len(rows)
        if more:
            return Page(resources, f"{index}.{rows[-1].pk}")
        index, after = index + 1, 0
    return Page(resources, f"{index}.0" if index < len(sources) else None)


class BadCursor(ValueError):
    pass


def _parse_cursor(cursor: str | None, sources: int) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    try:
        index, after = (int(part) for part in cursor.split("."))
    except ValueError as exc:
        raise BadCursor(cursor) from exc
    if not 0 <= index < sources or after < 0:
        raise BadCursor(cursor)
    return index, after


def read(resource_type: str, resource_id: str, site_ids: list[int] | None) -> dict | None:
    """The one resource with this id within scope, or None."""
    prefix, _, number = resource_id.rpartition("-")
    if not number.isdigit():
        return None
    for source in SOURCES[resource_type]:
        lookup = source.ids.get(prefix)
        if lookup is None:
            continue
        rows = list(source.scoped(site_ids).filter(lookup(int(number))).distinct()[:1])
        for resource in source.build(rows):
            if resource["id"] == resource_id:
                return resource
    return None


def everything(patient_id: int, site_ids: list[int] | None) -> Iterator[dict]:
    """Every resource of one patient: the Patient first, then each type in turn."""
    query = Query(site_ids, patient_ids=[patient_id])
    for resource_type in RESOURCE_TYPES:
        for source in SOURCES[resource_type]:
            yield from query.build(source, list(query.rows(source)))


def stream(resource_type: str, query: Query, batch: int = 2000) -> Iterator[dict]:
    """Every resource of a type in scope, read ``batch`` rows at a time (bulk export)."""
    for source in SOURCES[resource_type]:
        after = 0
        while True:
            rows = list(query.rows(source, after)[:batch])
            if not rows:
                break
            yield from query.build(source, rows)
            after = rows[-1].pk
