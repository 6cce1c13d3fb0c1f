"""The staff dashboard: plain function views, every one scoped by ``registry.roles``.

Views read through ``registry.selectors`` and write through ``registry.services``; no view
computes a date. Every page works as plain HTML; with htmx some parts reload on their own
(worklist filters, patient search, the refill preview, acknowledging reminders).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from api.caching import cached_page
from audit.log import recent_viewers, record_view
from audit.models import PatientAccess
from dashboard import forms
from registry import scheduling, selectors, services
from registry.models import DoseChange, FollowUp, Goal, Patient, PatientStatus, Refill, RefillAppointment, Reminder
from registry.roles import Role, is_clinical, patient_site_ids, patients_for, role_of, sites_for
from registry.services.pumps import EXPLANTABLE_FROM, IMPLANTABLE_FROM
from reporting.charts import reservoir_chart

WORKLIST_DAYS = 30
# At most this many rows on the page, most urgent first (filters narrow the list).
WORKLIST_ROWS = 200
# The page says "of more than 1,000 items" rather than counting tens of thousands.
WORKLIST_COUNT_LIMIT = 1000
SECTION_TITLES = {
    ("refill", "critical"): "Critical: past the low-reservoir alarm date",
    ("refill", "needs_attention"): "Needs attention: no refill date could be projected",
    ("refill", "no_show"): "Did not come to a booked refill visit",
    ("refill", "overdue"): "Refill overdue",
    ("battery", "overdue"): "Battery past its ERI date",
    ("refill", "due"): "Refill due within the reminder window",
    ("follow_up", "missed"): "Follow-ups missed",
    ("battery", "due"): "Battery / ERI approaching",
    ("follow_up", "due"): "Follow-ups due",
    ("refill", "upcoming"): f"Refills upcoming in the next {WORKLIST_DAYS} days",
}
STATUS_LABELS = {
    "critical": "Critical",
    "needs_attention": "Needs attention",
    "overdue": "Overdue",
    "due": "Due",
    "upcoming": "Upcoming",
    "missed": "Missed",
    "no_show": "No-show",
    "none": "Nothing due",
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


def patient_view(view):
    """Load the patient from the user's own sites (404 otherwise), in the clinic's time zone."""

    @clinical_required
    @wraps(view)
    def wrapper(request, pk: int, *args, **kwargs):
        patient = get_object_or_404(patients_for(request.user).select_related("site", "primary_clinician"), pk=pk)
        with timezone.override(patient.site.zone):
            return view(request, patient, *args, **kwargs)

    return wrapper


# --- Worklist -----------------------------------------------------------------------------------


@login_required
def worklist(request):
    """Today: everything critical, overdue, due or coming up, in sections, most urgent first.

    The filter's choices and the sections are the same for everyone with these sites until the
    next write: both are cached under the data version (``api/caching.py``). The rest of the page
    (the user's name, the CSRF token, the open reminders) is rendered for each request.
    """
    user = request.user
    if not is_clinical(user):
        return render(request, "dashboard/no_access.html", status=403)
    choices = cached_page(request, "worklist-filter-choices", lambda: forms.worklist_filter_choices(user), by_url=False)
    zone = choices.get("zone", "UTC")
    form = forms.WorklistFilterForm(request.GET or None, sites=choices["sites"], clinicians=choices["clinicians"])
    today = scheduling.today_in(zoneinfo.ZoneInfo(zone), timezone.now())
    # Keyed by the day too: a booking becomes a no-show at midnight without any write.
    html = cached_page(request, f"worklist-sections-{today}", lambda: _worklist_sections(user, form, today))
    sections = mark_safe(html)  # noqa: S308 - the page's own template, rendered on a miss
    if request.htmx:
        return HttpResponse(sections)
    context = {"form": form, "sections": sections, "today": today, "zone": zone}
    if request.resolver_match.url_name == "worklist_print":
        context.update(printed_at=timezone.now().astimezone(zoneinfo.ZoneInfo(zone)), filters=_filter_labels(form))
        return render(request, "dashboard/worklist_print.html", context)
    return render(request, "dashboard/worklist.html", context)


def _filter_labels(form: forms.WorklistFilterForm) -> list[tuple[str, str]]:
    """The filters the printout was made with, in words."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    out = []
    for name in ("site", "kind", "clinician"):
        field = form.fields[name]
        chosen = data.get(name)
        labels = {str(value): label for value, label in field.choices}
        out.append((str(field.label or name.capitalize()), labels.get(str(chosen or ""), labels.get(""))))
    return out


def _worklist_sections(user, form: forms.WorklistFilterForm, today: dt.date) -> str:
    """The rendered sections of the worklist for ``user``'s sites and the form's filters."""
    kinds = selectors.WORK_KINDS
    sites = patient_site_ids(user)  # the user's sites as a list, so the planner uses the site indexes
    narrowed = None
    if form.is_valid():
        data = form.cleaned_data
        if data["site"]:
            sites = [data["site"]]
        if data["clinician"]:
            narrowed = Patient.objects.filter(primary_clinician_id=data["clinician"])
        if data["kind"]:
            kinds = (data["kind"],)
    # The most urgent rows only, ranked and cut in SQL: program-wide the worklist holds tens of
    # thousands of items at 100,000 patients, and rendering them all took seconds.
    page = selectors.worklist_page(
        start=today,
        end=today + dt.timedelta(days=WORKLIST_DAYS),
        patients=narrowed,
        kinds=kinds,
        limit=WORKLIST_ROWS,
        count_limit=WORKLIST_COUNT_LIMIT,
        sites=sites,
    )
    items = page.items
    sections = []
    for key in selectors.WORK_URGENCY:
        title = SECTION_TITLES[key]
        rows = [i for i in items if (i.kind, i.status) == key]
        if rows:
            sections.append(
                {"key": f"{key[0]}-{key[1]}", "kind": key[0], "status": key[1], "title": title, "rows": rows}
            )
    context = {
        "form": form,
        "sections": sections,
        "total": page.total,
        "count_limit": WORKLIST_COUNT_LIMIT,
        "shown": len(items),
        "status_labels": STATUS_LABELS,
    }
    return render_to_string("dashboard/partials/worklist_sections.html", context)


# --- Patients -----------------------------------------------------------------------------------


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
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
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


@patient_view
def patient_detail(request, patient: Patient):
    try:
        patient = selectors.patient_detail(patients_for(request.user), patient.pk)
    except Patient.DoesNotExist as missing:
        raise Http404 from missing
    pump = patient.active_pump
    curve = selectors.patient_reservoir_curve(patient)
    chart = None
    if curve is not None:
        zone = patient.site.zone
        markers = {"Today": timezone.now()}
        for label, day in (("Refill due", patient.next_refill_due), ("Alarm date", patient.alarm_date)):
            if day:
                markers[label] = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        chart = reservoir_chart(
            curve.points, reservoir_ml=curve.reservoir_ml, alarm_ml=curve.alarm_ml, markers=markers, zone=zone
        )
    current_dose = None
    if curve is not None:
        latest_change = (
            DoseChange.objects.filter(pump=pump, effective_at__gt=curve.refill.performed_at)
            .order_by("-effective_at")
            .first()
        )
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
        "today": _today(patient),
        "goals": list(patient.goals.all()),
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


def _service_form(
    request, patient, form_class, save, *, title, success, form_kwargs=None, initial=None, intro="", pass_form=False
):
    """GET shows ``form_class``; POST validates it and calls ``save(cleaned_data)`` (a service), or
    ``save(form)`` with ``pass_form`` (a form that builds the service's arguments itself).

    A service's refusal comes back as errors beside the fields, never as a 500.
    """
    form_kwargs = form_kwargs or {}
    if request.method == "POST":
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                result = save(form if pass_form else form.cleaned_data)
            except (ValidationError, IntegrityError) as error:
                forms.apply_service_errors(form, error)
            else:
                messages.success(request, success(result) if callable(success) else success)
                back = request.GET.get("next", "")
                if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                    return redirect(back)
                return redirect("patient", pk=patient.pk)
    else:
        form = form_class(initial=initial, **form_kwargs)
    context = {"form": form, "title": title, "patient": patient, "intro": intro}
    return render(request, "dashboard/form.html", context)


def _next_due_sentence(patient: Patient) -> str:
    if patient.next_refill_due is None:
        return "Nothing is scheduled for this patient."
    if patient.schedule_attention:
        return f"Needs attention: {patient.schedule_attention}."
    alarm = f" (alarm date {patient.alarm_date:%d %b %Y})" if patient.alarm_date else ""
    return f"Next refill due {patient.next_refill_due:%d %b %Y}{alarm}."


def _today(patient: Patient) -> dt.date:
    return services.site_today(patient.site)


def _active_pump_or_404(patient: Patient):
    pump = patient.pumps.filter(explant_date__isnull=True).first()
    if pump is None:
        raise Http404("This patient has no active pump.")
    return pump


@patient_view
def status_change(request, patient):
    return _service_form(
        request,
        patient,
        forms.StatusChangeForm,
        lambda d: services.change_status(patient=patient, by=request.user, **d),
        title="Change program status",
        success=lambda c: f"Status changed to {c.get_to_status_display().lower()}.",
        form_kwargs={"patient": patient, "allowed": services.allowed_next_statuses(patient)},
    )


@patient_view
def trial_create(request, patient):
    return _service_form(
        request,
        patient,
        forms.ScreeningTrialForm,
        lambda d: services.record_screening_trial(patient=patient, by=request.user, **d),
        title="Record a screening trial",
        success="Screening trial recorded.",
        initial={"performed_on": _today(patient)},
    )


@patient_view
def pump_implant(request, patient):
    return _service_form(
        request,
        patient,
        forms.ImplantPumpForm,
        lambda d: services.implant_pump(patient=patient, by=request.user, **forms.non_empty(d)),
        title="Record a pump implant",
        success="Pump implant recorded; the patient is now implanted.",
        initial={"implant_date": _today(patient), "alarm_volume_ml": patient.site.default_alarm_volume_ml},
    )


@patient_view
def pump_replace(request, patient):
    pump = _active_pump_or_404(patient)

    def save(d):
        d = forms.non_empty(d)
        return services.replace_pump(
            pump=pump, implant_date=d.pop("implant_date"), reason=d.pop("reason"), by=request.user, **d
        )

    return _service_form(
        request,
        patient,
        forms.ReplacePumpForm,
        save,
        title="Record a pump replacement",
        success="Pump replacement recorded.",
        initial={"implant_date": _today(patient)},
    )


@patient_view
def pump_explant(request, patient):
    pump = _active_pump_or_404(patient)
    return _service_form(
        request,
        patient,
        forms.ExplantPumpForm,
        lambda d: services.explant_pump(pump=pump, by=request.user, **d),
        title="Record a pump explant",
        success="Pump explant recorded; nothing is scheduled for this patient any more.",
        initial={"explant_date": _today(patient)},
    )


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
    pump = _active_pump_or_404(patient)
    last = pump.refills.order_by("-performed_at").first()
    context = {"patient": patient, "pump": pump, "last_refill": last, "title": "Record a refill"}
    if request.method == "POST":
        form = forms.RefillForm(request.POST)
        if request.POST.get("action") == "preview":
            context.update(_refill_preview(patient, pump, form))
        elif form.is_valid():
            try:
                refill = services.record_refill(pump=pump, by=request.user, **forms.non_empty(form.cleaned_data))
            except (ValidationError, IntegrityError) as error:
                forms.apply_service_errors(form, error)
            else:
                patient.refresh_from_db()
                messages.success(request, f"Refill recorded. {_next_due_sentence(patient)}")
                if refill.residual_discrepancy:
                    messages.warning(
                        request,
                        f"Residual discrepancy flagged for clinical review: removed {refill.volume_removed_ml} mL, "
                        f"expected {refill.expected_residual_ml} mL.",
                    )
                return redirect("patient", pk=patient.pk)
    else:
        now = timezone.localtime().replace(second=0, microsecond=0)
        initial = {"performed_at": now, "volume_after_ml": pump.reservoir_volume_ml}
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
    pump = _active_pump_or_404(patient)
    context = {"patient": patient, **_refill_preview(patient, pump, forms.RefillForm(request.POST))}
    return render(request, "dashboard/partials/refill_preview.html", context)


@patient_view
def dose_change_create(request, patient):
    pump = _active_pump_or_404(patient)
    return _service_form(
        request,
        patient,
        forms.DoseChangeForm,
        lambda d: services.record_dose_change(pump=pump, by=request.user, **d),
        title="Record a dose change",
        success=lambda c: f"Dose change recorded. {_next_due_sentence(Patient.objects.get(pk=patient.pk))}",
        initial={"effective_at": timezone.localtime().replace(second=0, microsecond=0)},
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


@patient_view
def refill_visit_book(request, patient):
    today = _today(patient)
    day = patient.next_refill_due if patient.next_refill_due and patient.next_refill_due >= today else today
    return _service_form(
        request,
        patient,
        forms.RefillVisitForm,
        lambda form: services.book_refill_visit(patient=patient, by=request.user, **form.service_kwargs()),
        title="Book a refill visit",
        success=_booked,
        form_kwargs={"sites": sites_for(request.user)},
        initial={"day": day, "time": dt.time(9), "site": patient.site},
        intro=_due_intro(patient),
        pass_form=True,
    )


def _open_visit_or_404(patient, visit_id: int) -> RefillAppointment:
    return get_object_or_404(
        RefillAppointment.objects.select_related("site", "patient"),
        pk=visit_id,
        patient=patient,
        status=RefillAppointment.Status.BOOKED,
    )


@patient_view
def refill_visit_move(request, patient, visit_id: int):
    visit = _open_visit_or_404(patient, visit_id)
    local = visit.starts_at.astimezone(visit.site.zone)
    return _service_form(
        request,
        patient,
        forms.RefillVisitForm,
        lambda form: services.move_refill_visit(visit=visit, by=request.user, **form.service_kwargs()),
        title=f"Move the refill visit of {local:%a %d %b %Y %H:%M}",
        success=_booked,
        form_kwargs={"sites": sites_for(request.user)},
        initial={"day": local.date(), "time": local.time(), "site": visit.site, "note": visit.note},
        intro=_due_intro(patient),
        pass_form=True,
    )


@patient_view
def refill_visit_cancel(request, patient, visit_id: int):
    visit = _open_visit_or_404(patient, visit_id)
    local = visit.starts_at.astimezone(visit.site.zone)
    return _service_form(
        request,
        patient,
        forms.CancelRefillVisitForm,
        lambda d: services.cancel_refill_visit(visit=visit, by=request.user, **d),
        title=f"Cancel the refill visit of {local:%a %d %b %Y %H:%M}",
        success="Refill visit cancelled. The refill is still due: book another visit.",
    )


@patient_view
def patient_edit(request, patient):
    fields = forms.PatientEditForm.model_fields
    return _service_form(
        request,
        patient,
        forms.PatientEditForm,
        lambda d: services.update_patient(patient=patient, by=request.user, **d),
        title="Edit patient details",
        success="Patient details saved; the change is in the patient's history.",
        form_kwargs={"site": patient.site},
        initial={**{name: getattr(patient, name) for name in fields}, "primary_clinician": patient.primary_clinician},
    )


@patient_view
def contact_create(request, patient):
    return _service_form(
        request,
        patient,
        forms.ContactForm,
        lambda d: services.log_contact(patient=patient, by=request.user, **d),
        title="Log a call or message",
        success="Contact logged.",
        initial={"contacted_at": timezone.localtime().replace(second=0, microsecond=0)},
        intro=" ".join(filter(None, [patient.guardian_name, patient.contact_phone, patient.contact_email])),
    )


@patient_view
def refill_entered_in_error(request, patient, refill_id: int):
    refill = get_object_or_404(Refill, pk=refill_id, pump__patient=patient)
    return _service_form(
        request,
        patient,
        forms.EnteredInErrorForm,
        lambda d: services.mark_refill_entered_in_error(refill=refill, by=request.user, **d),
        title=f"Mark the refill of {timezone.localtime(refill.performed_at):%d %b %Y %H:%M} as entered in error",
        success=lambda r: (
            "Refill marked as entered in error; it stays on the timeline. "
            + _next_due(Patient.objects.get(pk=patient.pk))
        ),
        intro=f"{refill.volume_after_ml} mL at {refill.concentration_mcg_per_ml} mcg/mL, "
        f"{refill.daily_dose_mcg} mcg/day. Notes: {refill.notes or 'none'}.",
    )


@patient_view
def dose_change_entered_in_error(request, patient, change_id: int):
    change = get_object_or_404(DoseChange, pk=change_id, pump__patient=patient)
    return _service_form(
        request,
        patient,
        forms.EnteredInErrorForm,
        lambda d: services.mark_dose_change_entered_in_error(change=change, by=request.user, **d),
        title=f"Mark the dose change of {timezone.localtime(change.effective_at):%d %b %Y %H:%M} as entered in error",
        success=lambda c: (
            "Dose change marked as entered in error; it stays on the timeline. "
            + _next_due(Patient.objects.get(pk=patient.pk))
        ),
        intro=f"{change.daily_dose_mcg} mcg/day.",
    )


def _next_due(patient: Patient) -> str:
    if patient.next_refill_due is None:
        return "No refill is scheduled now."
    if patient.schedule_attention:
        return f"Needs attention: {patient.schedule_attention}."
    return f"Next refill due {patient.next_refill_due:%d %b %Y}."


@patient_view
def follow_up_create(request, patient):
    return _service_form(
        request,
        patient,
        forms.FollowUpForm,
        lambda d: services.schedule_follow_up(patient=patient, booking=True, by=request.user, **d),
        title="Schedule a follow-up",
        success="Follow-up scheduled.",
    )


@patient_view
def follow_up_complete(request, patient, follow_up_id: int):
    follow_up = get_object_or_404(FollowUp, pk=follow_up_id, patient=patient)
    return _service_form(
        request,
        patient,
        forms.CompleteFollowUpForm,
        lambda d: services.complete_follow_up(follow_up=follow_up, by=request.user, **d),
        title=f"Complete: {follow_up.get_kind_display()} due {follow_up.due_date:%d %b %Y}",
        success="Follow-up completed.",
        initial={"completed_on": _today(patient)},
    )


@patient_view
def follow_up_reschedule(request, patient, follow_up_id: int):
    follow_up = get_object_or_404(
        FollowUp, pk=follow_up_id, patient=patient, status__in=[FollowUp.Status.SCHEDULED, FollowUp.Status.MISSED]
    )
    return _service_form(
        request,
        patient,
        forms.RescheduleFollowUpForm,
        lambda d: services.reschedule_follow_up(follow_up=follow_up, by=request.user, **d),
        title=f"Reschedule: {follow_up.get_kind_display()} due {follow_up.due_date:%d %b %Y}",
        success=lambda f: f"Follow-up moved to {f.due_date:%a %d %b %Y}.",
        initial={"due_date": follow_up.due_date, "scheduled_at": follow_up.scheduled_at},
    )


@patient_view
def follow_up_cancel(request, patient, follow_up_id: int):
    follow_up = get_object_or_404(FollowUp, pk=follow_up_id, patient=patient)
    return _service_form(
        request,
        patient,
        forms.CancelFollowUpForm,
        lambda d: services.cancel_follow_up(follow_up=follow_up, by=request.user, **d),
        title=f"Cancel: {follow_up.get_kind_display()} due {follow_up.due_date:%d %b %Y}",
        success="Follow-up cancelled.",
    )


@patient_view
def goal_create(request, patient):
    return _service_form(
        request,
        patient,
        forms.GoalForm,
        lambda d: services.set_goal(patient=patient, by=request.user, **d),
        title="Set a goal",
        success="Goal recorded.",
        initial={"set_on": _today(patient)},
    )


@patient_view
def goal_review(request, patient, goal_id: int):
    goal = get_object_or_404(Goal.objects.select_related("patient__site"), pk=goal_id, patient=patient)
    return _service_form(
        request,
        patient,
        forms.GoalReviewForm,
        lambda d: services.review_goal(goal=goal, by=request.user, **d),
        title=f"Review goal: {goal}",
        success="Goal review recorded.",
        initial={"reviewed_on": _today(patient)},
    )


@patient_view
def complication_create(request, patient):
    return _service_form(
        request,
        patient,
        forms.ComplicationForm,
        lambda d: services.record_complication(patient=patient, by=request.user, **d),
        title="Record a complication",
        success="Complication recorded.",
        form_kwargs={"patient": patient},
        initial={"occurred_on": _today(patient), "pump": patient.pumps.filter(explant_date__isnull=True).first()},
    )


# --- Reminder inbox -----------------------------------------------------------------------------


def _inbox_context(request) -> dict:
    base = services.inbox_reminders(request.user).select_related("patient", "site")
    return {
        "open": list(
            services.open_reminders(request.user).select_related("patient", "site").order_by("due_date", "id")
        ),
        "done": list(base.filter(status=Reminder.Status.ACKNOWLEDGED).order_by("-acknowledged_at")[:20]),
    }


@login_required
def inbox(request):
    return render(request, "dashboard/inbox.html", _inbox_context(request))


@login_required
@require_POST
def inbox_acknowledge(request):
    """Acknowledge one reminder (its own button) or every ticked one."""
    one = request.POST.get("one")
    ids = [one] if one else request.POST.getlist("ids")
    if request.POST.get("all"):
        ids = list(services.open_reminders(request.user).values_list("pk", flat=True))
    try:
        count = services.acknowledge_reminders(user=request.user, ids=[int(i) for i in ids])
    except ValueError:
        count = 0
    if count:
        messages.success(request, f"{count} reminder{'s' if count != 1 else ''} acknowledged.")
    else:
        messages.info(request, "Nothing to acknowledge: tick one or more reminders first.")
    if request.htmx:
        return render(request, "dashboard/partials/inbox_body.html", {**_inbox_context(request), "oob_count": True})
    return redirect("inbox")
