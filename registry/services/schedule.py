"""The ORM adapter of ``registry.scheduling``: reads a patient's records, stores the schedule.

``recompute_schedule`` is called inside the transaction of every write that can move a date
(refill, dose change, pump implant/replace/explant or edit, status change, site settings), so the
stored columns on Patient are always the scheduling rules applied to the committed records.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt

from django.db import transaction

from registry import scheduling
from registry.models import ClosedDay, DoseChange, Patient, PatientStatus, Pump, Refill, Site
from registry.models import site_today as site_today  # every service reads a clinic's day from here
from registry.services.base import fail


def site_rules(site: Site, *, closed_dates: frozenset[dt.date] | None = None) -> scheduling.SiteRules:
    if closed_dates is None:
        closed_dates = frozenset(ClosedDay.objects.filter(site=site).values_list("date", flat=True))
    return scheduling.SiteRules(
        time_zone=site.time_zone,
        safety_margin_days=site.safety_margin_days,
        max_refill_interval_days=site.max_refill_interval_days,
        closed_weekdays=frozenset(site.closed_weekdays),
        closed_dates=closed_dates,
        lead_window_days=max(site.refill_lead_days or [0]),
        alarm_disagreement_days=site.alarm_disagreement_days,
        battery_life_years=site.battery_life_years,
        follow_up_grace_days=site.follow_up_grace_days,
    )


def fill_state(refill: Refill) -> scheduling.FillState:
    return scheduling.FillState(
        performed_at=refill.performed_at,
        volume_ml=refill.volume_after_ml,
        concentration_mcg_per_ml=refill.concentration_mcg_per_ml,
        daily_dose_mcg=refill.daily_dose_mcg,
    )


def schedule_for_refill(refill: Refill, pump: Pump, rules: scheduling.SiteRules) -> scheduling.RefillSchedule:
    """The schedule of the cycle begun by ``refill``: dose changes up to the pump's next refill."""
    next_refill_at = (
        Refill.objects.filter(pump=pump, performed_at__gt=refill.performed_at)
        .order_by("performed_at")
        .values_list("performed_at", flat=True)
        .first()
    )
    changes = DoseChange.objects.filter(pump=pump).in_cycle(refill.performed_at, next_refill_at)
    return cycle_schedule(refill, pump, rules, changes)


def cycle_schedule(refill: Refill, pump: Pump, rules: scheduling.SiteRules, changes) -> scheduling.RefillSchedule:
    """The schedule of the cycle begun by ``refill``, given that cycle's dose changes in time order."""
    steps = [scheduling.DoseStep(c.effective_at, c.daily_dose_mcg) for c in changes]
    return scheduling.refill_schedule(
        fill_state(refill),
        steps,
        alarm_volume_ml=pump.alarm_volume_ml,
        rules=rules,
        programmer_alarm_date=refill.programmer_alarm_date,
        manual_due_date=refill.manual_due_date,
    )


@contextlib.contextmanager
def projection_refused_on(field: str):
    """A projection the calendar cannot hold is the user's implausible value: a field error, not a crash."""
    try:
        yield
    except scheduling.ProjectionOutOfRange:
        fail(
            field,
            "At this daily dose and concentration the reservoir would last beyond any date the registry "
            "can hold: check the daily dose and the concentration.",
        )


EMPTY_SCHEDULE = {
    "next_refill_due": None,
    "alarm_date": None,
    "empty_date": None,
    "refill_due_basis": "",
    "projected_alarm_date": None,
    "alarm_date_disagrees": False,
    "last_refill_at": None,
    "battery_eri_date": None,
    "schedule_attention": "",
}


def stored_schedule(schedule: scheduling.RefillSchedule, performed_at) -> dict:
    """The patient's stored columns for a projected schedule after the refill at ``performed_at``."""
    return {
        "next_refill_due": schedule.next_refill_due,
        "alarm_date": schedule.alarm_date,
        "empty_date": schedule.empty_date,
        "refill_due_basis": schedule.basis,
        "projected_alarm_date": schedule.projected_alarm_date,
        "alarm_date_disagrees": schedule.alarm_date_disagrees,
        "last_refill_at": performed_at,
    }


# Patients whose recompute waits for the end of a ``deferred_schedules`` block (None: not deferring).
_deferred: contextvars.ContextVar[dict[int, Patient] | None] = contextvars.ContextVar("deferred", default=None)


@contextlib.contextmanager
def deferred_schedules():
    """Recompute each touched patient once, at the end of the block, instead of after every write.

    For a history entered at once (an import): the same writes, the same final schedule, without
    recomputing it after each of a patient's past refills. Use inside the writes' transaction.
    """
    waiting: dict[int, Patient] = {}
    token = _deferred.set(waiting)
    try:
        yield
    finally:
        _deferred.reset(token)
    for patient in waiting.values():
        recompute_schedule(patient)


