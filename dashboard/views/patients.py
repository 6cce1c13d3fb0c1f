"""Patients: the searchable list, registration, the patient page, details, status and contacts."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.utils import timezone

from audit.log import recent_viewers, record_view
from audit.models import PatientAccess
from dashboard import forms
from dashboard.views.shared import (
    STATUS_LABELS,
    clinical_required,
    now_to_the_minute,
    patient_form,
    patient_view,
)
from registry import selectors, services
from registry.models import DoseChange, FollowUp, Patient, PatientStatus
from registry.roles import Role, patients_for, role_of, sites_for
from registry.selectors.paging import CountingPaginator
from registry.services import site_today
from registry.services.pumps import EXPLANTABLE_FROM, IMPLANTABLE_FROM
from reporting.charts import reservoir_chart


@clinical_required
def patient_list(request):
    form = forms.PatientSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.search_patients(
        patients_for(request.user),
        query=filters.get("q", ""),
        status=filters.get("status", ""),
        diagnosis=filters.get("indication", ""),
    )
    asked = request.GET.get("page")
    page = CountingPaginator(qs, 50, asked=asked).get_page(asked)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "status_labels": STATUS_LABELS}
    if request.htmx:
        return render(request, "dashboard/partials/patient_rows.html", context)
    return render(request, "dashboard/patient_list.html", context)


@clinical_required
def patient_create(request):
    sites = sites_for(request.user)
    form = forms.PatientForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        site, diagnosis = data.pop("site"), data.pop("diagnosis")
        try:
            patient = services.create_patient(site=site, by=request.user, **data)
            if diagnosis:
                services.add_indication(patient=patient, diagnosis=diagnosis, by=request.user)
        except (ValidationError, IntegrityError) as error:
            forms.apply_service_errors(form, error)
        else:
            messages.success(request, f"{patient.given_name} {patient.family_name} registered.")
            return redirect("patient", pk=patient.pk)
    return render(request, "dashboard/form.html", {"form": form, "title": "New patient", "patient": None})


@patient_view(load=selectors.patient_detail)
def patient_detail(request, patient: Patient):
    pump = patient.active_pump
    curve = selectors.patient_reservoir_curve(patient)
    chart = current_dose = None
    if curve is not None:
        zone = patient.site.zone
        markers = {"Today": timezone.now()}
        for label, day in (("Refill due", patient.next_refill_due), ("Alarm date", patient.alarm_date)):
            if day:
                markers[label] = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        chart = reservoir_chart(
            curve.points, reservoir_ml=curve.reservoir_ml, alarm_ml=curve.alarm_ml, markers=markers, zone=zone
        )
        since_refill = DoseChange.objects.filter(pump=pump, effective_at__gt=curve.refill.performed_at)
        latest_change = since_refill.order_by("-effective_at").first()
        current_dose = latest_change.daily_dose_mcg if latest_change else curve.refill.daily_dose_mcg
    context = {
        "patient": patient,
        "pump": pump,
        "current_dose": current_dose,
        "changes": selectors.patient_changes(patient),
        "contacts": patient.recent_contacts,
        "refill_status": selectors.patient_refill_status(patient),
        "status_labels": STATUS_LABELS,
        "curve": curve,
        "chart": chart,
        "timeline": selectors.patient_timeline(patient),
        "open_follow_ups": [
            f for f in patient.follow_ups.all() if f.status in (FollowUp.Status.SCHEDULED, FollowUp.Status.MISSED)
        ],
        "refill_visit": next(iter(patient.open_refill_visits), None),
        "today": site_today(patient.site),
        "goals": list(patient.goals.all()),
        "open_complications": list(patient.complications.filter(resolved_on__isnull=True)),
        "can_implant": pump is None and patient.status in IMPLANTABLE_FROM,
        # The same statuses the services accept: no button leads to a refusal.
        "can_refill": pump is not None and patient.status == PatientStatus.IMPLANTED,
        "can_explant": pump is not None and patient.status in EXPLANTABLE_FROM,
        "can_change_status": bool(services.allowed_next_statuses(patient)),
        "primary_indication": next((i for i in patient.indications.all() if i.is_primary), None),
    }
    record_view(request, patient.pk, PatientAccess.Channel.PAGE)
    if role_of(request.user) == Role.ADMINISTRATOR:
        context["viewed_by"] = recent_viewers(patient.pk)
    return render(request, "dashboard/patient_detail.html", context)


patient_edit = patient_form(
    forms.PatientEditForm,
    services.update_patient,
    title="Edit patient details",
    success="Patient details saved; the change is in the patient's history.",
    form_kwargs=lambda request, patient: {"site": patient.site},
    initial=lambda patient: {
        **{name: getattr(patient, name) for name in forms.PatientEditForm.model_fields},
        "primary_clinician": patient.primary_clinician,
    },
)
status_change = patient_form(
    forms.StatusChangeForm,
    services.change_status,
    title="Change program status",
    success=lambda change: f"Status changed to {change.get_to_status_display().lower()}.",
    form_kwargs=lambda request, patient: {"patient": patient, "allowed": services.allowed_next_statuses(patient)},
)
contact_create = patient_form(
    forms.ContactForm,
    services.log_contact,
    title="Log a call or message",
    success="Contact logged.",
    initial=lambda patient: {"contacted_at": now_to_the_minute()},
    intro=lambda patient: " ".join(filter(None, [patient.guardian_name, patient.contact_phone, patient.contact_email])),
)
