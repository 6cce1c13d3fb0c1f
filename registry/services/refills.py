"""Refills and dose changes: the writes that move a patient's next refill date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from registry import scheduling
from registry.models import DoseChange, PatientStatus, Pump, Refill, Site
from registry.services.appointments import close_visit_for_refill
from registry.services.base import fail, validated_save
from registry.services.patients import require_status, site_on
from registry.services.reminders import cancel_obsolete
from registry.services.schedule import projection_refused_on, recompute_schedule, schedule_for_refill, site_rules

# A few minutes of clock skew between a programmer and the server is not "the future".
_FUTURE_TOLERANCE = dt.timedelta(minutes=10)


def _check_instant(field: str, at: dt.datetime, pump: Pump) -> None:
    if timezone.is_naive(at):
        fail(field, "Give the time with its time zone.")
    if at > timezone.now() + _FUTURE_TOLERANCE:
        fail(field, "This cannot be recorded in the future.")
    if pump.explant_date is not None:
        fail("pump", "This pump has been explanted; record it on the patient's active pump.")
    if at.astimezone(pump.patient.site.zone).date() < pump.implant_date:
        fail(field, f"This is before the pump's implant date ({pump.implant_date}).")


def _local_day(refill: Refill) -> dt.date:
    """The refill's stored local date (a row from before it was stored: in its site's zone)."""
    return refill.performed_on or refill.performed_at.astimezone(refill.site.zone).date()


def _interval_days(refill: Refill, previous: Refill | None) -> int | None:
    """Days since the refill before, when that one was of the same pump or of the pump it replaced."""
    if previous is None:
        return None
    pump = refill.pump
    if pump.pk is None:  # a new patient's pumps, checked before they are written: the same objects
        chained = previous.pump is pump or previous.pump is pump.replaces
    else:
        chained = previous.pump_id in (refill.pump_id, pump.replaces_id)
    return (refill.performed_on - _local_day(previous)).days if chained else None


def restated_refill_facts(refills, since: dt.datetime) -> list[Refill]:
    """Date ``refills`` (a patient's, in time order) from ``since`` again at their site, with their
    intervals: those whose facts changed."""
    previous, changed = None, []
    for refill in refills:
        if refill.performed_at >= since:
            facts = (refill.performed_on, refill.interval_days)
            refill.performed_on = refill.performed_at.astimezone(refill.site.zone).date()
            refill.interval_days = _interval_days(refill, previous)
            if (refill.performed_on, refill.interval_days) != facts:
                changed.append(refill)
        previous = refill
    return changed


def restate_refill_facts(patient, since: dt.datetime) -> None:
    """Date the patient's refills from ``since`` again at their site, with their intervals (after a
    move re-attributes them to the new site, whose zone may put them on another day, or a refill
    recorded late between two others). Only a refill whose facts change is saved."""
    stored = Refill.objects.filter(pump__patient=patient).select_related("site", "pump").order_by("performed_at", "id")
    for refill in restated_refill_facts(stored, since):
        refill.save(update_fields=["performed_on", "interval_days"])


def previous_refill(pump: Pump, before: dt.datetime) -> Refill | None:
    """The refill whose cycle one of ``pump`` at ``before`` closes: the pump's latest before it, or
    the last of the pump it replaced."""
    previous = Refill.objects.filter(pump=pump, performed_at__lt=before).order_by("-performed_at").first()
    if previous is None and pump.replaces_id is not None:
        previous = Refill.objects.filter(pump_id=pump.replaces_id).order_by("-performed_at").first()
    return previous


class StoredRecords:
    """What the refill rules read of a patient's pump records: here from the database, one query a
    question (``registry.services.new_patients`` answers the same questions from memory)."""

    def __init__(self, site: Site):
        self.site = site

    def latest_at(self, pump: Pump) -> dt.datetime | None:
        return Refill.objects.filter(pump=pump).order_by("-performed_at").values_list("performed_at", flat=True).first()

    def previous(self, pump: Pump, before: dt.datetime) -> Refill | None:
        return previous_refill(pump, before)

    def cycle_schedule(self, refill: Refill) -> scheduling.RefillSchedule:
        return schedule_for_refill(refill, refill.pump, site_rules(self.site))

    def site_on(self, patient, day: dt.date) -> int:
        return site_on(patient, day)

    def site_by_id(self, site_id: int) -> Site:
        return self.site if site_id == self.site.pk else Site.objects.get(pk=site_id)


def cycle_closed_by(
    previous: Refill | None, performed_on: dt.date, site: Site, *, records: StoredRecords | None = None
) -> tuple[dt.date | None, str]:
    """The due date of the cycle ``previous`` began and how timely a refill on ``performed_on`` closed it."""
    if previous is None:
        return None, Refill.Timeliness.FIRST
    closed = (records or StoredRecords(site)).cycle_schedule(previous)
    timeliness = scheduling.refill_timeliness(
        performed_on, due_date=closed.next_refill_due, alarm_date=closed.alarm_date
    )
    return closed.next_refill_due, timeliness


def _check_implanted(pump: Pump) -> None:
    require_status(
        pump.patient, {PatientStatus.IMPLANTED}, "refills and dose changes are recorded only for an implanted patient"
    )


def _unusual_dose(dose: Decimal | None, site: Site) -> str | None:
    if dose is not None and dose > site.dose_confirm_above_mcg:
        return f"A daily dose above {site.dose_confirm_above_mcg} mcg is unusual: check it and confirm."
    if dose is not None and 0 < dose < site.dose_confirm_below_mcg:  # 0 and below: the model refuses them
        return f"A daily dose below {site.dose_confirm_below_mcg} mcg is unusual: check it and confirm."
    return None


def _refuse_unconfirmed(unusual: dict[str, str], confirmed: bool) -> None:
    if unusual and not confirmed:
        raise ValidationError({field: [message] for field, message in unusual.items()})


def unusual_refill_values(
    *,
    pump: Pump,
    performed_at: dt.datetime,
    volume_after_ml: Decimal | None,
    concentration_mcg_per_ml: Decimal | None,
    daily_dose_mcg: Decimal | None,
    records: StoredRecords | None = None,
) -> dict[str, str]:
    """The refill's values that are saved only once the user confirms them, with why, by field."""
    site = pump.patient.site
    unusual = {}
    if concentration_mcg_per_ml is not None and not (
        site.concentration_confirm_min <= concentration_mcg_per_ml <= site.concentration_confirm_max
    ):
        unusual["concentration_mcg_per_ml"] = (
            f"A concentration outside {site.concentration_confirm_min}-"
            f"{site.concentration_confirm_max} mcg/mL is unusual: check it and confirm."
        )
    dose = _unusual_dose(daily_dose_mcg, site)
    if dose:
        unusual["daily_dose_mcg"] = dose
    if volume_after_ml is not None and 0 < volume_after_ml <= pump.alarm_volume_ml:
        unusual["volume_after_ml"] = (
            f"{volume_after_ml} mL is at or below this pump's alarm volume ({pump.alarm_volume_ml} mL): "
            "the pump would alarm at once. Check it and confirm."
        )
    latest = (records or StoredRecords(site)).latest_at(pump)
    if latest is not None and performed_at < latest:
        unusual["performed_at"] = (
            f"This is before the latest refill of this pump ({latest.astimezone(site.zone):%d %b %Y %H:%M}): "
            "the schedule stays on the latest refill. Check the date and confirm."
        )
    return unusual


