"""Reads shared by the dashboard, the API, the admin and the tasks.

- ``rules``: the worklist's rules (refill status, a site's today), evaluated in Python and
  compiled to SQL from one table;
- ``worklist``: the worklist's pages;
- ``patients``: patient search, one patient as the app reads one (``patient_record``), the
  patient's page, reservoir chart and timeline;
- ``data_version``: the cache-key part of the cached list pages;
- ``rows``: model instances from the rows of hand-written SQL built once per process.
"""

from registry.selectors.data_version import data_version
from registry.selectors.patients import (
    RECENT_REFILLS,
    PatientChange,
    ReservoirCurve,
    TimelineEvent,
    TimelineKind,
    patient_changes,
    patient_detail,
    patient_record,
    patient_reservoir_curve,
    patient_row,
    patient_timeline,
    search_patients,
)
from registry.selectors.rules import (
    URGENCY,
    SiteDay,
    patient_refill_status,
    refill_status_q,
    site_days,
    sites_today,
    with_refill_status,
)
from registry.selectors.worklist import (
    WORK_ITEM_PATIENT_FIELDS,
    WORK_KINDS,
    WORK_STATUSES,
    WORK_URGENCY,
    WorkItem,
    WorkKind,
    WorklistPage,
    open_follow_ups,
    refill_worklist,
    worklist_page,
)

__all__ = [
    "RECENT_REFILLS",
    "URGENCY",
    "WORK_ITEM_PATIENT_FIELDS",
    "WORK_KINDS",
    "WORK_STATUSES",
    "WORK_URGENCY",
    "WorkKind",
    "PatientChange",
    "ReservoirCurve",
    "TimelineEvent",
    "TimelineKind",
    "WorkItem",
    "WorklistPage",
    "data_version",
    "open_follow_ups",
    "patient_changes",
    "patient_detail",
    "patient_record",
    "patient_row",
    "patient_refill_status",
    "patient_reservoir_curve",
    "patient_timeline",
    "refill_status_q",
    "refill_worklist",
    "search_patients",
    "site_days",
    "SiteDay",
    "sites_today",
    "with_refill_status",
    "worklist_page",
]
