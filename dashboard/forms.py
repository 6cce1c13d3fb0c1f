"""Dashboard forms. Each one takes its fields (labels, choices, validators) from the model and hands
the cleaned data to a ``registry.services`` function, the same rules the API applies; the
service's ``ValidationError`` is mapped back onto the fields with ``apply_service_errors``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models
from django.db.models import Exists, OuterRef
from django.forms.models import fields_for_model
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from registry.models import (
    PATIENT_DETAIL_FIELDS,
    PUMP_DETAIL_FIELDS,
    REFILL_RECORD_FIELDS,
    Complication,
    ContactAttempt,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    ScreeningTrial,
    StaffProfile,
)
from registry.roles import patients_for, sites_for
from registry.selectors import WorkKind


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _formfield(field: models.Field, **kwargs):
    if isinstance(field, models.DateTimeField):
        kwargs["widget"] = DateTimeInput
    elif isinstance(field, models.DateField):
        kwargs["widget"] = DateInput
    elif isinstance(field, models.TextField):
        kwargs["widget"] = forms.Textarea(attrs={"rows": 3})
    return field.formfield(**kwargs)


class ServiceForm(forms.Form):
    """A form whose ``model_fields`` come from ``model`` and whose writes go through a service."""

    model: type[models.Model] | None = None
    model_fields: tuple[str, ...] = ()
    # Service error keys that name a form field differently (service key -> form field).
    error_fields: dict[str, str] = {}
    # Optional values left empty are left out, so the service applies its own defaults.
    drop_empty = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.model is not None:
            generated = fields_for_model(self.model, fields=list(self.model_fields), formfield_callback=_formfield)
            declared = dict(self.fields)
            self.fields = {**{k: v for k, v in generated.items() if k not in declared}, **declared}
            if self.field_order:
                self.order_fields(self.field_order)

    def service_kwargs(self) -> dict:
        """The cleaned data as the service's keyword arguments."""
        return non_empty(self.cleaned_data) if self.drop_empty else dict(self.cleaned_data)


def apply_service_errors(form: forms.Form, error: ValidationError | IntegrityError) -> None:
    """Show a service's (or the database's) refusal beside the fields it names."""
    if isinstance(error, IntegrityError):
        form.add_error(None, "The record conflicts with one already saved; check the values and try again.")
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    mapping = getattr(form, "error_fields", {})
    for key, errors in error.error_dict.items():
        name = mapping.get(key, key)
        messages = [m for e in errors for m in e.messages]
        if name in form.fields and name != NON_FIELD_ERRORS:
            if name in form.errors:
                form.errors[name].extend(messages)
            else:
                form.add_error(name, messages)
        else:
            form.add_error(None, messages)


def clinicians_for(sites) -> models.QuerySet:
    """Staff who may be a patient's primary clinician at ``sites``."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            staff__role__in=[StaffProfile.Role.CLINICIAN, StaffProfile.Role.COORDINATOR],
            staff__sites__in=sites,
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


# --- Worklist and patient list filters --------------------------------------------------------------


class LightSelect(forms.Select):
    """A select rendered in one pass of ``format_html_join``: Django's Select renders a template
    per option, which cost the worklist page more than its rows with 40 sites and 40 clinicians."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        selected = mark_safe(" selected")  # noqa: S308 - a constant
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((v, selected if str(v) in chosen else "", label) for v, label in self.choices),
        )
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        return format_html('<select name="{}"{}>{}</select>', name, attributes, options)


class WorklistFilterForm(forms.Form):
    """The worklist's filters. ``sites`` and ``clinicians`` are (id, label) pairs, read once and
    cached with the page (``worklist_filter_choices``): choosing one needs no query."""

    KIND_CHOICES = [("", "All kinds"), *WorkKind.choices]
    site = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, widget=LightSelect)
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False, widget=LightSelect)
    clinician = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, widget=LightSelect)

    def __init__(self, *args, sites, clinicians, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "All my sites"), *sites]
        self.fields["clinician"].choices = [("", "Any clinician"), *clinicians]