def checked_refill(
    pump: Pump,
    records: StoredRecords,
    *,
    performed_at: dt.datetime,
    volume_after_ml: Decimal,
    concentration_mcg_per_ml: Decimal,
    daily_dose_mcg: Decimal,
    volume_removed_ml: Decimal = Decimal("0"),
    expected_residual_ml: Decimal | None = None,
    programmer_alarm_date: dt.date | None = None,
    manual_due_date: dt.date | None = None,
    notes: str = "",
    confirmed: bool = False,
    by=None,
) -> Refill:
    """The refill's rules before it is saved, reading the pump's records from ``records``: refused
    with a field error, or the unsaved refill with its facts (site, date, interval, timeliness)."""
    site = pump.patient.site
    _check_implanted(pump)
    _check_instant("performed_at", performed_at, pump)
    unusual = unusual_refill_values(
        pump=pump,
        performed_at=performed_at,
        volume_after_ml=volume_after_ml,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        daily_dose_mcg=daily_dose_mcg,
        records=records,
    )
    _refuse_unconfirmed(unusual, confirmed)
    performed_on = performed_at.astimezone(site.zone).date()
    if programmer_alarm_date is not None and programmer_alarm_date < performed_on:
        fail("programmer_alarm_date", "The programmer's alarm date cannot be before the refill.")
    if manual_due_date is not None and manual_due_date <= performed_on:
        fail("manual_due_date", "The next refill date must be after this refill.")
    refill = Refill(
        pump=pump,
        performed_at=performed_at,
        volume_after_ml=volume_after_ml,
        volume_removed_ml=volume_removed_ml,
        expected_residual_ml=expected_residual_ml,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        daily_dose_mcg=daily_dose_mcg,
        programmer_alarm_date=programmer_alarm_date,
        manual_due_date=manual_due_date,
        notes=notes,
        performed_by=by if getattr(by, "pk", None) else None,
        site_id=records.site_on(pump.patient, performed_on),
    )
    refill.residual_discrepancy = scheduling.residual_discrepancy(
        volume_removed_ml=volume_removed_ml,
        expected_residual_ml=expected_residual_ml,
        tolerance_ml=site.residual_tolerance_ml,
    )
    previous = records.previous(pump, performed_at)
    # Its date where it was done: a refill recorded after a move may have been done at the old site.
    done_at = site if refill.site_id in (None, site.pk) else records.site_by_id(refill.site_id)
    refill.performed_on = performed_at.astimezone(done_at.zone).date()
    refill.interval_days = _interval_days(refill, previous)
    refill.due_date_at_refill, refill.timeliness = cycle_closed_by(previous, performed_on, site, records=records)
    return refill


