"""Query filters of the list endpoints (django-filter). Scoping is not done here but in the
viewsets' querysets, so a filter can only narrow what the user may already see."""

import django_filters as df
from django import forms

from registry import scheduling
from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    Reminder,
    ScreeningTrial,
)

# Identifiers beyond this are not ids of ours; bounding them keeps huge numbers out of the SQL.
MAX_ID = 2**62


class IdFilter(df.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class PatientFilter(df.FilterSet):
    site = IdFilter(field_name="site_id")
    status = df.MultipleChoiceFilter(choices=PatientStatus.choices)
    refill_status = df.MultipleChoiceFilter(
        choices=[(s.value, s.value) for s in scheduling.REFILL_STATUSES],
        help_text="Today's refill status at the patient's site.",
    )
    next_refill_due_before = df.DateFilter(field_name="next_refill_due", lookup_expr="lte")
    next_refill_due_after = df.DateFilter(field_name="next_refill_due", lookup_expr="gte")
    mrn = df.CharFilter(max_length=40)

    class Meta:
        model = Patient
        fields = ["site", "status", "sex", "mrn"]


class PatientRecordFilter(df.FilterSet):
    """For records that hang off a patient directly."""

    patient = IdFilter(field_name="patient_id")
    site = IdFilter(field_name="patient__site_id")


class PumpRecordFilter(df.FilterSet):
    """For records that hang off a pump (refills, dose changes)."""

    pump = IdFilter(field_name="pump_id")
    patient = IdFilter(field_name="pump__patient_id")
    site = IdFilter(field_name="pump__patient__site_id")


class IndicationFilter(PatientRecordFilter):
    class Meta:
        model = Indication
        fields = ["patient", "site", "diagnosis", "is_primary"]


class ScreeningTrialFilter(PatientRecordFilter):
    class Meta:
        model = ScreeningTrial
        fields = ["patient", "site", "response", "route"]


class PumpFilter(PatientRecordFilter):
    active = df.BooleanFilter(field_name="explant_date", lookup_expr="isnull", label="Active (not explanted)")

    class Meta:
        model = Pump
        fields = ["patient", "site", "manufacturer", "active"]


class RefillFilter(PumpRecordFilter):
    performed_after = df.IsoDateTimeFilter(field_name="performed_at", lookup_expr="gte")
    performed_before = df.IsoDateTimeFilter(field_name="performed_at", lookup_expr="lte")

    class Meta:
        model = Refill
        fields = ["pump", "patient", "site", "residual_discrepancy", "timeliness"]


class DoseChangeFilter(PumpRecordFilter):
    class Meta:
        model = DoseChange
        fields = ["pump", "patient", "site"]


class FollowUpFilter(PatientRecordFilter):
    due_after = df.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = df.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = FollowUp
        fields = ["patient", "site", "kind", "status"]


class GoalFilter(PatientRecordFilter):
    class Meta:
        model = Goal
        fields = ["patient", "site", "category"]


class GoalReviewFilter(df.FilterSet):
    goal = IdFilter(field_name="goal_id")
    patient = IdFilter(field_name="goal__patient_id")

    class Meta:
        model = GoalReview
        fields = ["goal", "patient"]


class ComplicationFilter(PatientRecordFilter):
    class Meta:
        model = Complication
        fields = ["patient", "site", "kind", "severity", "needed_surgery"]


class ReminderFilter(PatientRecordFilter):
    site = IdFilter(field_name="site_id")

    class Meta:
        model = Reminder
        fields = ["patient", "site", "kind", "status", "channel"]