def worklist_filter_choices(user) -> dict:
    """The sites ``user`` may filter by (and the zone of the first), and the primary clinicians of
    their patients (two queries: one EXISTS per user on the patients' clinician index, not a pass
    over every patient)."""
    patients = patients_for(user)
    clinicians = (
        get_user_model()
        .objects.filter(Exists(patients.filter(primary_clinician=OuterRef("pk"))))
        .order_by("last_name", "first_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    )
    sites = list(sites_for(user).order_by("name").values_list("pk", "name", "time_zone"))
    return {
        "sites": [(pk, name) for pk, name, _ in sites],
        "clinicians": [(pk, f"{first} {last}".strip() or username) for pk, first, last, username in clinicians],
        # The worklist's "today" is in the zone of the user's first site (by name).
        "zone": sites[0][2] if sites else "UTC",
    }


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Name or MRN", required=False, max_length=100)
    status = forms.ChoiceField(choices=[("", "Any status"), *PatientStatus.choices], required=False)
    indication = forms.ChoiceField(
        label="Indication", choices=[("", "Any indication"), *Indication.Diagnosis.choices], required=False
    )


# --- Patients ---------------------------------------------------------------------------------------


class PatientForm(ServiceForm):
    model = Patient
    model_fields = (*PATIENT_DETAIL_FIELDS, "referred_on")
    site = forms.ModelChoiceField(queryset=None)
    primary_clinician = UserChoiceField(queryset=None, required=False)
    diagnosis = forms.ChoiceField(
        label="Primary indication",
        choices=[("", "Not known yet"), *Indication.Diagnosis.choices],
        required=False,
    )
    field_order = ["site", "mrn", "given_name", "family_name", "date_of_birth", "sex", "diagnosis", "referred_on"]

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["primary_clinician"].queryset = clinicians_for(sites)
        self.fields["referred_on"].required = False
        self.fields["referred_on"].help_text = "Default: today. An earlier date lets you enter the history since then."
        if sites.count() == 1:
            self.fields["site"].initial = sites.first()

    def clean(self):
        data = super().clean()
        clinician, site = data.get("primary_clinician"), data.get("site")
        if clinician and site and not clinician.staff.sites.filter(pk=site.pk).exists():
            self.add_error("primary_clinician", "This clinician does not work at the chosen site.")
        return data


class StatusChangeForm(ServiceForm):
    to_status = forms.ChoiceField(label="New status")
    on = forms.DateField(label="Date of the change", required=False, widget=DateInput, help_text="Default: today.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, patient: Patient, allowed: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(PatientStatus.choices)
        # Nothing chosen in advance: a status change (to deceased, say) is never one careless click.
        self.fields["to_status"].choices = [("", "Choose the new status"), *((s, labels[s]) for s in allowed)]
        on = patient.status_changed_on
        since = f" since {on.day} {on:%b %Y}" if on else ""
        self.fields["to_status"].help_text = f"Current status: {patient.get_status_display()}{since}."


class ScreeningTrialForm(ServiceForm):
    model = ScreeningTrial
    model_fields = ("performed_on", "route", "test_dose_mcg", "response", "ashworth_before", "ashworth_after", "notes")


PUMP_FORM_FIELDS = ("implant_date", *PUMP_DETAIL_FIELDS)


class ImplantPumpForm(ServiceForm):
    model = Pump
    model_fields = PUMP_FORM_FIELDS
    drop_empty = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alarm_volume_ml"].required = False
        self.fields["alarm_volume_ml"].help_text = "Leave empty for the site's default alarm volume."


class ReplacePumpForm(ServiceForm):
    model = Pump
    model_fields = PUMP_FORM_FIELDS
    drop_empty = True
    reason = forms.CharField(max_length=200, initial="Battery end / elective replacement")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["implant_date"].label = "Replacement date"
        for name in ("manufacturer", "model", "reservoir_volume_ml", "alarm_volume_ml"):
            self.fields[name].required = False
            self.fields[name].help_text = "Leave empty to keep the old pump's value."


class ExplantPumpForm(ServiceForm):
    explant_date = forms.DateField(widget=DateInput)
    reason = forms.CharField(max_length=200, label="Reason for the explant")
    error_fields = {"explant_reason": "reason"}


class RefillForm(ServiceForm):
    model = Refill
    drop_empty = True
    model_fields = REFILL_RECORD_FIELDS
    confirmed = forms.BooleanField(
        label="I have checked the values flagged as unusual", required=False, help_text="Needed only when asked."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        f = self.fields
        f["performed_at"].label = "Refilled at (clinic time)"
        f["volume_removed_ml"].label = "Volume removed (mL)"
        f["expected_residual_ml"].label = "Expected residual from the programmer (mL)"
        f["volume_after_ml"].label = "Volume in the reservoir after the refill (mL)"
        f["concentration_mcg_per_ml"].label = "Concentration (mcg/mL)"
        f["daily_dose_mcg"].label = "Daily dose (mcg/day)"
        f["programmer_alarm_date"].label = "Low-reservoir alarm date shown by the programmer"
        f["manual_due_date"].label = "Earlier next refill date set by a clinician"
        for name in ("volume_removed_ml", "expected_residual_ml", "volume_after_ml", "concentration_mcg_per_ml"):
            f[name].widget.attrs.setdefault("step", "0.01")
        f["daily_dose_mcg"].widget.attrs.setdefault("step", "0.01")

    def preview_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "performed_at": d["performed_at"],
            "volume_after_ml": d["volume_after_ml"],
            "concentration_mcg_per_ml": d["concentration_mcg_per_ml"],
            "daily_dose_mcg": d["daily_dose_mcg"],
            "programmer_alarm_date": d.get("programmer_alarm_date"),
            "manual_due_date": d.get("manual_due_date"),
        }


class DoseChangeForm(ServiceForm):
    model = DoseChange
    model_fields = ("effective_at", "daily_dose_mcg", "notes")
    confirmed = forms.BooleanField(
        label="I have checked an unusual dose", required=False, help_text="Needed only when asked."
    )


class FollowUpForm(ServiceForm):
    model = FollowUp
    model_fields = ("kind", "due_date", "scheduled_at")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%H:%M")


class RefillVisitForm(ServiceForm):
    """A refill visit's date, time (at the clinic) and clinic."""

    day = forms.DateField(label="Date", widget=DateInput)
    time = forms.TimeField(label="Time (clinic time)", widget=TimeInput)
    site = forms.ModelChoiceField(label="Clinic", queryset=None)
    note = forms.CharField(label="Note", max_length=200, required=False)
    confirmed = forms.BooleanField(
        label="I have checked this date with the clinician: book it anyway",
        required=False,
        help_text="Needed only when asked (a closed day, or on or after the alarm date).",
    )
    error_fields = {"starts_at": "day"}

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites

    def starts_at(self):
        d = self.cleaned_data
        return dt.datetime.combine(d["day"], d["time"], tzinfo=d["site"].zone)

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"site": d["site"], "starts_at": self.starts_at(), "note": d["note"], "confirmed": d["confirmed"]}


class CancelRefillVisitForm(ServiceForm):
    reason = forms.CharField(label="Why is the visit cancelled?", max_length=200)
    error_fields = {"cancel_reason": "reason"}


class RescheduleFollowUpForm(ServiceForm):
    model = FollowUp
    model_fields = ("due_date", "scheduled_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].label = "New date"
        self.fields["scheduled_at"].label = "Booked time (optional, on that date)"


class EnteredInErrorForm(ServiceForm):
    reason = forms.CharField(
        label="What was wrong?",
        max_length=300,
        help_text="Kept with the record, which stays on the timeline, marked; the schedule is worked out without it.",
    )


class ContactForm(ServiceForm):
    model = ContactAttempt
    model_fields = ("contacted_at", "channel", "contact_with", "outcome", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacted_at"].label = "When (clinic time)"


class PatientEditForm(ServiceForm):
    """A patient's details, contacts, consent and clinician (their site moves through the admin)."""

    model = Patient
    model_fields = PATIENT_DETAIL_FIELDS
    primary_clinician = UserChoiceField(queryset=None, required=False)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["primary_clinician"].queryset = clinicians_for([site])


class CompleteFollowUpForm(ServiceForm):
    model = FollowUp
    model_fields = ("completed_on", "outcome_notes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["completed_on"].required = True


class CancelFollowUpForm(ServiceForm):
    reason = forms.CharField(max_length=500, required=False)


class GoalForm(ServiceForm):
    model = Goal
    model_fields = ("category", "description", "set_on", "baseline_score", "expected_outcome", "weight")


class GoalReviewForm(ServiceForm):
    model = GoalReview
    model_fields = ("reviewed_on", "score", "notes")


class ComplicationForm(ServiceForm):
    model = Complication
    model_fields = ("occurred_on", "kind", "severity", "pump", "needed_surgery", "resolved_on", "notes")

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pump"].queryset = Pump.objects.filter(patient=patient)


class ResolveComplicationForm(ServiceForm):
    model = Complication
    model_fields = ("resolved_on",)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resolved_on"].required = True


def errors_in_words(form: forms.Form, errors: dict) -> list[str]:
    """``{field: [messages]}`` as "Label: message" lines, for errors shown away from their fields."""
    lines = []
    for name, messages in errors.items():
        prefix = f"{form[name].label}: " if name in form.fields else ""
        lines.extend(f"{prefix}{m}" for m in messages)
    return lines


def non_empty(data: dict) -> dict:
    """Drop optional values left empty so the service applies its own defaults."""
    return {k: v for k, v in data.items() if v not in (None, "")}
