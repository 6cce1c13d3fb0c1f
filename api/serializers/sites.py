"""``sites/``: the sites a user works for, read-only over the API."""

from __future__ import annotations

from api.serializers.fields import RegistryModelSerializer
from registry.models import Site


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
