"""Patients registered with their whole past at once (the program import).

``NewPatient`` checks each record by the rule functions of its service (``new_patient``,
``checked_status_change``, ``checked_implant``, ``checked_replacement``, ``checked_explant``,
``checked_refill``, ``checked_dose_change``, and ``PatientRecordBatch`` for indications, visits,
goals and reviews: the same errors) against the patient's records held in memory, and works out
the stored schedule by the same rules; nothing is read from the database. ``write_new_patients``
then writes many checked patients in one transaction, each table in bulk with its history rows.
Uniqueness against other patients (MRN, pump serial) is the caller's to check, and the database's.
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from registry import scheduling
from registry.models import (
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    Site,
    StatusChange,
)
from registry.services.base import bulk_saved, validated, validation_errors
from registry.services.constraints import constraint_message
from registry.services.patients import checked_status_change, new_patient
from registry.services.pumps import checked_explant, checked_implant, checked_replacement
from registry.services.record_batches import PatientRecordBatch
from registry.services.refills import StoredRecords, checked_dose_change, checked_refill, restated_refill_facts
from registry.services.schedule import cycle_schedule, projection_refused_on, schedule_columns, site_rules

# Relations to objects not written yet (or loaded by the caller): not checked against the database.
_PATIENT_RELATIONS = ["site"]
_PUMP_RELATIONS = ["patient", "replaces"]
_RECORD_RELATIONS = ["pump", "site", "performed_by", "documented_by"]


def _as_stored(instance):
    """``instance``'s decimals as the database gives them back (40 as 40.00): read in messages."""
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if isinstance(field, models.DecimalField) and isinstance(value, Decimal):
            setattr(instance, field.attname, value.quantize(Decimal(1).scaleb(-field.decimal_places)))
    return instance


class MemoryRecords(StoredRecords):
    """The refill rules' questions answered from a new patient's pump records, held in memory."""

    def __init__(self, site: Site, rules: scheduling.SiteRules):
        super().__init__(site)
        self.rules = rules
        self.refills: dict[int, list[Refill]] = defaultdict(list)  # by pump object, in time order
        self.changes: dict[int, list[DoseChange]] = defaultdict(list)
        # Each cycle's schedule, by its refill, until a record is kept or taken back: the check after
        # a refill and the next refill's timeliness read the same one.
        self.cycles: dict[int, scheduling.RefillSchedule] = {}

    def of(self, pump: Pump | None) -> list[Refill]:
        return self.refills[id(pump)] if pump is not None else []

    def latest_at(self, pump: Pump) -> dt.datetime | None:
        refills = self.of(pump)
        return refills[-1].performed_at if refills else None

    def previous(self, pump: Pump, before: dt.datetime) -> Refill | None:
        refills = self.of(pump)
        at = bisect.bisect_left(refills, before, key=lambda r: r.performed_at)
        if at:
            return refills[at - 1]
        replaced = self.of(pump.replaces)
        return replaced[-1] if replaced else None

    def cycle_schedule(self, refill: Refill) -> scheduling.RefillSchedule:
        if id(refill) not in self.cycles:
            self.cycles[id(refill)] = self._cycle_schedule(refill)
        return self.cycles[id(refill)]

    def _cycle_schedule(self, refill: Refill) -> scheduling.RefillSchedule:
        refills = self.of(refill.pump)
        at = bisect.bisect_right(refills, refill.performed_at, key=lambda r: r.performed_at)
        next_at = refills[at].performed_at if at < len(refills) else None
        changes = [
            c
            for c in self.changes[id(refill.pump)]
            if scheduling.changes_in_cycle(c.effective_at, refill.performed_at, next_at)
        ]
        return cycle_schedule(refill, refill.pump, self.rules, changes)

    def site_on(self, patient: Patient, day: dt.date) -> int:
        return self.site.pk  # a new patient has been at one site

    def site_by_id(self, site_id: int) -> Site:
        return self.site

    def forget(self, record: Refill | DoseChange) -> None:
        """Take back a record ``keep`` held (its service refused it after the checks)."""
        kept = self.refills if isinstance(record, Refill) else self.changes
        kept[id(record.pump)].remove(record)
        self.cycles.clear()

    def keep(self, record: Refill | DoseChange) -> None:
        """Refuse ``record`` as ``validated_save`` would, or hold it as recorded."""
        if isinstance(record, Refill):
            record.site = self.site
            kept, instant, name = self.refills[id(record.pump)], "performed_at", "refill_unique_time_per_pump"
        else:
            kept, instant, name = self.changes[id(record.pump)], "effective_at", "dose_change_unique_time_per_pump"
        errors = validation_errors(record, _RECORD_RELATIONS, unique=False)  # the time's: just below
        when = operator.attrgetter(instant)
        at = when(record)
        if instant not in errors and any(when(r) == at for r in kept):
            errors.setdefault(NON_FIELD_ERRORS, []).append(ValidationError(constraint_message(type(record), name)))
        if errors:
            raise ValidationError(errors)
        kept.insert(bisect.bisect_right(kept, at, key=when), record)
        self.cycles.clear()


