"""The search parameters each resource type answers, and turning a request's into a ``Query``.

The CapabilityStatement lists exactly these (``fhir_api.capability``). An unsupported parameter
is refused with a message naming it, rather than ignored, so a client never mistakes an
unfiltered answer for a filtered one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Q

from fhir_api import codes
from fhir_api.readers import Interval, Query

DATE_PARAMS = {
    "Procedure": ("date", "When the procedure was performed"),
    "MedicationStatement": ("effective", "Dose periods overlapping the date (range)"),
    "Appointment": ("date", "The date the visit is due"),
    "Goal": ("start-date", "When the goal was set"),
    "Observation": ("date", "When the score was recorded"),
}
PAGING = {"_count", "_page"}
DEFAULT_COUNT, MAX_COUNT = 50, 200


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    documentation: str


def params_of(resource_type: str) -> list[Param]:
    if resource_type == "Patient":
        return [
            Param("_id", "token", "The patient's id"),
            Param("identifier", "token", "The MRN, as system|value or value"),
        ]
    params = [Param("patient", "reference", "The patient: Patient/<id> or <id>")]
    if resource_type in DATE_PARAMS:
        name, doc = DATE_PARAMS[resource_type]
        params.append(Param(name, "date", doc + "; prefixes eq (default), ge, gt, le, lt; YYYY-MM-DD"))
    return params


class SearchError(ValueError):
    """A parameter the client must fix; the message is shown to them as is."""


_DATE = re.compile(r"^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})$")


def interval(values: list[str], name: str) -> Interval:
    """All of one date parameter's values, intersected, as one UTC interval."""
    start = end = None
    for value in values:
        match = _DATE.match(value)
        try:
            day = dt.date.fromisoformat(match.group(2)) if match else None
        except ValueError:
            day = None
        if day is None:
            raise SearchError(f"{name}: “{value}” is not a date such as 2025-06-01 or ge2025-06-01.")
        prefix = match.group(1) or "eq"
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        after = midnight + dt.timedelta(days=1)
        lo = {"eq": midnight, "ge": midnight, "gt": after}.get(prefix)
        hi = {"eq": after, "le": after, "lt": midnight}.get(prefix)
        start = lo if lo is not None and (start is None or lo > start) else start
        end = hi if hi is not None and (end is None or hi < end) else end
    return Interval(start, end)


def _patient_id(value: str) -> int:
    number = value.removeprefix("Patient/")
    if not number.isdigit():
        raise SearchError(f"patient: “{value}” is not a patient reference such as Patient/12.")
    return int(number)


def _identifier(value: str) -> Q:
    system, bar, mrn = value.rpartition("|")
    if not bar:
        return Q(mrn=value)
    site = system.removeprefix(codes.mrn_system(0)[:-1])
    if site == system or not site.isdigit():
        return Q(pk__in=[])  # another system's identifier: no patient of this registry has it
    return Q(mrn=mrn, site_id=int(site))


def query_for(resource_type: str, params, site_ids: list[int] | None) -> tuple[Query, int, str | None]:
    """The query, page size and cursor of a search; raises ``SearchError`` for a bad parameter."""
    allowed = {p.name: p for p in params_of(resource_type)}
    query = Query(site_ids)
    unknown = sorted(set(params) - set(allowed) - PAGING)
    if unknown:
        names = ", ".join(sorted(allowed)) + ", _count, _page"
        raise SearchError(f"{resource_type} cannot be searched by {', '.join(unknown)}; it can by {names}.")
    for name, param in allowed.items():
        values = params.getlist(name)
        if not values:
            continue
        if param.type == "date":
            query.when = interval(values, name)
        elif name == "patient":
            # Commas within a value: any of them; a repeated parameter: each must hold.
            sets = [{_patient_id(v) for v in value.split(",")} for value in values]
            query.patient_ids = sorted(set.intersection(*sets))
        elif name == "_id":
            query.extra &= Q(pk__in=[_patient_id(v) for value in values for v in value.split(",")])
        elif name == "identifier":
            for value in values:
                query.extra &= _identifier(value)
    count = params.get("_count", str(DEFAULT_COUNT))
    if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
        raise SearchError(f"_count must be a whole number from 1 to {MAX_COUNT}.")
    return query, int(count), params.get("_page")
