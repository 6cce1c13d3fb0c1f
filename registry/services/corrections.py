"""Corrections that lose nothing: a refill or dose change entered in error is marked so, with a
reason, never deleted; every read leaves it out (``Refill.objects``), the schedule is recomputed
and the next refill's interval and timeliness are worked out again without it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from registry.models import DoseChange, Pump, Refill
from registry.services.base import fail, validated_save
from registry.services.refills import cycle_closed_by, previous_refill, restate_refill_facts
from registry.services.reminders import cancel_obsolete
from registry.services.schedule import recompute_schedule


def _mark(record, reason: str, by) -> None:
    if record.entered_in_error:
        fail("reason", "This record is already marked as entered in error.")
    if not reason.strip():
        fail("reason", "Say what was wrong with the record.")
    record.entered_in_error = True
    record.error_reason = reason.strip()
    record.error_marked_at = timezone.now()
    record.error_marked_by = by if getattr(by, "pk", None) else None
    validated_save(record, by=by)


def _restate_following(refill: Refill) -> None:
    """The refill after ``refill`` closed its cycle: now it closes the one before (or is a first fill)."""
    pump = refill.pump
    following = Refill.objects.filter(pump=pump, performed_at__gt=refill.performed_at).order_by("performed_at").first()
    if following is None:
        return
    following.due_date_at_refill, following.timeliness = cycle_closed_by(
        previous_refill(pump, following.performed_at), following.performed_on, pump.patient.site
    )
    following.save(update_fields=["due_date_at_refill", "timeliness"])


@transaction.atomic
def mark_refill_entered_in_error(*, refill: Refill, reason: str, by=None) -> Refill:
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=refill.pump_id)
    refill = Refill.all_objects.select_related("site").get(pk=refill.pk)
    _mark(refill, reason, by)
    patient = pump.patient
    restate_refill_facts(patient, since=refill.performed_at)
    _restate_following(refill)
    recompute_schedule(patient)
    cancel_obsolete(patient=patient)
    return refill


@transaction.atomic
def mark_dose_change_entered_in_error(*, change: DoseChange, reason: str, by=None) -> DoseChange:
    pump = Pump.objects.select_for_update().select_related("patient__site").get(pk=change.pump_id)
    change = DoseChange.all_objects.get(pk=change.pk)
    _mark(change, reason, by)
    recompute_schedule(pump.patient)
    cancel_obsolete(patient=pump.patient)
    return change
