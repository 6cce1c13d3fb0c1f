"""Pump implant, replacement and explant. A patient has at most one active pump."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from registry.models import PUMP_DETAIL_FIELDS, Patient, PatientStatus, Pump, Refill
from registry.services.base import fail, validated_save
from registry.services.patients import change_status, require_status
from registry.services.schedule import recompute_schedule, site_today

PUMP_FIELDS = set(PUMP_DETAIL_FIELDS)
IMPLANTABLE_FROM = {PatientStatus.CANDIDATE, PatientStatus.EXPLANTED, PatientStatus.TRANSFERRED}
# A pump still in a patient whose therapy was stopped may come out later; not once they died or left.
EXPLANTABLE_FROM = {PatientStatus.IMPLANTED, PatientStatus.DISCONTINUED}


def _check_dates(pump: Pump, patient: Patient) -> None:
    today = site_today(patient.site)
    if pump.implant_date > today:
        fail("implant_date", "The implant date cannot be in the future.")
    if pump.implant_date < patient.date_of_birth:
        fail("implant_date", "The implant date cannot be before the patient's date of birth.")
    if pump.implant_date < patient.referred_on:
        fail("implant_date", f"The implant date cannot be before the referral ({patient.referred_on}).")


def _build(patient: Patient, implant_date: dt.date, fields: dict) -> Pump:
    unknown = set(fields) - PUMP_FIELDS
    if unknown:
        raise TypeError(f"unknown pump fields: {sorted(unknown)}")
    fields.setdefault("alarm_volume_ml", patient.site.default_alarm_volume_ml)
    return Pump(patient=patient, implant_date=implant_date, **fields)


def checked_implant(
    patient: Patient, *, implant_date: dt.date, has_active_pump: bool, previous: Pump | None, **fields
) -> Pump:
    """An implant's rules, given whether the patient has an active pump and their latest pump: the
    unsaved pump, or a field error. The patient's move to implanted is the caller's."""
    if has_active_pump:
        fail("patient", "This patient already has an active pump; record a replacement instead.")
    if patient.status not in IMPLANTABLE_FROM:
        fail(
            "patient",
            f"A pump can be implanted in a candidate (or explanted) patient, not one who is "
            f"{patient.get_status_display().lower()}.",
        )
    pump = _build(patient, implant_date, fields)
    _check_dates(pump, patient)
    if previous is not None and previous.explant_date and implant_date < previous.explant_date:
        fail("implant_date", "A new pump cannot be implanted before the previous one was explanted.")
    if patient.status_changed_on and implant_date < patient.status_changed_on:
        fail(
            "implant_date",
            f"The implant cannot be dated before the patient became {patient.get_status_display().lower()} "
            f"({patient.status_changed_on}).",
        )
    return pump


@transaction.atomic
def implant_pump(*, patient: Patient, implant_date: dt.date, by=None, **fields) -> Pump:
    """First implant (or re-implant): the patient becomes implanted in the same transaction."""
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    pump = checked_implant(
        patient,
        implant_date=implant_date,
        has_active_pump=Pump.objects.filter(patient=patient, explant_date__isnull=True).exists(),
        previous=Pump.objects.filter(patient=patient).order_by("-implant_date").first(),
        **fields,
    )
    validated_save(pump, by=by)
    change_status(patient=patient, to_status=PatientStatus.IMPLANTED, on=implant_date, reason="Pump implanted", by=by)
    return pump


def checked_replacement(
    pump: Pump, *, implant_date: dt.date, reason: str, last_refill: Refill | None, **fields
) -> Pump:
    """A replacement's rules, given the old pump's latest refill: the unsaved successor with ``pump``
    marked explanted (unsaved too), or a field error."""
    if pump.explant_date is not None:
        fail("pump", "This pump has already been explanted.")
    require_status(pump.patient, {PatientStatus.IMPLANTED}, "a pump is replaced only in an implanted patient")
    if implant_date < pump.implant_date:
        fail("implant_date", "The replacement cannot be implanted before the pump it replaces.")
    if last_refill and last_refill.performed_at.astimezone(pump.patient.site.zone).date() > implant_date:
        fail("implant_date", "The old pump has a refill recorded after this date.")
    pump.explant_date = implant_date
    pump.explant_reason = reason
    for name in ("manufacturer", "model", "reservoir_volume_ml", "alarm_volume_ml", "catheter_tip_level"):
        fields.setdefault(name, getattr(pump, name))
    new = _build(pump.patient, implant_date, fields)
    new.replaces = pump
    _check_dates(new, pump.patient)
    return new


@transaction.atomic
def replace_pump(
    *, pump: Pump, implant_date: dt.date, reason: str = "Battery end / elective replacement", by=None, **fields
) -> Pump:
    """Explant ``pump`` and implant its successor on the same day; the chain keeps ``replaces``."""
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
    new = checked_replacement(
        pump,
        implant_date=implant_date,
        reason=reason,
        last_refill=Refill.objects.filter(pump=pump).order_by("-performed_at").first(),
        **fields,
    )
    validated_save(pump, by=by)
    validated_save(new, by=by)
    recompute_schedule(pump.patient)
    return new


def checked_explant(pump: Pump, *, explant_date: dt.date, reason: str) -> Pump:
    """An explant's rules: ``pump`` marked explanted (unsaved), or a field error. The patient's move
    to explanted is the caller's."""
    if pump.explant_date is not None:
        fail("explant_date", "This pump has already been explanted.")
    require_status(
        pump.patient, EXPLANTABLE_FROM, "an explant is recorded while implanted or after the therapy was discontinued"
    )
    if not reason.strip():
        fail("explant_reason", "Give the reason for the explant.")
    if explant_date > site_today(pump.patient.site):
        fail("explant_date", "The explant date cannot be in the future.")
    if explant_date < pump.implant_date:
        fail("explant_date", "The explant date cannot be before the implant date.")
    pump.explant_date = explant_date
    pump.explant_reason = reason
    return pump


@transaction.atomic
def explant_pump(*, pump: Pump, explant_date: dt.date, reason: str, by=None) -> Pump:
    """Remove the active pump without a successor: the patient becomes explanted, nothing is due."""
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
    validated_save(checked_explant(pump, explant_date=explant_date, reason=reason), by=by)
    if pump.patient.status == PatientStatus.IMPLANTED:
        change_status(patient=pump.patient, to_status=PatientStatus.EXPLANTED, on=explant_date, reason=reason, by=by)
    else:
        recompute_schedule(pump.patient)
    return pump


@transaction.atomic
def update_pump(*, pump: Pump, by=None, **fields) -> Pump:
    """Correct a pump's documented details (reservoir, alarm volume, ERI date...)."""
    unknown = set(fields) - PUMP_FIELDS - {"implant_date"}
    if unknown:
        raise TypeError(f"unknown pump fields: {sorted(unknown)}")
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
    for name, value in fields.items():
        setattr(pump, name, value)
    _check_dates(pump, pump.patient)
    biggest = Refill.objects.filter(pump=pump).order_by("-volume_after_ml").values_list("volume_after_ml", flat=True)
    if biggest and Decimal(biggest[0]) > pump.reservoir_volume_ml:
        fail("reservoir_volume_ml", f"A refill of {biggest[0]} mL is recorded; the reservoir cannot be smaller.")
    first = Refill.objects.filter(pump=pump).order_by("performed_at").first()
    if first and first.performed_at.astimezone(pump.patient.site.zone).date() < pump.implant_date:
        fail("implant_date", "A refill is recorded before this implant date.")
    validated_save(pump, by=by)
    recompute_schedule(pump.patient)
    return pump
