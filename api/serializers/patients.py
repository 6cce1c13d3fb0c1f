"""``patients/`` (with the status transition and history), ``indications/`` and ``screening-trials/``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.fields import (
    BoundedDateField,
    RegistryModelSerializer,
    ScopedRelatedField,
    patient_field,
    scoped_sites,
)
from registry import scheduling
from registry.models import (
    PATIENT_DETAIL_FIELDS,
    Indication,
    Patient,
    PatientStatus,
    ScreeningTrial,
    Site,
    StatusChange,
)
from registry.selectors import patient_refill_status


class ScheduleSerializer(serializers.Serializer):
    """The stored schedule (written only by the services) and today's refill status."""

    next_refill_due = serializers.DateField(allow_null=True)
    alarm_date = serializers.DateField(allow_null=True)
    empty_date = serializers.DateField(allow_null=True)
    refill_status = serializers.ChoiceField(choices=scheduling.REFILL_STATUSES)
    refill_due_basis = serializers.CharField(allow_blank=True)
    schedule_attention = serializers.CharField(
        allow_blank=True, help_text="Why no due date could be projected (refill status needs_attention)."
    )
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
            *PATIENT_DETAIL_FIELDS,
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
        # of a 50-patient page's time. ``to_representation`` keeps no state.
        return _SCHEDULE.to_representation(
            {
                "next_refill_due": patient.next_refill_due,
                "alarm_date": patient.alarm_date,
                "empty_date": patient.empty_date,
                "refill_status": status,
                "refill_due_basis": patient.refill_due_basis,
                "schedule_attention": patient.schedule_attention,
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


# One serializer for every detail read: building its thirty fields again for each read cost about as
# much as reading the patient. ``to_representation`` keeps no state and no field reads the context.
_REPRESENTATION = PatientSerializer()


def patient_representation(patient: Patient) -> dict:
    """What ``PatientSerializer(patient).data`` answers."""
    return _REPRESENTATION.to_representation(patient)


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
