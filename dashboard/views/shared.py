"""What every dashboard screen shares: the access decorators, the form-to-service round trip and
the sentences that say what is due next."""

from __future__ import annotations

import datetime as dt
from functools import partial, wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from dashboard import forms
from registry.models import Patient, Pump, RefillStatus, WorkStatus
from registry.roles import is_clinical, patients_for

# A worklist row's or a patient's refill status, in words (the patient list shows "none" too).
STATUS_LABELS = {
    WorkStatus.CRITICAL: "Critical",
    WorkStatus.NEEDS_ATTENTION: "Needs attention",
    WorkStatus.OVERDUE: "Overdue",
    WorkStatus.DUE: "Due",
    WorkStatus.UPCOMING: "Upcoming",
    WorkStatus.MISSED: "Missed",
    WorkStatus.NO_SHOW: "No-show",
    RefillStatus.NONE: "Nothing due",
}


def clinical_required(view):
    """Logged in with a clinical role; a reporting user sees no identifying data (403)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_clinical(request.user):
            raise PermissionDenied("Your role gives access to aggregate reports only.")
        return view(request, *args, **kwargs)

    return wrapper


def _with_site_and_clinician(patients, pk: int) -> Patient:
    return patients.select_related("site", "primary_clinician").get(pk=pk)


def patient_view(view=None, *, load=_with_site_and_clinician):
    """Load the patient from the user's own sites (404 otherwise), in the clinic's time zone.
    ``load(patients, pk)`` reads it (a page that shows more reads it all at once)."""
    if view is None:
        return partial(patient_view, load=load)

    @clinical_required
    @wraps(view)
    def wrapper(request, pk: int, *args, **kwargs):
        try:
            patient = load(patients_for(request.user), pk)
        except Patient.DoesNotExist as missing:
            raise Http404("No Patient matches the given query.") from missing
        with timezone.override(patient.site.zone):
            return view(request, patient, *args, **kwargs)

    return wrapper


def patient_form(
    form_class, service, *, title, success, record=None, bind="patient", initial=None, intro=None, form_kwargs=None
):
    """A form page of the URL's patient writing through ``service`` (refusals shown beside the fields).

    ``record(patient, **url_kwargs)`` loads what the service acts on (default: the patient), passed
    as ``bind``; ``title``, ``initial``, ``intro`` may be functions of it, ``form_kwargs`` of (request, it).
    """

    @patient_view
    def view(request, patient, **url_kwargs):
        target = record(patient, **url_kwargs) if record else patient
        extra = form_kwargs(request, target) if form_kwargs else {}
        if request.method == "POST":
            form = form_class(request.POST, **extra)
            if form.is_valid():
                try:
                    result = service(**{bind: target}, by=request.user, **form.service_kwargs())
                except (ValidationError, IntegrityError) as error:
                    forms.apply_service_errors(form, error)
                else:
                    messages.success(request, success(result) if callable(success) else success)
                    back = request.GET.get("next", "")
                    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                        return redirect(back)
                    return redirect("patient", pk=patient.pk)
        else:
            form = form_class(initial=initial(target) if initial else None, **extra)
        title_text = title(target) if callable(title) else title
        context = {"form": form, "title": title_text, "patient": patient, "intro": intro(target) if intro else ""}
        return render(request, "dashboard/form.html", context)

    return view


def next_due_sentence(patient_id: int) -> str:
    """What is due next, read again from the database (a write has just recomputed it)."""
    patient = Patient.objects.get(pk=patient_id)
    if patient.next_refill_due is None:
        return "Nothing is scheduled for this patient."
    if patient.schedule_attention:
        return f"Needs attention: {patient.schedule_attention}."
    alarm = f" (alarm date {patient.alarm_date:%d %b %Y})" if patient.alarm_date else ""
    return f"Next refill due {patient.next_refill_due:%d %b %Y}{alarm}."


def now_to_the_minute() -> dt.datetime:
    """The local time a form offers for "when": the minute, as a clinician writes it down."""
    return timezone.localtime().replace(second=0, microsecond=0)


def local_minute(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%d %b %Y %H:%M}"


def active_pump_or_404(patient: Patient) -> Pump:
    pump = patient.pumps.filter(explant_date__isnull=True).first()
    if pump is None:
        raise Http404("This patient has no active pump.")
    return pump
