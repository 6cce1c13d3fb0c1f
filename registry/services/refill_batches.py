"""A patient's history of refills and dose changes recorded at once (the program import).

Each record is checked by the rules of ``record_refill`` and ``record_dose_change`` (the same
functions, the same errors, in the order given) against the pump records read once and kept in
memory as the batch grows; then all are written in bulk with their history rows, the later refills'
facts restated and the patient's schedule recomputed once.
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
from collections import defaultdict

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from registry import scheduling
from registry.models import DoseChange, Patient, Pump, Refill, Site
from registry.services.appointments import Booking, close_visit_for_refill
from registry.services.base import bulk_saved, validation_errors
from registry.services.patients import site_on, site_stays
from registry.services.refills import StoredRecords, checked_dose_change, checked_refill, restate_refill_facts
from registry.services.reminders import cancel_obsolete
from registry.services.schedule import cycle_schedule, projection_refused_on, recompute_schedule, site_rules

# Checked against the pump and site the batch loaded itself: no query per record for them.
_LOADED = ["pump", "site", "performed_by", "documented_by"]


def _unique_message(model, name: str) -> str:
    return next(c for c in model._meta.constraints if c.name == name).get_violation_error_message()


class KeptRecords(StoredRecords):
    """The refill rules' questions answered from one patient's pump records held in memory."""

    def __init__(self, patient: Patient):
        super().__init__(patient.site)
        self.rules = site_rules(patient.site)
        self.stays = site_stays(patient)
        self.refills: dict[int, list[Refill]] = {}  # by pump id, in time order
        self.changes: dict[int, list[DoseChange]] = defaultdict(list)
        self.sites: dict[int, Site] = {self.site.pk: self.site}

    def _refills(self, pump_id: int) -> list[Refill]:
        if pump_id not in self.refills:
            self.refills[pump_id] = list(
                Refill.objects.filter(pump_id=pump_id).select_related("pump", "site").order_by("performed_at")
            )
            self.changes[pump_id] = list(DoseChange.objects.filter(pump_id=pump_id).order_by("effective_at", "id"))
        return self.refills[pump_id]

    def latest_at(self, pump: Pump) -> dt.datetime | None:
        refills = self._refills(pump.pk)
        return refills[-1].performed_at if refills else None

    def previous(self, pump: Pump, before: dt.datetime) -> Refill | None:
        refills = self._refills(pump.pk)
        at = bisect.bisect_left(refills, before, key=lambda r: r.performed_at)
        if at:
            return refills[at - 1]
        if pump.replaces_id is not None:
            replaced = self._refills(pump.replaces_id)
            return replaced[-1] if replaced else None
        return None

    def cycle_schedule(self, refill: Refill) -> scheduling.RefillSchedule:
        refills = self._refills(refill.pump_id)
        at = bisect.bisect_right(refills, refill.performed_at, key=lambda r: r.performed_at)
        next_at = refills[at].performed_at if at < len(refills) else None
        changes = [
            c
            for c in self.changes[refill.pump_id]
            if scheduling.changes_in_cycle(c.effective_at, refill.performed_at, next_at)
        ]
        return cycle_schedule(refill, refill.pump, self.rules, changes)

    def site_on(self, patient: Patient, day: dt.date) -> int:
        return site_on(patient, day, self.stays)

    def site_by_id(self, site_id: int) -> Site:
        if site_id not in self.sites:
            self.sites[site_id] = Site.objects.get(pk=site_id)
        return self.sites[site_id]

    def keep(self, record: Refill | DoseChange) -> None:
        """Refuse ``record`` as ``validated_save`` would, or hold it as recorded."""
        errors = validation_errors(record, _LOADED)
        kept = self._refills(record.pump_id)  # loads the pump's dose changes too
        if isinstance(record, Refill):
            instant, name = "performed_at", "refill_unique_time_per_pump"
        else:
            kept, instant, name = self.changes[record.pump_id], "effective_at", "dose_change_unique_time_per_pump"
        when = operator.attrgetter(instant)
        at = when(record)
        if instant not in errors and any(when(r) == at for r in kept):
            errors.setdefault(NON_FIELD_ERRORS, []).append(ValidationError(_unique_message(type(record), name)))
        if errors:
            raise ValidationError(errors)
        kept.insert(bisect.bisect_right(kept, at, key=when), record)


class PumpRecordBatch:
    """Refills and dose changes of one patient, checked one by one, then written together by ``save``."""

    def __init__(self, patient: Patient, *, by=None):
        self.patient, self.by = patient, by
        self.records = KeptRecords(patient)
        self.pumps: dict[int, Pump] = {}
        self.new_refills: list[Refill] = []
        self.new_changes: list[DoseChange] = []

    def _pump(self, pump: Pump) -> Pump:
        if pump.pk not in self.pumps:
            self.pumps[pump.pk] = Pump.objects.select_for_update().select_related("patient__site").get(pk=pump.pk)
        return self.pumps[pump.pk]

    def refill(self, *, pump: Pump, **values) -> Refill:
        """``record_refill``'s checks and errors; the refill is written by ``save``."""
        refill = checked_refill(self._pump(pump), self.records, by=self.by, **values)
        self.records.keep(refill)
        self.new_refills.append(refill)
        return refill

    def dose_change(self, *, pump: Pump, **values) -> DoseChange:
        """``record_dose_change``'s checks and errors; the change is written by ``save``."""
        change = checked_dose_change(self._pump(pump), by=self.by, **values)
        self.records.keep(change)
        self.new_changes.append(change)
        return change

    @transaction.atomic
    def save(self) -> None:
        """Write the checked records with their history, then what each typed entry does after its save."""
        # As the pumps were locked: the caller's patient may predate its implant's status change.
        patient = next(iter(self.pumps.values())).patient if self.pumps else self.patient
        if not (self.new_changes or self.new_refills):
            return
        bulk_saved(DoseChange, self.new_changes, by=self.by)
        bulk_saved(Refill, self.new_refills, by=self.by)
        if self.new_refills:
            restate_refill_facts(patient, since=min(r.performed_at for r in self.new_refills))
        with projection_refused_on("daily_dose_mcg"):
            recompute_schedule(patient, refuse_unprojectable=True)
        if not self.new_refills:
            return
        if patient.refill_appointments.filter(status=Booking.BOOKED).exists():
            for refill in sorted(self.new_refills, key=lambda r: r.performed_at):
                close_visit_for_refill(refill, patient, by=self.by)
        cancel_obsolete(patient=patient)
