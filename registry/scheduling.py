"""Scheduling rules: pure date arithmetic, no ORM (docs/architecture.md, "Scheduling rules"; docs/clinical-facts.md).

Every date a patient's safety depends on is decided here and only here:

- Projected reservoir: after a refill the reservoir holds V mL at C mcg/mL; at D mcg/day it uses
  D/C mL per day. Documented dose changes split the time into pieces, walked in order; a change
  at the refill's own instant applies from that instant (``changes_in_cycle``). The pump
  delivers in real time, so the projection runs on UTC instants and only the resulting instant is
  turned into a calendar date in the clinic's time zone (a daylight-saving change never adds or
  loses an hour of drug).
- Alarm date: the volume reaches the pump's alarm volume; empty date: it reaches 0. A documented
  programmer alarm date wins when it is earlier; a disagreement of more than the site's tolerance
  is flagged.
- Refill due date: the earliest of alarm date minus the safety margin, last refill plus the maximum
  refill interval, and a manually set date; moved earlier past the clinic's closed days.
- Refill status on a given day (``REFILL_STATUS_RULES``): needs attention when no projection could
  be made, critical from the alarm date on (the pump is alarming), overdue after the due date, due
  within the lead window, otherwise upcoming.
- Battery: the documented ERI date, or implant date plus the assumed battery life.
- Follow-up: missed when not completed within the grace period after its date; on the worklist
  until completed or cancelled, or, once missed, until a later visit of its kind is booked
  (``superseded``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum, nonmember

_SECONDS_PER_DAY = Decimal(86400)


class ProjectionOutOfRange(ValueError):
    """The reservoir would last past the last date the calendar holds (an implausibly low dose)."""


@dataclass(frozen=True)
class DoseStep:
    """A documented daily dose from an instant on."""

    effective_at: dt.datetime
    daily_dose_mcg: Decimal


@dataclass(frozen=True)
class FillState:
    """What the reservoir held after a refill."""

    performed_at: dt.datetime
    volume_ml: Decimal
    concentration_mcg_per_ml: Decimal
    daily_dose_mcg: Decimal


@dataclass(frozen=True)
class Projection:
    alarm_at: dt.datetime
    empty_at: dt.datetime
    alarm_date: dt.date
    empty_date: dt.date


@dataclass(frozen=True)
class SiteRules:
    """The site settings the rules read (all defaults live on ``Site``, docs/clinical-facts.md)."""

    time_zone: str = "UTC"
    safety_margin_days: int = 7
    max_refill_interval_days: int = 180
    closed_weekdays: frozenset[int] = frozenset({5, 6})
    closed_dates: frozenset[dt.date] = frozenset()
    lead_window_days: int = 14
    alarm_disagreement_days: int = 1
    battery_life_years: int = 7
    follow_up_grace_days: int = 7

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# The due basis of a schedule that could not be projected: the patient needs attention.
NEEDS_ATTENTION = "needs_attention"


@dataclass(frozen=True)
class RefillSchedule:
    next_refill_due: dt.date
    basis: str  # "alarm_margin", "max_interval" or "manual"
    alarm_date: dt.date
    empty_date: dt.date
    projected_alarm_date: dt.date
    alarm_date_disagrees: bool


def local_date(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(zone).date()


def today_in(zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.date:
    return local_date(now, zone)


def _time_to_use(volume_ml: Decimal, rate_ml_per_day: Decimal) -> dt.timedelta:
    seconds = volume_ml / rate_ml_per_day * _SECONDS_PER_DAY
    # Round down to the second: a projection must never come out later than the truth.
    return dt.timedelta(seconds=int(seconds))


def changes_in_cycle(
    effective_at: dt.datetime, performed_at: dt.datetime, next_performed_at: dt.datetime | None
) -> bool:
    """Whether a dose change belongs to the refill cycle from ``performed_at`` to the next refill.

    A change at the refill's own instant applies from that instant (the dashboard records times to
    the minute, so a dose set during the refill visit shares its minute); one at the next refill's
    instant belongs to the next cycle.
    """
    return performed_at <= effective_at and (next_performed_at is None or effective_at < next_performed_at)


def _doses_from(fill: FillState, dose_changes: Sequence[DoseStep]) -> tuple[Decimal, list[DoseStep]]:
    """The dose in force at the fill's instant and the later changes in order, in UTC."""
    dose = fill.daily_dose_mcg
    later = []
    for c in sorted(dose_changes, key=lambda c: c.effective_at):
        if not changes_in_cycle(c.effective_at, fill.performed_at, None):
            continue
        if c.effective_at == fill.performed_at:
            dose = c.daily_dose_mcg
        else:
            later.append(DoseStep(c.effective_at.astimezone(dt.UTC), c.daily_dose_mcg))
    return dose, later