class NewPatient:
    """One patient and their past, each record checked as its service checks it, held until written."""

    def __init__(self, site: Site, *, by=None, rules: scheduling.SiteRules | None = None):
        self.site, self.by = site, by
        self.rules = rules or site_rules(site)
        self.pump_records = MemoryRecords(site, self.rules)
        self.patient: Patient | None = None
        self.status_changes: list[StatusChange] = []
        self.pumps: list[Pump] = []
        self.refills: list[Refill] = []
        self.dose_changes: list[DoseChange] = []
        self.records: PatientRecordBatch | None = None  # indications, follow-ups, goals, reviews

    def register(self, **values) -> Patient:
        """``create_patient``'s rules; the MRN's uniqueness is the caller's to check."""
        patient, first = new_patient(site=self.site, by=self.by, **values)
        validated(patient, _PATIENT_RELATIONS, unique=False)
        self.patient = patient
        self.status_changes.append(first)
        self.records = PatientRecordBatch(patient)
        return patient

    def active_pump(self) -> Pump | None:
        return next((p for p in self.pumps if p.explant_date is None), None)

    def change_status(self, *, to_status: str, on: dt.date, reason: str) -> StatusChange:
        """``change_status``'s rules."""
        patient = self.patient
        before = patient.status, patient.status_changed_on
        try:
            change = checked_status_change(
                patient,
                to_status=to_status,
                on=on,
                reason=reason,
                has_active_pump=self.active_pump() is not None,
                by=self.by,
            )
            validated(patient, _PATIENT_RELATIONS, unique=False)
        except ValidationError:
            patient.status, patient.status_changed_on = before
            raise
        self.status_changes.append(change)
        return change

    def implant(self, *, implant_date: dt.date, **fields) -> Pump:
        """``implant_pump``'s rules: the patient becomes implanted with it."""
        previous = max(self.pumps, key=lambda p: p.implant_date, default=None)
        pump = checked_implant(
            self.patient,
            implant_date=implant_date,
            has_active_pump=self.active_pump() is not None,
            previous=previous,
            **fields,
        )
        _as_stored(validated(pump, _PUMP_RELATIONS, unique=False))
        self.pumps.append(pump)
        try:
            self.change_status(to_status=PatientStatus.IMPLANTED, on=implant_date, reason="Pump implanted")
        except ValidationError:
            self.pumps.remove(pump)
            raise
        return pump

    def replace(self, *, pump: Pump, implant_date: dt.date, reason: str, **fields) -> Pump:
        """``replace_pump``'s rules."""
        refills = self.pump_records.of(pump)
        before = pump.explant_date, pump.explant_reason
        try:
            new = checked_replacement(
                pump, implant_date=implant_date, reason=reason, last_refill=refills[-1] if refills else None, **fields
            )
            validated(pump, _PUMP_RELATIONS, unique=False)
            _as_stored(validated(new, _PUMP_RELATIONS, unique=False))
        except ValidationError:
            pump.explant_date, pump.explant_reason = before
            raise
        self.pumps.append(new)
        return new

    def explant(self, *, pump: Pump, explant_date: dt.date, reason: str) -> Pump:
        """``explant_pump``'s rules: an implanted patient becomes explanted."""
        before = pump.explant_date, pump.explant_reason
        try:
            validated(checked_explant(pump, explant_date=explant_date, reason=reason), _PUMP_RELATIONS, unique=False)
            if self.patient.status == PatientStatus.IMPLANTED:
                self.change_status(to_status=PatientStatus.EXPLANTED, on=explant_date, reason=reason)
        except ValidationError:
            pump.explant_date, pump.explant_reason = before
            raise
        return pump

    def refill(self, *, pump: Pump, **values) -> Refill:
        """``record_refill``'s rules."""
        refill = checked_refill(pump, self.pump_records, by=self.by, **values)
        self.pump_records.keep(refill)
        self._projected_after(refill, self.refills)
        return refill

    def dose_change(self, *, pump: Pump, **values) -> DoseChange:
        """``record_dose_change``'s rules."""
        change = checked_dose_change(pump, by=self.by, **values)
        self.pump_records.keep(change)
        self._projected_after(change, self.dose_changes)
        return change

    def _projected_after(self, record: Refill | DoseChange, records: list) -> None:
        """Keep ``record`` in ``records`` as its service saves it: refused on the daily dose when the
        patient's schedule cannot be projected after it."""
        try:
            with projection_refused_on("daily_dose_mcg"):
                self._schedule(refuse_unprojectable=True)
        except ValidationError:
            self.pump_records.forget(record)
            raise
        records.append(record)

    def _schedule(self, *, refuse_unprojectable: bool = False) -> dict:
        """What ``recompute_schedule`` would store from the records held now."""
        pump = self.active_pump()
        refills = self.pump_records.of(pump)
        replaced = self.pump_records.of(pump.replaces) if pump is not None and not refills else []
        return schedule_columns(
            self.patient,
            pump,
            refills[-1] if refills else None,
            self.rules,
            cycle=self.pump_records.cycle_schedule,
            replaced_latest=replaced[-1] if replaced else None,
            refuse_unprojectable=refuse_unprojectable,
        )

    def finish(self) -> Patient:
        """The refills' facts restated in time order and the patient's stored schedule, as the services
        leave them after the last write."""
        refills = sorted(self.refills, key=lambda r: r.performed_at)
        if refills:
            restated_refill_facts(refills, refills[0].performed_at)
        for name, value in self._schedule().items():
            setattr(self.patient, name, value)
        return self.patient


