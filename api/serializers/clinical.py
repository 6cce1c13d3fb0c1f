"""``follow-ups/`` (and their complete and cancel bodies), ``goals/``, ``goal-reviews/`` and ``complications/``."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.fields import (
    BoundedDateField,
    RegistryModelSerializer,
    ScopedRelatedField,
    patient_field,
    pump_field,
    scoped_goals,
)
from registry.models import Complication, FollowUp, Goal, GoalReview


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