def _instant_volume_reaches(fill: FillState, dose_changes: Sequence[DoseStep], threshold_ml: Decimal) -> dt.datetime:
    """The instant the reservoir, drawn down by the doses in force, reaches ``threshold_ml``.

    Works in UTC: Python adds and subtracts aware datetimes of one zone in wall-clock time, which
    would give or take an hour of drug across a daylight-saving change.
    """
    volume = fill.volume_ml
    at = fill.performed_at.astimezone(dt.UTC)
    if volume <= threshold_ml:
        return at
    dose, changes = _doses_from(fill, dose_changes)
    for change in changes:
        rate = dose / fill.concentration_mcg_per_ml
        span_days = Decimal((change.effective_at - at).total_seconds()) / _SECONDS_PER_DAY
        used = rate * span_days
        if volume - used <= threshold_ml:
            return at + _time_to_use(volume - threshold_ml, rate)
        volume -= used
        at = change.effective_at
        dose = change.daily_dose_mcg
    return at + _time_to_use(volume - threshold_ml, dose / fill.concentration_mcg_per_ml)


def project_reservoir(
    fill: FillState, dose_changes: Iterable[DoseStep], *, alarm_volume_ml: Decimal, zone: zoneinfo.ZoneInfo
) -> Projection:
    """Alarm and empty instants and dates of one refill cycle, through its dose changes."""
    steps = list(dose_changes)
    if fill.performed_at.tzinfo is None or any(c.effective_at.tzinfo is None for c in steps):
        raise ValueError("instants must be timezone-aware")
    if fill.volume_ml <= 0 or fill.concentration_mcg_per_ml <= 0 or fill.daily_dose_mcg <= 0:
        raise ValueError("volume, concentration and daily dose must be positive")
    if any(s.daily_dose_mcg <= 0 for s in steps):
        raise ValueError("daily doses must be positive")
    try:
        alarm_at = _instant_volume_reaches(fill, steps, alarm_volume_ml)
        empty_at = _instant_volume_reaches(fill, steps, Decimal(0))
        return Projection(alarm_at, empty_at, local_date(alarm_at, zone), local_date(empty_at, zone))
    except OverflowError as error:
        raise ProjectionOutOfRange("the reservoir would last beyond the last date the calendar holds") from error


def previous_open_day(day: dt.date, rules: SiteRules) -> dt.date:
    """``day`` itself if the clinic is open, otherwise the nearest earlier open day."""
    for _ in range(366):
        if day.weekday() not in rules.closed_weekdays and day not in rules.closed_dates:
            return day
        day -= dt.timedelta(days=1)
    raise ValueError("the clinic has no open day in the year before this date")


def refill_schedule(
    fill: FillState,
    dose_changes: Iterable[DoseStep],
    *,
    alarm_volume_ml: Decimal,
    rules: SiteRules,
    programmer_alarm_date: dt.date | None = None,
    manual_due_date: dt.date | None = None,
) -> RefillSchedule:
    """The next refill's due date and the dates behind it, for the cycle begun by ``fill``."""
    zone = rules.zone
    projection = project_reservoir(fill, dose_changes, alarm_volume_ml=alarm_volume_ml, zone=zone)
    alarm_date = projection.alarm_date
    disagrees = False
    if programmer_alarm_date is not None:
        disagrees = abs((programmer_alarm_date - projection.alarm_date).days) > rules.alarm_disagreement_days
        alarm_date = min(alarm_date, programmer_alarm_date)
    empty_date = max(projection.empty_date, alarm_date)
    candidates = [
        (alarm_date - dt.timedelta(days=rules.safety_margin_days), "alarm_margin"),
        (local_date(fill.performed_at, zone) + dt.timedelta(days=rules.max_refill_interval_days), "max_interval"),
    ]
    if manual_due_date is not None:
        candidates.append((manual_due_date, "manual"))
    due, basis = min(candidates, key=lambda c: c[0])
    return RefillSchedule(
        next_refill_due=previous_open_day(due, rules),
        basis=basis,
        alarm_date=alarm_date,
        empty_date=empty_date,
        projected_alarm_date=projection.alarm_date,
        alarm_date_disagrees=disagrees,
    )


