"""Writes of the other clinical records: indications, trials, follow-ups, goals, complications."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from registry import scheduling
from registry.models import (
    ClosedDay,
    Complication,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    ScreeningTrial,
    Site,
)
from registry.services.base import fail, validated_save
from registry.services.schedule import site_today


def _not_future(field: str, day: dt.date | None, patient: Patient) -> None:
    if day is not None and day > site_today(patient.site):
        fail(field, "This date cannot be in the future.")


def _not_before_birth(field: str, day: dt.date | None, patient: Patient) -> None:
    if day is not None and day < patient.date_of_birth:
        fail(field, "This date cannot be before the patient's date of birth.")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _check_bookable(patient: Patient, due_date: dt.date) -> None:
    """A new visit is booked on a day to come on which the clinic is open."""
    site = patient.site
    if due_date < site_today(site):
        fail("due_date", "A new follow-up cannot be due in the past.")
    if due_date.weekday() in site.closed_weekdays or ClosedDay.objects.filter(site=site, date=due_date).exists():
        day = f"{due_date:%A} {due_date.day} {due_date:%B %Y}"
        fail("due_date", f"The clinic is closed on {day}: choose a day it is open.")


def new_indication(*, patient: Patient, diagnosis: str, has_primary: bool, **fields) -> Indication:
    """The indication as added: coded by default, and primary when the patient has none yet."""
    fields.setdefault("icd10_code", Indication.DEFAULT_ICD10.get(diagnosis, ""))
    fields.setdefault("is_primary", not has_primary)
    return Indication(patient=patient, diagnosis=diagnosis, **fields)


@transaction.atomic
def add_indication(*, patient: Patient, diagnosis: str, by=None, **fields) -> Indication:
    """Add a coded diagnosis; the first becomes primary, and a new primary demotes the old one."""
    has_primary = "is_primary" in fields or patient.indications.filter(is_primary=True).exists()
    indication = new_indication(patient=patient, diagnosis=diagnosis, has_primary=has_primary, **fields)
    if indication.is_primary:
        for old in patient.indications.filter(is_primary=True):
            old.is_primary = False
            validated_save(old, by=by)
    return validated_save(indication, by=by)


@transaction.atomic
def record_screening_trial(*, patient: Patient, performed_on: dt.date, by=None, **fields) -> ScreeningTrial:
    _not_future("performed_on", performed_on, patient)
    _not_before_birth("performed_on", performed_on, patient)
    return validated_save(ScreeningTrial(patient=patient, performed_on=performed_on, **fields), by=by)


def checked_follow_up(
    *,
    patient: Patient,
    kind: str,
    due_date: dt.date,
    booked: Iterable[FollowUp],
    scheduled_at: dt.datetime | None = None,
    booking: bool = False,
    **fields,
) -> FollowUp:
    """``schedule_follow_up``'s rules, the visit not saved; ``booked``: the patient's visits of this
    kind on this day."""
    _not_before_birth("due_date", due_date, patient)
    if booking:
        _check_bookable(patient, due_date)
    if any(visit.status != FollowUp.Status.CANCELLED for visit in booked):
        label = FollowUp.Kind(kind).label if kind in FollowUp.Kind.values else kind
        fail("due_date", f"A {label.lower()} is already booked for this patient on {_day(due_date)}.")
    return FollowUp(patient=patient, kind=kind, due_date=due_date, scheduled_at=scheduled_at, **fields)


@transaction.atomic
def schedule_follow_up(
    *,
    patient: Patient,
    kind: str,
    due_date: dt.date,
    scheduled_at: dt.datetime | None = None,
    booking: bool = False,
    by=None,
    **fields,
) -> FollowUp:
    """Add a visit, never twice the same. ``booking``: a visit booked now by a user (API, dashboard),
    due on a day to come when the clinic is open; without it, a visit of the patient's history
    (the import, which may date it in the past)."""
    booked = FollowUp.objects.filter(patient=patient, kind=kind, due_date=due_date)
    visit = checked_follow_up(
        patient=patient,
        kind=kind,
        due_date=due_date,
        booked=booked.exclude(status=FollowUp.Status.CANCELLED)[:1],
        scheduled_at=scheduled_at,
        booking=booking,
        **fields,
    )
    return validated_save(visit, by=by)


def completed(follow_up: FollowUp, *, completed_on: dt.date, outcome_notes: str = "") -> FollowUp:
    """``complete_follow_up``'s rules, applied to ``follow_up`` in memory (not saved)."""
    if follow_up.status == FollowUp.Status.CANCELLED:
        fail("status", "A cancelled follow-up cannot be completed; schedule a new one.")
    if follow_up.status == FollowUp.Status.COMPLETED:
        fail("completed_on", f"This follow-up was already completed on {_day(follow_up.completed_on)}.")
    _not_future("completed_on", completed_on, follow_up.patient)
    follow_up.status = FollowUp.Status.COMPLETED
    follow_up.completed_on = completed_on
    follow_up.outcome_notes = outcome_notes or follow_up.outcome_notes
    return follow_up


@transaction.atomic
def complete_follow_up(*, follow_up: FollowUp, completed_on: dt.date, outcome_notes: str = "", by=None) -> FollowUp:
    follow_up = FollowUp.objects.select_for_update().select_related("patient__site").get(pk=follow_up.pk)
    return validated_save(completed(follow_up, completed_on=completed_on, outcome_notes=outcome_notes), by=by)


