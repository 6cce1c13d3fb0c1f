"""Patient writes and the program-status state machine (docs/architecture.md, "Domain model")."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction

from registry.models import (
    ALLOWED_TRANSITIONS,
    PATIENT_DETAIL_FIELDS,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    Site,
    SiteStay,
    StatusChange,
)
from registry.services.base import fail, validated_save
from registry.services.schedule import recompute_schedule, site_today

PATIENT_FIELDS = {*PATIENT_DETAIL_FIELDS, "primary_clinician"}


def _new_study_id() -> str:
    # Random, so research exports carry an identifier that says nothing about the MRN.
    return "ITB-" + secrets.token_hex(5).upper()


def new_patient(
    *,
    site: Site,
    by=None,
    status: str = PatientStatus.REFERRED,
    status_on: dt.date | None = None,
    referred_on: dt.date | None = None,
    **fields,
) -> tuple[Patient, StatusChange]:
    """A patient's rules before it is saved: the unsaved patient and the first row of their status
    history, or a field error. ``validated``'s checks are the caller's (its save, or the import's)."""
    unknown = set(fields) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    today = site_today(site)
    referred_on = referred_on or status_on or today
    on = status_on or referred_on
    patient = Patient(
        site=site,
        status=status,
        status_changed_on=on,
        referred_on=referred_on,
        study_id=_new_study_id(),
        **fields,
    )
    if patient.date_of_birth and patient.date_of_birth > today:
        fail("date_of_birth", "The date of birth cannot be in the future.")
    if referred_on > today:
        fail("referred_on", "The referral date cannot be in the future.")
    if patient.date_of_birth and referred_on < patient.date_of_birth:
        fail("referred_on", "The referral date cannot be before the date of birth.")
    if on < referred_on:
        fail("status_on", f"The status cannot begin before the referral ({referred_on}).")
    first = StatusChange(
        patient=patient,
        from_status="",
        to_status=status,
        changed_on=on,
        reason="Registered",
        changed_by=by if getattr(by, "pk", None) else None,
    )
    return patient, first


@transaction.atomic
def create_patient(
    *,
    site: Site,
    by=None,
    status: str = PatientStatus.REFERRED,
    status_on: dt.date | None = None,
    referred_on: dt.date | None = None,
    **fields,
) -> Patient:
    """Create a patient with the first row of their status history.

    ``referred_on`` (default: the day of ``status_on``, else today at the site) lets an existing
    program register a patient with their past; every later record may be dated back to it.
    """
    patient, first = new_patient(
        site=site, by=by, status=status, status_on=status_on, referred_on=referred_on, **fields
    )
    validated_save(patient, by=by)
    first.patient = patient  # now saved: its id
    first.save()
    recompute_schedule(patient)
    return patient


@transaction.atomic
def update_patient(*, patient: Patient, by=None, **fields) -> Patient:
    """Edit demographic and contact fields; site and status change only through their services."""
    unknown = set(fields) - PATIENT_FIELDS - {"referred_on"}
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    referred_on = fields.pop("referred_on", None) or patient.referred_on
    if referred_on != patient.referred_on:
        fail("referred_on", "The referral date is set at registration: the history is dated from it.")
    for name, value in fields.items():
        setattr(patient, name, value)
    if patient.date_of_birth and patient.date_of_birth > site_today(patient.site):
        fail("date_of_birth", "The date of birth cannot be in the future.")
    pumps = Pump.objects.filter(patient=patient).order_by("implant_date")
    first_implant = pumps.values_list("implant_date", flat=True).first()
    if patient.date_of_birth and first_implant and patient.date_of_birth > first_implant:
        fail("date_of_birth", f"The date of birth cannot be after the pump implant ({first_implant}).")
    if patient.date_of_birth and patient.date_of_birth > patient.referred_on:
        fail("date_of_birth", f"The date of birth cannot be after the referral ({patient.referred_on}).")
    return validated_save(patient, by=by)


def require_status(patient: Patient, allowed: set[str], what: str) -> None:
    """Refuse, on the ``pump`` field, a record that no longer applies at the patient's program status."""
    if patient.status not in allowed:
        fail("pump", f"{patient.given_name} {patient.family_name} is {patient.get_status_display().lower()}: {what}.")


def allowed_next_statuses(patient: Patient) -> list[str]:
    return sorted(ALLOWED_TRANSITIONS[PatientStatus(patient.status)])


def checked_status_change(
    patient: Patient, *, to_status: str, on: dt.date | None, reason: str, has_active_pump: bool, by=None
) -> StatusChange:
    """One allowed transition's rules: the unsaved history row, ``patient`` moved to the new status
    (unsaved too), or a field error."""
    if to_status not in PatientStatus.values:
        fail("to_status", f"“{to_status}” is not a program status.")
    allowed = ALLOWED_TRANSITIONS[PatientStatus(patient.status)]
    if to_status not in allowed:
        names = ", ".join(sorted(allowed)) or "none (final status)"
        fail("to_status", f"A patient cannot move from {patient.status} to {to_status}. Allowed: {names}.")
    today = site_today(patient.site)
    on = on or today
    if on > today:
        fail("on", "A status change cannot be dated in the future.")
    if patient.status_changed_on and on < patient.status_changed_on:
        fail("on", f"The change cannot be dated before the current status began ({patient.status_changed_on}).")
    if to_status == PatientStatus.IMPLANTED and not has_active_pump:
        fail("to_status", "Record the pump implant; the patient becomes implanted with it.")
    if to_status == PatientStatus.EXPLANTED and has_active_pump:
        fail("to_status", "Record the explant of the active pump; the patient becomes explanted with it.")
    change = StatusChange(
        patient=patient,
        from_status=patient.status,
        to_status=to_status,
        changed_on=on,
        reason=reason,
        changed_by=by if getattr(by, "pk", None) else None,
    )
    patient.status = to_status
    patient.status_changed_on = on
    return change


@transaction.atomic
def change_status(
    *, patient: Patient, to_status: str, on: dt.date | None = None, reason: str = "", by=None
) -> StatusChange:
    """Apply one allowed transition and write its dated history row in the same transaction."""
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    has_active_pump = Pump.objects.filter(patient=patient, explant_date__isnull=True).exists()
    change = checked_status_change(
        patient, to_status=to_status, on=on, reason=reason, has_active_pump=has_active_pump, by=by
    )
    change.save()
    validated_save(patient, by=by)
    recompute_schedule(patient)
    return change


@transaction.atomic
def move_patient(*, patient: Patient, to_site: Site, on: dt.date | None = None, by=None) -> SiteStay:
    """Move a patient's care to another site from ``on`` (default today): their history stays put.

    Events dated before ``on`` keep counting at the old site, events from ``on`` at the new one
    (``SiteStay``); refills already recorded from ``on`` onwards are re-attributed to the new site.
    """
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    if to_site.pk == patient.site_id:
        fail("to_site", f"The patient is already cared for at {patient.site}.")
    today = site_today(to_site)
    on = on or today
    if on > today:
        fail("on", "A move cannot be dated in the future.")
    current = SiteStay.objects.get(patient=patient, ended_on__isnull=True)
    if current.started_on is not None and on < current.started_on:
        fail("on", f"The move cannot be dated before the patient's previous move ({current.started_on}).")
    patient.site = to_site
    validated_save(patient, by=by)
    # The database's triggers closed the stay and opened the new one dated today; date them as told.
    SiteStay.objects.filter(pk=current.pk).update(ended_on=on)
    stay = SiteStay.objects.get(patient=patient, ended_on__isnull=True)
    stay.started_on = on
    stay.save(update_fields=["started_on"])
    first_instant = dt.datetime.combine(on, dt.time(), tzinfo=to_site.zone)
    Refill.objects.filter(pump__patient=patient, performed_at__gte=first_instant).update(site=to_site)
    from registry.services.refills import restate_refill_facts  # refills imports this module

    restate_refill_facts(patient, first_instant)
    recompute_schedule(patient)
    return stay


def site_stays(patient: Patient) -> list[tuple[dt.date | None, dt.date | None, int]]:
    """The patient's stays as (started_on, ended_on, site id), for ``site_on`` over many days."""
    return list(SiteStay.objects.filter(patient=patient).values_list("started_on", "ended_on", "site_id"))


def site_on(patient: Patient, day: dt.date, stays: list | None = None) -> int:
    """The id of the site the patient was cared for at on ``day`` (their current site by default)."""
    for started_on, ended_on, site_id in site_stays(patient) if stays is None else stays:
        if (started_on is None or started_on <= day) and (ended_on is None or ended_on > day):
            return site_id
    return patient.site_id
