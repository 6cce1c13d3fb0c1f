"""The records of an ITB program, one module per kind of record; every name is importable from
``registry.models`` (migrations and the rest of the code import them from here).

Models hold fields, constraints and tiny properties; workflows live in ``registry.services`` and
date arithmetic in ``registry.scheduling``. Invariants that span two tables (a refill's volume
against its pump's reservoir, a refill before the pump's implant date, a patient's status
transition) are enforced by triggers created in migration 0002, because a CHECK constraint cannot
look at another row (docs/triggers.md).
"""

from registry.models.bookkeeping import DataVersion, ProgramImport
from registry.models.follow_ups import Complication, FollowUp, Goal, GoalReview
from registry.models.patients import (
    ALLOWED_TRANSITIONS,
    PATIENT_DETAIL_FIELDS,
    TRANSITION_PAIRS,
    AshworthScore,
    DueBasis,
    Indication,
    Patient,
    PatientStatus,
    ScreeningTrial,
    SiteStay,
    StatusChange,
)
from registry.models.pumps import PUMP_DETAIL_FIELDS, Pump, PumpSpan
from registry.models.refills import (
    REFILL_RECORD_FIELDS,
    DoseChange,
    DoseChangeQuerySet,
    EnteredInError,
    RecordedManager,
    Refill,
    RefillMonth,
)
from registry.models.reminders import Reminder
from registry.models.sites import (
    CalendarFeed,
    ClosedDay,
    Site,
    StaffProfile,
    _default_battery_leads,
    _default_closed_weekdays,
    _default_follow_up_leads,
    _default_refill_leads,
    site_today,
)
from registry.models.validators import (
    CONCENTRATION,
    DAILY_DOSE,
    GAS_SCORE,
    ICD10_VALIDATOR,
    MAX_CONCENTRATION_MCG_PER_ML,
    MAX_DAILY_DOSE_MCG,
    NON_NEGATIVE,
    POSITIVE,
    validate_day_list,
    validate_single_line,
    validate_time_zone,
    validate_weekdays,
)
from registry.models.visits import ContactAttempt, RefillAppointment
from registry.scheduling import RefillStatus, WorkStatus  # the day's statuses: rules, not columns

__all__ = [
    "PATIENT_DETAIL_FIELDS",
    "PUMP_DETAIL_FIELDS",
    "REFILL_RECORD_FIELDS",
    "ALLOWED_TRANSITIONS",
    "AshworthScore",
    "CONCENTRATION",
    "CalendarFeed",
    "ClosedDay",
    "Complication",
    "ContactAttempt",
    "DAILY_DOSE",
    "DataVersion",
    "DoseChange",
    "DoseChangeQuerySet",
    "DueBasis",
    "EnteredInError",
    "FollowUp",
    "GAS_SCORE",
    "Goal",
    "GoalReview",
    "ICD10_VALIDATOR",
    "Indication",
    "MAX_CONCENTRATION_MCG_PER_ML",
    "MAX_DAILY_DOSE_MCG",
    "NON_NEGATIVE",
    "POSITIVE",
    "Patient",
    "PatientStatus",
    "ProgramImport",
    "Pump",
    "PumpSpan",
    "RecordedManager",
    "Refill",
    "RefillAppointment",
    "RefillMonth",
    "RefillStatus",
    "WorkStatus",
    "Reminder",
    "ScreeningTrial",
    "Site",
    "SiteStay",
    "StaffProfile",
    "StatusChange",
    "TRANSITION_PAIRS",
    "_default_battery_leads",
    "_default_closed_weekdays",
    "_default_follow_up_leads",
    "_default_refill_leads",
    "site_today",
    "validate_day_list",
    "validate_single_line",
    "validate_time_zone",
    "validate_weekdays",
]
