"""Serializers: the shape of every resource and the validation of its input.

They validate shape and scope only; every write is done by a ``registry.services`` function (the
viewsets call them), so the API, the dashboard and the admin apply the same rules and reschedule
the same way. Referenced objects (site, patient, pump, goal) are looked up among the records the
requesting user may see, so naming another site's record is a 400 field error.
"""

from __future__ import annotations

import copy
import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
    Site,
    StatusChange,
)
from registry.roles import is_clinical, patients_for, sites_for
from registry.selectors import patient_refill_status

# Clinical dates outside this range are typing errors, and beyond them date arithmetic (time
# zones, margins of days) can overflow; refusing them here keeps every later step safe.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)
RANGE_MESSAGE = "Enter a date between 1900-01-01 and 2199-12-31."


class BoundedDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST <= day <= LATEST:
            raise serializers.ValidationError(RANGE_MESSAGE)
        return day


class AwareDateTimeField(serializers.DateTimeField):
    """A timestamp must carry its UTC offset: "10:00" alone is ambiguous across site zones."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise serializers.ValidationError("Give the time with its UTC offset, e.g. 2025-06-02T10:00:00+01:00.")
        result = super().to_internal_value(value)
        if not EARLIEST <= result.date() <= LATEST:
            raise serializers.ValidationError(RANGE_MESSAGE)
        return result


class RegistryModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: BoundedDateField,
        models.DateTimeField: AwareDateTimeField,
    }

    def get_fields(self):
        """The fields ModelSerializer derives from ``Meta`` and the model, derived once per class.

        DRF derives them again for every serializer instance: for a page of patients that was a
        fifth of the request (issue 7), mostly in building labels from lazy verbose names. They
        depend on the class alone (none of ours reads ``context`` or ``instance`` here), so each
        instance gets a deep copy of the class's set, as a plain ``Serializer`` does with its
        declared fields.
        """
        cls = type(self)
        if "_derived_fields" not in cls.__dict__:
            cls._derived_fields = super().get_fields()
        return copy.deepcopy(cls._derived_fields)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key looked up among the records the requesting user may see."""

    def __init__(self, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return self.scope(user) if user is not None else self.queryset.none()

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            if int(data) > 2**62 or int(data) < 1:
                self.fail("does_not_exist", pk_value=data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


def scoped_sites(user):
    # Reporting users may read sites but never write a patient into one.
    return sites_for(user) if is_clinical(user) else Site.objects.none()


def scoped_pumps(user):
    return Pump.objects.filter(patient__in=patients_for(user)).select_related("patient__site")


def scoped_goals(user):
    return Goal.objects.filter(patient__in=patients_for(user)).select_related("patient__site")


def patient_field(**kwargs):
    return ScopedRelatedField(patients_for, queryset=Patient.objects.select_related("site"), **kwargs)


def pump_field(**kwargs):
    return ScopedRelatedField(scoped_pumps, queryset=Pump.objects.all(), **kwargs)


# --- Sites ---------------------------------------------------------------------------------------


class SiteSerializer(RegistryModelSerializer):
    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "time_zone",
            "phone",
            "safety_margin_days",
            "max_refill_interval_days",
            "refill_lead_days",
            "follow_up_grace_days",
            "closed_weekdays",
        ]
        read_only_fields = fields


# --- Patients ------------------------------------------------------------------------------------


class ScheduleSerializer(serializers.Serializer):
    """The stored schedule (written only by the services) and today's refill status."""

    next_refill_due = serializers.DateField(allow_null=True)
    alarm_date = serializers.DateField(allow_null=True)
    empty_date = serializers.DateField(allow_null=True)
    refill_status = serializers.ChoiceField(choices=["none", "upcoming", "due", "overdue", "critical"])
    refill_due_basis = serializers.CharField(allow_blank=True)
    alarm_date_disagrees = serializers.BooleanField()
    last_refill_at = serializers.DateTimeField(allow_null=True)
    battery_eri_date = serializers.DateField(allow_null=True)


_SCHEDULE = ScheduleSerializer()


class PatientSerializer(RegistryModelSerializer):
    site = ScopedRelatedField(scoped_sites, queryset=Site.objects.all())
    schedule = serializers.SerializerMethodField()
    active_pump = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = [
            "id",
            "site",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "guardian_name",
            "contact_phone",
            "contact_email",
            "consent_email",
            "consent_sms",
            "notes",
            "referred_on",
            "status",
            "status_changed_on",
            "study_id",
            "active_pump",
            "schedule",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "status_changed_on", "study_id", "created_at", "updated_at"]
        extra_kwargs = {"referred_on": {"required": False, "help_text": "Default: today at the site."}}
        # Uniqueness (MRN per site) is checked by the service's full_clean, in its transaction.
        validators = []

    @extend_schema_field(ScheduleSerializer)
    def get_schedule(self, patient: Patient) -> dict:
        status = getattr(patient, "refill_status", None) or patient_refill_status(patient)
        # One shared instance: a new nested serializer per row deep-copies its fields, a third
        # of a 50-patient page's time (issue 7). ``to_representation`` keeps no state.
        return _SCHEDULE.to_representation(
            {
                "next_refill_due": patient.next_refill_due,
                "alarm_date": patient.alarm_date,
                "empty_date": patient.empty_date,
                "refill_status": status,
                "refill_due_basis": patient.refill_due_basis,
                "alarm_date_disagrees": patient.alarm_date_disagrees,
                "last_refill_at": patient.last_refill_at,
                "battery_eri_date": patient.battery_eri_date,
            }
        )

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_active_pump(self, patient: Patient) -> int | None:
        if hasattr(patient, "active_pump_id"):  # annotated by the viewset's queryset
            return patient.active_pump_id
        pump = patient.active_pump
        return pump.pk if pump else None

    def validate_site(self, site):
        if self.instance is not None and site != self.instance.site:
            raise serializers.ValidationError("A patient's site cannot be changed here; record a transfer instead.")
        return site


class StatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = StatusChange
        fields = ["id", "from_status", "to_status", "changed_on", "reason", "changed_by", "recorded_at"]
        read_only_fields = fields


class StatusTransitionSerializer(serializers.Serializer):
    """Input of ``POST patients/{id}/status/``; the service checks the transition table."""

    to_status = serializers.ChoiceField(choices=PatientStatus.choices)
    on = BoundedDateField(required=False, allow_null=True, help_text="Defaults to today at the patient's site.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# --- Clinical records ----------------------------------------------------------------------------


class IndicationSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = Indication
        fields = ["id", "patient", "diagnosis", "icd10_code", "tone_type", "distribution", "gmfcs_level", "is_primary"]
        extra_kwargs = {"icd10_code": {"required": False}, "is_primary": {"required": False}}
        validators = []


class ScreeningTrialSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = ScreeningTrial
        fields = [
            "id",
            "patient",
            "performed_on",
            "route",
            "test_dose_mcg",
            "response",
            "ashworth_before",
            "ashworth_after",
            "notes",
        ]


class PumpSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = Pump
        fields = [
            "id",
            "patient",
            "implant_date",
            "manufacturer",
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "alarm_volume_ml",
            "catheter_tip_level",
            "catheter_notes",
            "eri_date",
            "explant_date",
            "explant_reason",
            "replaces",
            "is_active",
        ]
        read_only_fields = ["explant_date", "explant_reason", "replaces"]
        extra_kwargs = {"alarm_volume_ml": {"required": False}}
        validators = []

    is_active = serializers.BooleanField(read_only=True)

    def validate_patient(self, patient):
        if self.instance is not None and patient != self.instance.patient:
            raise serializers.ValidationError("A pump cannot be moved to another patient.")
        return patient

    def validate(self, attrs):
        reservoir = attrs.get("reservoir_volume_ml", getattr(self.instance, "reservoir_volume_ml", None))
        alarm = attrs.get("alarm_volume_ml", getattr(self.instance, "alarm_volume_ml", None))
        if reservoir is not None and alarm is not None and alarm >= reservoir:
            raise serializers.ValidationError(
                {"alarm_volume_ml": "The alarm volume must be below the reservoir volume."}
            )
        return attrs


class PumpReplaceSerializer(RegistryModelSerializer):
    """A successor pump implanted the day the old one comes out; omitted details are copied."""

    reason = serializers.CharField(required=False, max_length=200, default="Battery end / elective replacement")

    class Meta:
        model = Pump
        fields = [
            "implant_date",
            "manufacturer",
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "alarm_volume_ml",
            "catheter_tip_level",
            "catheter_notes",
            "eri_date",
            "reason",
        ]
        extra_kwargs = {
            name: {"required": False}
            for name in ("manufacturer", "model", "reservoir_volume_ml", "alarm_volume_ml", "catheter_tip_level")
        }
        validators = []


class PumpExplantSerializer(serializers.Serializer):
    explant_date = BoundedDateField()
    reason = serializers.CharField(max_length=200)


class RefillSerializer(RegistryModelSerializer):
    pump = pump_field()
    patient = serializers.IntegerField(source="pump.patient_id", read_only=True)
    confirmed = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Confirms an unusual concentration or daily dose (outside the site's usual range).",
    )

    class Meta:
        model = Refill
        fields = [
            "id",
            "pump",
            "patient",
            "performed_at",
            "volume_removed_ml",
            "expected_residual_ml",
            "volume_after_ml",
            "concentration_mcg_per_ml",
            "daily_dose_mcg",
            "programmer_alarm_date",
            "manual_due_date",
            "notes",
            "confirmed",
            "performed_by",
            "residual_discrepancy",
            "timeliness",
            "due_date_at_refill",
        ]
        read_only_fields = ["performed_by", "residual_discrepancy", "timeliness", "due_date_at_refill"]
        validators = []

    def validate(self, attrs):
        pump = attrs.get("pump")
        volume = attrs.get("volume_after_ml")
        if pump is not None and volume is not None and volume > pump.reservoir_volume_ml:
            raise serializers.ValidationError(
                {"volume_after_ml": f"The reservoir of this pump holds at most {pump.reservoir_volume_ml} mL."}
            )
        return attrs


class DoseChangeSerializer(RegistryModelSerializer):
    pump = pump_field()
    patient = serializers.IntegerField(source="pump.patient_id", read_only=True)
    confirmed = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="Confirms an unusually high daily dose."
    )

    class Meta:
        model = DoseChange
        fields = ["id", "pump", "patient", "effective_at", "daily_dose_mcg", "notes", "confirmed", "documented_by"]
        read_only_fields = ["documented_by"]
        validators = []


class FollowUpSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = FollowUp
        fields = ["id", "patient", "kind", "due_date", "scheduled_at", "status", "completed_on", "outcome_notes"]
        read_only_fields = ["status", "completed_on"]


class FollowUpCompleteSerializer(serializers.Serializer):
    completed_on = BoundedDateField()
    outcome_notes = serializers.CharField(required=False, allow_blank=True, default="")


class FollowUpCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class GoalSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = Goal
        fields = ["id", "patient", "category", "description", "set_on", "baseline_score", "expected_outcome", "weight"]


class GoalReviewSerializer(RegistryModelSerializer):
    goal = ScopedRelatedField(scoped_goals, queryset=Goal.objects.all())

    class Meta:
        model = GoalReview
        fields = ["id", "goal", "reviewed_on", "score", "notes"]


class ComplicationSerializer(RegistryModelSerializer):
    patient = patient_field()
    pump = pump_field(required=False, allow_null=True)

    class Meta:
        model = Complication
        fields = [
            "id",
            "patient",
            "pump",
            "occurred_on",
            "kind",
            "severity",
            "needed_surgery",
            "resolved_on",
            "notes",
        ]

    def validate(self, attrs):
        occurred, resolved = attrs.get("occurred_on"), attrs.get("resolved_on")
        if occurred and resolved and resolved < occurred:
            raise serializers.ValidationError({"resolved_on": "The resolved date cannot be before the complication."})
        return attrs


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = [
            "id",
            "kind",
            "patient",
            "site",
            "target_type",
            "target_id",
            "due_date",
            "lead_days",
            "recipient",
            "channel",
            "status",
            "attempts",
            "created_at",
            "sent_at",
            "acknowledged_at",
            "acknowledged_by",
        ]
        read_only_fields = fields


# --- Worklist ------------------------------------------------------------------------------------

WORK_STATUSES = ["critical", "overdue", "due", "upcoming", "missed"]


class WorklistQuerySerializer(serializers.Serializer):
    """The window and filters of ``GET worklist/``."""

    MAX_DAYS = 366

    start = BoundedDateField(required=False, help_text="Default: today (UTC).")
    end = BoundedDateField(required=False, help_text="Default: start + 30 days. At most 366 days after start.")
    site = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    kind = serializers.MultipleChoiceField(choices=["refill", "battery", "follow_up"], required=False)

    def validate(self, attrs):
        start = attrs.get("start") or timezone.now().date()
        end = attrs.get("end") or start + dt.timedelta(days=30)
        if end < start:
            raise serializers.ValidationError({"end": "The end of the window cannot be before its start."})
        if (end - start).days > self.MAX_DAYS:
            raise serializers.ValidationError({"end": f"The window can be at most {self.MAX_DAYS} days long."})
        attrs["start"], attrs["end"] = start, end
        return attrs


class WorkItemSerializer(serializers.Serializer):
    patient = serializers.IntegerField(source="patient.pk")
    patient_name = serializers.SerializerMethodField()
    mrn = serializers.CharField(source="patient.mrn")
    site = serializers.IntegerField(source="patient.site_id")
    kind = serializers.ChoiceField(choices=["refill", "battery", "follow_up"])
    due_date = serializers.DateField()
    status = serializers.ChoiceField(choices=WORK_STATUSES)
    reason = serializers.CharField()
    target_id = serializers.IntegerField(allow_null=True)
    urgency = serializers.IntegerField(help_text="0 is the most urgent.")
    alarm_date = serializers.DateField(source="patient.alarm_date", allow_null=True)

    def get_patient_name(self, item) -> str:
        return f"{item.patient.family_name}, {item.patient.given_name}"


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