@transaction.atomic
def write_new_patients(patients: list[NewPatient], *, by=None) -> None:
    """Write checked, finished new patients: each table in bulk with its history rows, parents first."""
    bulk_saved(Patient, [p.patient for p in patients], by=by)
    StatusChange.objects.bulk_create([c for p in patients for c in p.status_changes], batch_size=500)
    pending = [pump for p in patients for pump in p.pumps]
    while pending:  # a replacement after the pump it replaces, which gives it its id
        ready = [pump for pump in pending if pump.replaces is None or pump.replaces.pk is not None]
        bulk_saved(Pump, ready, by=by)
        pending = [pump for pump in pending if pump.pk is None]
    bulk_saved(Refill, [r for p in patients for r in p.refills], by=by)
    bulk_saved(DoseChange, [c for p in patients for c in p.dose_changes], by=by)
    records = [p.records for p in patients]
    bulk_saved(Indication, [i for r in records for i in r.new_indications], by=by)
    visits = [v for r in records for v in r.new_visits]
    for visit in visits:
        visit.site_id = visit.patient.site_id  # as ``FollowUp.save`` sets it
    bulk_saved(FollowUp, visits, by=by)
    bulk_saved(Goal, [g for r in records for g in r.new_goals], by=by)
    bulk_saved(GoalReview, [v for r in records for v in r.new_reviews], by=by)  # their goals' ids now given
