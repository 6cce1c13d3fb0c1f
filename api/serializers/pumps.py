"""``pumps/`` (and their replace and explant bodies), ``refills/`` and ``dose-changes/``."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.fields import BoundedDateField, RegistryModelSerializer, patient_field, pump_field
from registry.models import PUMP_DETAIL_FIELDS, REFILL_RECORD_FIELDS, DoseChange, Pump, Refill


class PumpSerializer(RegistryModelSerializer):
    patient = patient_field()

    class Meta:
        model = Pump
        fields = [
            "id",
            "patient",
            "implant_date",
            *PUMP_DETAIL_FIELDS,
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


class PumpReplaceSerializer(RegistryModelSerializer):
    """A successor pump implanted the day the old one comes out; omitted details are copied."""

    reason = serializers.CharField(required=False, max_length=200, default="Battery end / elective replacement")

    class Meta:
        model = Pump
        fields = [
            "implant_date",
            *PUMP_DETAIL_FIELDS,
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


def confirmed_field(what: str) -> serializers.BooleanField:
    """The write-only ``confirmed`` flag of a record whose unusual values a 400 asks to confirm."""
    return serializers.BooleanField(write_only=True, required=False, default=False, help_text=f"Confirms {what}.")


class RefillSerializer(RegistryModelSerializer):
    pump = pump_field()
    patient = serializers.IntegerField(source="pump.patient_id", read_only=True)
    confirmed = confirmed_field(
        "the values a 400 flagged as unusual: a concentration or daily dose outside the site's "
        "usual range, a volume at or below the pump's alarm volume, a date before the pump's latest refill"
    )

    class Meta:
        model = Refill
        fields = [
            "id",
            "pump",
            "patient",
            *REFILL_RECORD_FIELDS,
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
    confirmed = confirmed_field("a daily dose outside the site's usual range")

    class Meta:
        model = DoseChange
        fields = ["id", "pump", "patient", "effective_at", "daily_dose_mcg", "notes", "confirmed", "documented_by"]
        read_only_fields = ["documented_by"]
        validators = []