@transaction.atomic
def record_refill(
    *,
    pump: Pump,
    performed_at: dt.datetime,
    volume_after_ml: Decimal,
    concentration_mcg_per_ml: Decimal,
    daily_dose_mcg: Decimal,
    volume_removed_ml: Decimal = Decimal("0"),
    expected_residual_ml: Decimal | None = None,
    programmer_alarm_date: dt.date | None = None,
    manual_due_date: dt.date | None = None,
    notes: str = "",
    confirmed: bool = False,
    by=None,
) -> Refill:
    """Record what the clinician documented at a refill and reschedule the patient.

    Flags a residual discrepancy beyond the site's tolerance and keeps the timeliness of the
    cycle this refill closes (on time, late, after the alarm date) for reporting.
    """
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
    refill = checked_refill(
        pump,
        StoredRecords(pump.patient.site),
        performed_at=performed_at,
        volume_after_ml=volume_after_ml,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        daily_dose_mcg=daily_dose_mcg,
        volume_removed_ml=volume_removed_ml,
        expected_residual_ml=expected_residual_ml,
        programmer_alarm_date=programmer_alarm_date,
        manual_due_date=manual_due_date,
        notes=notes,
        confirmed=confirmed,
        by=by,
    )
    validated_save(refill, by=by)
    # Recorded late, between two refills: the next one's interval now starts at this one.
    restate_refill_facts(pump.patient, since=performed_at)
    with projection_refused_on("daily_dose_mcg"):
        recompute_schedule(pump.patient, refuse_unprojectable=True)
    close_visit_for_refill(refill, pump.patient, by=by)
    # In the same transaction: reminders about the cycle this refill closed are never sent.
    cancel_obsolete(patient=pump.patient)
    return refill


def preview_refill(
    *,
    pump: Pump,
    performed_at: dt.datetime,
    volume_after_ml: Decimal,
    concentration_mcg_per_ml: Decimal,
    daily_dose_mcg: Decimal,
    programmer_alarm_date: dt.date | None = None,
    manual_due_date: dt.date | None = None,
) -> scheduling.RefillSchedule:
    """The schedule the patient will have once this refill is saved (the refill form shows it first).

    The stored schedule follows the pump's latest refill: a refill dated before it leaves that one's.
    """
    _check_implanted(pump)
    latest = Refill.objects.filter(pump=pump).order_by("-performed_at").first()
    if latest is None or latest.performed_at < performed_at:
        latest = Refill(
            pump=pump,
            performed_at=performed_at,
            volume_after_ml=volume_after_ml,
            concentration_mcg_per_ml=concentration_mcg_per_ml,
            daily_dose_mcg=daily_dose_mcg,
            programmer_alarm_date=programmer_alarm_date,
            manual_due_date=manual_due_date,
        )
    with projection_refused_on("daily_dose_mcg"):
        return schedule_for_refill(latest, pump, site_rules(pump.patient.site))


def checked_dose_change(
    pump: Pump, *, effective_at: dt.datetime, daily_dose_mcg: Decimal, notes: str = "", confirmed: bool = False, by=None
) -> DoseChange:
    """The dose change's rules before it is saved: refused with a field error, or the unsaved change."""
    _check_implanted(pump)
    _check_instant("effective_at", effective_at, pump)
    unusual = _unusual_dose(daily_dose_mcg, pump.patient.site)
    _refuse_unconfirmed({"daily_dose_mcg": unusual} if unusual else {}, confirmed)
    return DoseChange(
        pump=pump,
        effective_at=effective_at,
        daily_dose_mcg=daily_dose_mcg,
        notes=notes,
        documented_by=by if getattr(by, "pk", None) else None,
    )


@transaction.atomic
def record_dose_change(
    *, pump: Pump, effective_at: dt.datetime, daily_dose_mcg: Decimal, notes: str = "", confirmed: bool = False, by=None
) -> DoseChange:
    """A documented dose change between refills moves the projected alarm and due dates."""
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
    change = checked_dose_change(
        pump, effective_at=effective_at, daily_dose_mcg=daily_dose_mcg, notes=notes, confirmed=confirmed, by=by
    )
    validated_save(change, by=by)
    with projection_refused_on("daily_dose_mcg"):
        recompute_schedule(pump.patient, refuse_unprojectable=True)
    return change
