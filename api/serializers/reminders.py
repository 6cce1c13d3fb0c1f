"""``reminders/``."""

from __future__ import annotations

from rest_framework import serializers

from registry.models import Reminder


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
