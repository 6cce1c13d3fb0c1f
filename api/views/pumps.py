"""``pumps/`` (implant, ``replace/``, ``explant/``), ``refills/`` and ``dose-changes/``."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action

from api import filters, serializers
from api.views.base import IF_MATCH, CreateReadViewSet, EditableViewSet
from registry import services
from registry.models import DoseChange, Pump, Refill


@extend_schema_view(update=extend_schema(parameters=[IF_MATCH]), partial_update=extend_schema(parameters=[IF_MATCH]))
class PumpViewSet(EditableViewSet):
    """POST implants a pump (the patient becomes implanted); ``replace/`` and ``explant/`` end it.
    PUT/PATCH correct documented details through ``update_pump``; pumps are never deleted."""

    serializer_class = serializers.PumpSerializer
    filterset_class = filters.PumpFilter
    search_fields = ["serial_number", "model"]
    ordering_fields = ["id", "implant_date", "eri_date"]

    def get_queryset(self):
        return Pump.objects.filter(patient__in=self.patients()).order_by("implant_date", "id")

    def perform_service_create(self, data):
        patient, implant_date = data.pop("patient"), data.pop("implant_date")
        return services.implant_pump(patient=patient, implant_date=implant_date, by=self.request.user, **data)

    def perform_service_update(self, instance, data):
        data.pop("patient", None)
        services.update_pump(pump=instance, by=self.request.user, **data)

    @extend_schema(
        request=serializers.PumpReplaceSerializer,
        responses={201: serializers.PumpSerializer},
        parameters=[IF_MATCH],
        summary="Replace this pump: it is explanted and its successor implanted the same day.",
    )
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        body = serializers.PumpReplaceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            pump = self.locked_for_write()
            new = services.replace_pump(pump=pump, by=request.user, **body.validated_data)
        return self.detail_response(new.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=serializers.PumpExplantSerializer,
        responses={200: serializers.PumpSerializer},
        parameters=[IF_MATCH],
        summary="Explant this pump without a successor (the patient becomes explanted).",
    )
    @action(detail=True, methods=["post"])
    def explant(self, request, pk=None):
        body = serializers.PumpExplantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            pump = self.locked_for_write()
            services.explant_pump(pump=pump, by=request.user, **body.validated_data)
        return self.detail_response(pump.pk)


class RefillViewSet(CreateReadViewSet):
    """Recorded through ``record_refill``, which reschedules the patient in the same transaction."""

    serializer_class = serializers.RefillSerializer
    filterset_class = filters.RefillFilter
    ordering_fields = ["id", "performed_at"]

    def get_queryset(self):
        return (
            Refill.objects.filter(pump__patient__in=self.patients())
            .select_related("pump")
            .order_by("-performed_at", "-id")
        )

    def perform_service_create(self, data):
        return services.record_refill(by=self.request.user, **data)


class DoseChangeViewSet(CreateReadViewSet):
    serializer_class = serializers.DoseChangeSerializer
    filterset_class = filters.DoseChangeFilter
    ordering_fields = ["id", "effective_at"]

    def get_queryset(self):
        return (
            DoseChange.objects.filter(pump__patient__in=self.patients())
            .select_related("pump")
            .order_by("-effective_at", "-id")
        )

    def perform_service_create(self, data):
        return services.record_dose_change(by=self.request.user, **data)