class Named(StrEnum):
    """A string enum templates can name (``WorkStatus.DUE``) without calling the class."""

    do_not_call_in_templates = nonmember(True)


class RefillStatus(Named):
    """A patient's refill status on a day, as ``REFILL_STATUS_RULES`` decides it (stored nowhere)."""

    NONE = "none"
    NEEDS_ATTENTION = "needs_attention"
    CRITICAL = "critical"
    OVERDUE = "overdue"
    DUE = "due"
    UPCOMING = "upcoming"


class WorkStatus(Named):
    """Why an item is on the worklist: a refill's status or a no-show, a battery's, a visit's."""

    CRITICAL = RefillStatus.CRITICAL.value
    NEEDS_ATTENTION = RefillStatus.NEEDS_ATTENTION.value
    NO_SHOW = "no_show"
    OVERDUE = RefillStatus.OVERDUE.value
    DUE = RefillStatus.DUE.value
    MISSED = "missed"
    UPCOMING = RefillStatus.UPCOMING.value


# The day a status test compares with: the site's today, or the end of its lead window.
TODAY, LEAD_WINDOW_END = "today", "today + lead window"


@dataclass(frozen=True)
class StatusTest:
    """One row of a status rule: ``status`` holds when the stored ``column`` compares with ``operand``.

    ``operand`` is ``TODAY``, ``LEAD_WINDOW_END`` (each site's own) or a constant. Data, not code:
    the Python check below, the ORM's SQL (``registry.selectors.rules``) and the bench's plain
    SQL are all read from these rows.
    """

    status: RefillStatus
    column: str
    comparison: str  # "eq", "lt" or "lte"
    operand: str

    def value(self, today: dt.date, lead_window_days: int):
        if self.operand == TODAY:
            return today
        if self.operand == LEAD_WINDOW_END:
            return today + dt.timedelta(days=lead_window_days)
        return self.operand


COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}

# The refill status, in precedence order: the first row that holds decides; upcoming otherwise,
# none when nothing is due. A schedule that could not be projected needs attention before all;
# critical from the alarm date on (the pump is alarming); overdue after the due date; due within
# the lead window.
REFILL_STATUS_RULES = (
    StatusTest(RefillStatus.NEEDS_ATTENTION, "refill_due_basis", "eq", NEEDS_ATTENTION),
    StatusTest(RefillStatus.CRITICAL, "alarm_date", "lte", TODAY),
    StatusTest(RefillStatus.OVERDUE, "next_refill_due", "lt", TODAY),
    StatusTest(RefillStatus.DUE, "next_refill_due", "lte", LEAD_WINDOW_END),
)
REFILL_STATUS_OTHERWISE = RefillStatus.UPCOMING
REFILL_STATUSES = (RefillStatus.NONE, *(r.status for r in REFILL_STATUS_RULES), REFILL_STATUS_OTHERWISE)


def refill_status(
    today: dt.date,
    *,
    due_date: dt.date | None,
    alarm_date: dt.date | None,
    lead_window_days: int,
    basis: str = "",
) -> RefillStatus:
    """One of ``REFILL_STATUSES`` on ``today`` (site's zone), by ``REFILL_STATUS_RULES``."""
    if due_date is None:
        return RefillStatus.NONE
    stored = {"next_refill_due": due_date, "alarm_date": alarm_date, "refill_due_basis": basis}
    for rule in REFILL_STATUS_RULES:
        value = stored[rule.column]
        if value is not None and COMPARISONS[rule.comparison](value, rule.value(today, lead_window_days)):
            return rule.status
    return REFILL_STATUS_OTHERWISE


def refill_timeliness(performed_on: dt.date, *, due_date: dt.date | None, alarm_date: dt.date | None) -> str:
    """How a completed refill closed its cycle, kept for reporting."""
    if due_date is None:
        return "first"
    if alarm_date is not None and performed_on >= alarm_date:
        return "after_alarm"
    if performed_on > due_date:
        return "late"
    return "on_time"


