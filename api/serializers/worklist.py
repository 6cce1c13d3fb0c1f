"""``worklist/``: the window and filters, and one work item."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from api.serializers.fields import BoundedDateField
from registry.selectors import WORK_STATUSES, WorkKind


class WorklistQuerySerializer(serializers.Serializer):
    """The window and filters of ``GET worklist/``."""

    MAX_DAYS = 366

    start = BoundedDateField(required=False, help_text="Default: today (UTC).")
    end = BoundedDateField(required=False, help_text="Default: start + 30 days. At most 366 days after start.")
    site = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    kind = serializers.MultipleChoiceField(choices=WorkKind.values, required=False)

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
    kind = serializers.ChoiceField(choices=WorkKind.values)
    due_date = serializers.DateField()
    status = serializers.ChoiceField(choices=WORK_STATUSES)
    reason = serializers.CharField()
    target_id = serializers.IntegerField(allow_null=True)
    urgency = serializers.IntegerField(help_text="0 is the most urgent.")
    alarm_date = serializers.DateField(source="patient.alarm_date", allow_null=True)

    def get_patient_name(self, item) -> str:
        return f"{item.patient.family_name}, {item.patient.given_name}"

    def to_representation(self, item) -> dict:
        """The fields above, written directly: a page of 50 items through each field's machinery
        cost more than building the items (the fields stay for the schema and the field order)."""
        patient = item.patient
        alarm = patient.alarm_date
        return {
            "patient": patient.pk,
            "patient_name": self.get_patient_name(item),
            "mrn": str(patient.mrn),
            "site": patient.site_id,
            "kind": str(item.kind),
            "due_date": item.due_date.isoformat(),
            "status": str(item.status),
            "reason": str(item.reason),
            "target_id": item.target_id,
            "urgency": item.urgency,
            "alarm_date": alarm.isoformat() if alarm is not None else None,
        }