def recompute_schedule(patient: Patient, *, refuse_unprojectable: bool = False) -> dict:
    """Apply the scheduling rules to ``patient``'s records and store the result on the patient.

    Nothing is due unless the patient is implanted with an active pump: an explanted, discontinued,
    transferred or deceased patient, or one not yet implanted, drops off every worklist. An
    implanted patient whose schedule cannot be projected is never left without a date: see
    ``_needs_attention``. ``refuse_unprojectable``: the write being recorded made it so, and is
    refused instead (the refill and dose-change services).
    """
    waiting = _deferred.get()
    if waiting is not None:
        waiting[patient.pk] = patient
        return {}
    return _store_schedule(patient, refuse_unprojectable)


@transaction.atomic
def _store_schedule(patient: Patient, refuse_unprojectable: bool) -> dict:
    pump = Pump.objects.filter(patient=patient, explant_date__isnull=True).first()
    latest = replaced_latest = rules = None
    if pump is not None and patient.status == PatientStatus.IMPLANTED:  # else nothing is due: no more reads
        rules = site_rules(patient.site)
        latest = Refill.objects.filter(pump=pump).order_by("-performed_at").first()
        if latest is None and pump.replaces_id is not None:
            replaced_latest = Refill.objects.filter(pump_id=pump.replaces_id).order_by("-performed_at").first()
    values = schedule_columns(
        patient,
        pump,
        latest,
        rules,
        cycle=lambda refill: schedule_for_refill(refill, refill.pump, rules),
        replaced_latest=replaced_latest,
        refuse_unprojectable=refuse_unprojectable,
    )
    Patient.objects.filter(pk=patient.pk).update(**values)
    for name, value in values.items():
        setattr(patient, name, value)
    return values


def schedule_columns(
    patient: Patient,
    pump: Pump | None,
    latest: Refill | None,
    rules: scheduling.SiteRules,
    *,
    cycle,
    replaced_latest: Refill | None = None,
    refuse_unprojectable: bool = False,
) -> dict:
    """The patient's stored schedule columns from their active pump, its latest refill (and, with none,
    the latest of the pump it replaced); ``cycle(refill)`` gives the schedule of a refill's cycle."""
    values = dict(EMPTY_SCHEDULE)
    if patient.status != PatientStatus.IMPLANTED or pump is None:
        return values
    values["battery_eri_date"] = scheduling.battery_eri_date(
        implant_date=pump.implant_date, documented_eri=pump.eri_date, battery_life_years=rules.battery_life_years
    )
    try:
        result = cycle(latest) if latest is not None else None
    except (ValueError, ArithmeticError) as error:
        if refuse_unprojectable:  # the write being made is the cause: refuse it rather than store it
            raise
        result = error
    if not isinstance(result, scheduling.RefillSchedule):
        values.update(_needs_attention(pump, latest, rules, result, replaced_latest, cycle))
    else:
        values.update(stored_schedule(result, latest.performed_at))
    return values


def _needs_attention(
    pump: Pump, latest: Refill | None, rules: scheduling.SiteRules, error, replaced_latest: Refill | None, cycle
) -> dict:
    """The stored schedule of an implanted patient whose pump has no usable projection.

    The patient stays on the worklist, as needing attention, with the reason and a due date of the
    day the projection was lost (the new pump's implant, the unprojectable refill), or the replaced
    pump's due date if earlier: when in doubt, the earlier date wins.
    """
    if latest is None:
        due = pump.implant_date
        reason = f"No fill recorded for the pump implanted {pump.implant_date:%d %b %Y}: record its first fill"
        if replaced_latest is not None:
            with contextlib.suppress(ValueError, ArithmeticError):
                due = min(due, cycle(replaced_latest).next_refill_due)
    else:
        due = scheduling.local_date(latest.performed_at, rules.zone)
        reason = (
            f"The refill of {due:%d %b %Y} could not be projected ({error}): check its volume, concentration and dose"
        )
    return {
        "next_refill_due": due,
        "refill_due_basis": scheduling.NEEDS_ATTENTION,
        "schedule_attention": reason[:200],
        "last_refill_at": latest.performed_at if latest is not None else None,
    }


def recompute_site(site: Site) -> int:
    """Recompute every implanted patient of ``site`` (after its settings changed)."""
    count = 0
    for patient in Patient.objects.filter(site=site).select_related("site").iterator(chunk_size=500):
        with transaction.atomic():
            recompute_schedule(patient)
        count += 1
    return count