def add_years(day: dt.date, years: int) -> dt.date:
    """Same day ``years`` later; 29 February becomes 28 February (the earlier, safer day)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def battery_eri_date(*, implant_date: dt.date, documented_eri: dt.date | None, battery_life_years: int) -> dt.date:
    return documented_eri or add_years(implant_date, battery_life_years)


# A patient in one of these statuses is no longer implanted in this program: off every worklist.
LEFT_WORKLIST_STATUSES = frozenset({"explanted", "discontinued", "transferred", "deceased"})
# Visits in these statuses are open: neither completed nor cancelled.
OPEN_VISIT_STATUSES = ("scheduled", "missed")


def missed_cutoff(today: dt.date, grace_days: int) -> dt.date:
    """A visit dated before this day, not completed, is missed: its grace period has passed."""
    return today - dt.timedelta(days=grace_days)


def follow_up_missed(today: dt.date, *, visit_date: dt.date, grace_days: int) -> bool:
    """A visit not completed is missed once its grace period has passed."""
    return visit_date < missed_cutoff(today, grace_days)


def superseded(visit, visits: Iterable) -> bool:
    """A visit is superseded when its patient has a later visit of the same kind that is not
    cancelled: rebooking is how a coordinator closes a missed visit.

    ``visit`` and ``visits`` (the patient's visits) have ``patient_id``, ``kind``, ``due_date`` and
    ``status``. The database stores the answer in ``FollowUp.superseded`` through triggers (migration
    0007) so the worklist reads it from an index; the tests hold the triggers to this function.
    """
    return any(
        v.patient_id == visit.patient_id
        and v.kind == visit.kind
        and v.due_date > visit.due_date
        and v.status != "cancelled"
        for v in visits
    )


def visit_work_status(
    today: dt.date, *, status: str, visit_date: dt.date, grace_days: int, rebooked: bool
) -> WorkStatus | None:
    """A visit's worklist status: due, missed, or None (not on the worklist).

    A visit stays on the worklist until it is completed or cancelled; once missed (marked, or past
    its grace period) it stays until the patient has a later visit of its kind (``rebooked``: the
    ``superseded`` rule, as stored in ``FollowUp.superseded``): a later visit supersedes a missed one
    only, never one still due.
    """
    if status not in OPEN_VISIT_STATUSES:
        return None
    if status == "missed" or follow_up_missed(today, visit_date=visit_date, grace_days=grace_days):
        return None if rebooked else WorkStatus.MISSED
    return WorkStatus.DUE


def residual_discrepancy(
    *, volume_removed_ml: Decimal, expected_residual_ml: Decimal | None, tolerance_ml: Decimal
) -> bool:
    if expected_residual_ml is None:
        return False
    return abs(volume_removed_ml - expected_residual_ml) > tolerance_ml


def reservoir_curve(
    fill: FillState, dose_changes: Iterable[DoseStep], *, until: dt.datetime | None = None
) -> list[tuple[dt.datetime, Decimal]]:
    """Breakpoints (UTC instant, mL) of the projected reservoir from ``fill`` until it is empty.

    The volume falls linearly between breakpoints: one at the fill, one at each dose change, and
    the last where the reservoir is empty (or at ``until``, if that comes first). The same walk as
    ``project_reservoir``, so the curve crosses the alarm volume at the projected alarm instant.
    """
    if fill.performed_at.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ValueError("instants must be timezone-aware")
    at = fill.performed_at.astimezone(dt.UTC)
    end = until.astimezone(dt.UTC) if until is not None else None
    volume = fill.volume_ml
    dose, changes = _doses_from(fill, list(dose_changes))
    points = [(at, volume)]
    for change in [*changes, None]:
        rate = dose / fill.concentration_mcg_per_ml
        empty_at = at + _time_to_use(volume, rate)
        limits = [t for t in (empty_at, change.effective_at if change else None, end) if t is not None]
        stop = min(limits)
        if stop >= empty_at:
            points.append((empty_at, Decimal("0.00")))
            return points
        used = rate * Decimal((stop - at).total_seconds()) / _SECONDS_PER_DAY
        volume = max(volume - used, Decimal(0))
        at = stop
        points.append((at, volume.quantize(Decimal("0.01"))))
        if end is not None and stop >= end:
            return points
        dose = change.daily_dose_mcg
    return points
