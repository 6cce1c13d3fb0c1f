"""``reminders/``: made by the sweep, acknowledged here."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from api import filters, serializers
from api.views.base import ClinicalViewSet
from registry.models import Reminder
from registry.services.reminders.inbox import acknowledge_reminder


class ReminderViewSet(ClinicalViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Reminders about the user's patients; made by the sweep, acknowledged here."""

    serializer_class = serializers.ReminderSerializer
    filterset_class = filters.ReminderFilter
    ordering_fields = ["id", "created_at", "due_date"]

    def get_queryset(self):
        return Reminder.objects.filter(patient__in=self.patients()).order_by("-created_at", "id")

    @extend_schema(request=None, responses={200: serializers.ReminderSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        with transaction.atomic():
            reminder = self.locked_for_write()
            acknowledge_reminder(reminder=reminder, by=request.user)
        return self.detail_response(reminder.pk)
