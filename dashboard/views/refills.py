"""Refills: recording one with its live preview, booking, moving and cancelling the refill visit,
dose changes, and marking a refill or dose change as entered in error."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard import forms
from dashboard.views.shared import (
    active_pump_or_404,
    local_minute,
    next_due_sentence,
    now_to_the_minute,
    patient_form,
    patient_view,
)
from registry import scheduling, services
from registry.models import DoseChange, Patient, Refill, RefillAppointment
from registry.roles import sites_for
from registry.services import site_today

MARKED = "marked as entered in error; it stays on the timeline."


def _refill_preview(patient, pump, form) -> dict:
    """The schedule the refill would give and its warnings, or the reasons it cannot be computed."""
    if not form.is_valid():
        return {"preview_errors": forms.errors_in_words(form, form.errors)}
    data = form.cleaned_data
    try:
        Refill(pump=pump, performed_at=data["performed_at"], volume_after_ml=data["volume_after_ml"]).clean()
        schedule = services.preview_refill(pump=pump, **form.preview_kwargs())
    except ValidationError as error:
        return {"preview_errors": forms.errors_in_words(form, error.message_dict)}
    unusual = (
        {}
        if data.get("confirmed")
        else services.unusual_refill_values(
            pump=pump,
            performed_at=data["performed_at"],
            volume_after_ml=data["volume_after_ml"],
            concentration_mcg_per_ml=data["concentration_mcg_per_ml"],
            daily_dose_mcg=data["daily_dose_mcg"],
        )
    )
    discrepancy = scheduling.residual_discrepancy(
        volume_removed_ml=data.get("volume_removed_ml") or 0,
        expected_residual_ml=data.get("expected_residual_ml"),
        tolerance_ml=patient.site.residual_tolerance_ml,
    )
    return {
        "preview": schedule,
        "to_confirm": forms.errors_in_words(form, {field: [message] for field, message in unusual.items()}),
        "discrepancy": discrepancy,
        "tolerance": patient.site.residual_tolerance_ml,
        "volume_removed": data.get("volume_removed_ml") or 0,
        "expected_residual": data.get("expected_residual_ml"),
    }


@patient_view
def refill_create(request, patient):
    """Record a refill; "Preview" (or htmx as the fields change) shows the next due date first."""
    pump = active_pump_or_404(patient)
    last = pump.refills.order_by("-performed_at").first()
    context = {"patient": patient, "pump": pump, "last_refill": last, "title": "Record a refill"}
    if request.method == "POST":
        form = forms.RefillForm(request.POST)
        if request.POST.get("action") == "preview":
            context.update(_refill_preview(patient, pump, form))
        elif form.is_valid():
            try:
                refill = services.record_refill(pump=pump, by=request.user, **form.service_kwargs())
            except (ValidationError, IntegrityError) as error:
                forms.apply_service_errors(form, error)
            else:
                messages.success(request, f"Refill recorded. {next_due_sentence(patient.pk)}")
                if refill.residual_discrepancy:
                    messages.warning(
                        request,
                        f"Residual discrepancy flagged for clinical review: removed {refill.volume_removed_ml} mL, "
                        f"expected {refill.expected_residual_ml} mL.",
                    )
                return redirect("patient", pk=patient.pk)
    else:
        initial = {"performed_at": now_to_the_minute(), "volume_after_ml": pump.reservoir_volume_ml}
        if last is not None:
            initial.update(
                concentration_mcg_per_ml=last.concentration_mcg_per_ml,
                daily_dose_mcg=pump.dose_changes.in_cycle(last.performed_at)
                .order_by("-effective_at")
                .values_list("daily_dose_mcg", flat=True)
                .first()
                or last.daily_dose_mcg,
            )
        form = forms.RefillForm(initial=initial)
    context["form"] = form
    return render(request, "dashboard/refill_form.html", context)


@patient_view
@require_POST
def refill_preview(request, patient):
    """htmx: the preview box of the refill form, re-rendered as the fields change."""
    pump = active_pump_or_404(patient)
    context = {"patient": patient, **_refill_preview(patient, pump, forms.RefillForm(request.POST))}
    return render(request, "dashboard/partials/refill_preview.html", context)


dose_change_create = patient_form(
    forms.DoseChangeForm,
    services.record_dose_change,
    record=active_pump_or_404,
    bind="pump",
    title="Record a dose change",
    success=lambda change: f"Dose change recorded. {next_due_sentence(change.pump.patient_id)}",
    initial=lambda pump: {"effective_at": now_to_the_minute()},
)


refill_entered_in_error = patient_form(
    forms.EnteredInErrorForm,
    services.mark_refill_entered_in_error,
    record=lambda patient, refill_id: get_object_or_404(Refill, pk=refill_id, pump__patient=patient),
    bind="refill",
    title=lambda refill: f"Mark the refill of {local_minute(refill.performed_at)} as entered in error",
    success=lambda refill: f"Refill {MARKED} {next_due_sentence(refill.pump.patient_id)}",
    intro=lambda refill: (
        f"{refill.volume_after_ml} mL at {refill.concentration_mcg_per_ml} mcg/mL, "
        f"{refill.daily_dose_mcg} mcg/day. Notes: {refill.notes or 'none'}."
    ),
)
dose_change_entered_in_error = patient_form(
    forms.EnteredInErrorForm,
    services.mark_dose_change_entered_in_error,
    record=lambda patient, change_id: get_object_or_404(DoseChange, pk=change_id, pump__patient=patient),
    bind="change",
    title=lambda change: f"Mark the dose change of {local_minute(change.effective_at)} as entered in error",
    success=lambda change: f"Dose change {MARKED} {next_due_sentence(change.pump.patient_id)}",
    intro=lambda change: f"{change.daily_dose_mcg} mcg/day.",
)


def _due_intro(patient: Patient) -> str:
    if patient.next_refill_due is None:
        return "No refill is scheduled yet for this patient."
    return (
        f"Refill due {patient.next_refill_due:%a %d %b %Y}; low-reservoir alarm date "
        f"{patient.alarm_date:%a %d %b %Y}. A visit after the due date is flagged on the worklist; "
        "one on or after the alarm date needs your confirmation."
    )


def _booked(visit: RefillAppointment) -> str:
    when = visit.starts_at.astimezone(visit.site.zone)
    text = f"Refill visit booked for {when:%a %d %b %Y %H:%M} at {visit.site.name}."
    due = visit.patient.next_refill_due
    if due is not None and visit.starts_on > due:
        text += f" Note: this is after the refill due date ({due:%d %b %Y})."
    return text


def _first_day(patient: Patient) -> dt.date:
    today = site_today(patient.site)
    return patient.next_refill_due if patient.next_refill_due and patient.next_refill_due >= today else today


refill_visit_book = patient_form(
    forms.RefillVisitForm,
    services.book_refill_visit,
    title="Book a refill visit",
    success=_booked,
    form_kwargs=lambda request, patient: {"sites": sites_for(request.user)},
    initial=lambda patient: {"day": _first_day(patient), "time": dt.time(9), "site": patient.site},
    intro=_due_intro,
)


def _open_visit(patient, visit_id: int) -> RefillAppointment:
    visits = patient.refill_appointments.select_related("site", "patient")
    return get_object_or_404(visits, pk=visit_id, status=RefillAppointment.Status.BOOKED)


def _local_start(visit: RefillAppointment) -> dt.datetime:
    return visit.starts_at.astimezone(visit.site.zone)


refill_visit_move = patient_form(
    forms.RefillVisitForm,
    services.move_refill_visit,
    record=_open_visit,
    bind="visit",
    title=lambda visit: f"Move the refill visit of {_local_start(visit):%a %d %b %Y %H:%M}",
    success=_booked,
    form_kwargs=lambda request, visit: {"sites": sites_for(request.user)},
    initial=lambda visit: {
        "day": _local_start(visit).date(),
        "time": _local_start(visit).time(),
        "site": visit.site,
        "note": visit.note,
    },
    intro=lambda visit: _due_intro(visit.patient),
)
refill_visit_cancel = patient_form(
    forms.CancelRefillVisitForm,
    services.cancel_refill_visit,
    record=_open_visit,
    bind="visit",
    title=lambda visit: f"Cancel the refill visit of {_local_start(visit):%a %d %b %Y %H:%M}",
    success="Refill visit cancelled. The refill is still due: book another visit.",
)