@transaction.atomic
def reschedule_follow_up(
    *, follow_up: FollowUp, due_date: dt.date, scheduled_at: dt.datetime | None = None, by=None
) -> FollowUp:
    """Move an open visit (a missed one is booked again: it is scheduled once more)."""
    follow_up = FollowUp.objects.select_for_update().select_related("patient__site").get(pk=follow_up.pk)
    if follow_up.status not in (FollowUp.Status.SCHEDULED, FollowUp.Status.MISSED):
        fail("due_date", f"A {follow_up.get_status_display().lower()} follow-up cannot be rescheduled.")
    if due_date < site_today(follow_up.patient.site):
        fail("due_date", "A visit cannot be rescheduled into the past.")
    _check_bookable(follow_up.patient, due_date)
    if scheduled_at is not None and scheduled_at.astimezone(follow_up.patient.site.zone).date() != due_date:
        fail("scheduled_at", "The booked time must be on the visit's date.")
    follow_up.due_date, follow_up.scheduled_at = due_date, scheduled_at
    follow_up.status = FollowUp.Status.SCHEDULED
    return validated_save(follow_up, by=by)


def cancelled(follow_up: FollowUp, *, reason: str = "") -> FollowUp:
    """``cancel_follow_up``'s rules, applied to ``follow_up`` in memory (not saved)."""
    if follow_up.status == FollowUp.Status.COMPLETED:
        fail("status", "A completed follow-up cannot be cancelled.")
    follow_up.status = FollowUp.Status.CANCELLED
    follow_up.completed_on = None
    if reason:
        follow_up.outcome_notes = reason
    return follow_up


@transaction.atomic
def cancel_follow_up(*, follow_up: FollowUp, reason: str = "", by=None) -> FollowUp:
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    return validated_save(cancelled(follow_up, reason=reason), by=by)


def mark_missed_follow_ups(*, site=None, today: dt.date | None = None, sites_on=()) -> int:
    """Set-based: scheduled visits past their grace period become missed.

    Either one ``site`` on ``today``, or ``sites_on``: ``(site, today)`` pairs, one UPDATE per
    distinct cutoff rather than per site (the sweep: 40 sites at 100,000 patients).
    """
    pairs = [(site, today)] if site is not None else list(sites_on)
    by_cutoff: dict[dt.date, list[int]] = defaultdict(list)
    for s, day in pairs:
        by_cutoff[scheduling.missed_cutoff(day, s.follow_up_grace_days)].append(s.pk)
    every_site = len(pairs) > 1 and len(pairs) == Site.objects.count()
    marked = 0
    for cutoff, ids in by_cutoff.items():
        visits = FollowUp.objects.filter(status=FollowUp.Status.SCHEDULED, due_date__lt=cutoff)
        if not (every_site and len(by_cutoff) == 1):  # one cutoff for the whole program: no join
            visits = visits.filter(patient__in=Patient.objects.filter(site__in=ids))
        marked += visits.update(status=FollowUp.Status.MISSED)
    return marked


def checked_goal(*, patient: Patient, category: str, description: str, set_on: dt.date, **fields) -> Goal:
    """``set_goal``'s rules, the goal not saved."""
    _not_future("set_on", set_on, patient)
    _not_before_birth("set_on", set_on, patient)
    return Goal(patient=patient, category=category, description=description, set_on=set_on, **fields)


@transaction.atomic
def set_goal(*, patient: Patient, category: str, description: str, set_on: dt.date, by=None, **fields) -> Goal:
    goal = checked_goal(patient=patient, category=category, description=description, set_on=set_on, **fields)
    return validated_save(goal, by=by)


def checked_goal_review(*, goal: Goal, reviewed_on: dt.date, score: int, notes: str = "") -> GoalReview:
    """``review_goal``'s rules, the review not saved."""
    if reviewed_on < goal.set_on:
        fail("reviewed_on", f"A review cannot be before the goal was set ({goal.set_on}).")
    _not_future("reviewed_on", reviewed_on, goal.patient)
    return GoalReview(goal=goal, reviewed_on=reviewed_on, score=score, notes=notes)


@transaction.atomic
def review_goal(*, goal: Goal, reviewed_on: dt.date, score: int, notes: str = "", by=None) -> GoalReview:
    return validated_save(checked_goal_review(goal=goal, reviewed_on=reviewed_on, score=score, notes=notes), by=by)


@transaction.atomic
def record_complication(*, patient: Patient, occurred_on: dt.date, kind: str, by=None, **fields) -> Complication:
    _not_future("occurred_on", occurred_on, patient)
    _not_before_birth("occurred_on", occurred_on, patient)
    pump = fields.get("pump")
    if pump is not None and pump.patient_id != patient.pk:
        fail("pump", "This pump belongs to another patient.")
    if pump is not None and occurred_on < pump.implant_date:
        fail("occurred_on", f"This is before the implant of the pump it concerns ({_day(pump.implant_date)}).")
    _not_future("resolved_on", fields.get("resolved_on"), patient)
    return validated_save(Complication(patient=patient, occurred_on=occurred_on, kind=kind, **fields), by=by)


@transaction.atomic
def resolve_complication(*, complication: Complication, resolved_on: dt.date, notes: str = "", by=None) -> Complication:
    """Mark an open complication resolved on ``resolved_on`` (once: a resolved one keeps its date)."""
    complication = Complication.objects.select_for_update().select_related("patient__site").get(pk=complication.pk)
    if complication.resolved_on is not None:
        fail("resolved_on", f"This complication was already resolved on {_day(complication.resolved_on)}.")
    if resolved_on < complication.occurred_on:
        fail("resolved_on", f"This is before the complication occurred ({_day(complication.occurred_on)}).")
    _not_future("resolved_on", resolved_on, complication.patient)
    complication.resolved_on = resolved_on
    if notes:
        complication.notes = f"{complication.notes}\n{notes}".strip()
    return validated_save(complication, by=by)
