"""The whole report: every section for one scope and period, and the list of figure definitions."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    QuerySet,
)
from django.utils import timezone

from registry.models import (
    Site,
)
from reporting.reports.census import _activity, _census, indications_at
from reporting.reports.outcomes import _follow_ups, _goals, _reminders
from reporting.reports.refills import _refills, pump_days_by_site
from reporting.reports.safety import _by_site, _safety
from reporting.reports.scope import Scope

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
