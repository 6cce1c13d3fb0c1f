"""``patients/`` (with ``status/`` and ``status-history/``), ``indications/`` and ``screening-trials/``."""

from __future__ import annotations

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from api import filters, serializers
from api.caching import cached_json_response, request_sites_today
from api.etags import etag_of
from api.views.base import IF_MATCH, CreateReadViewSet, EditableViewSet
from audit.log import fetch_viewed
from audit.models import PatientAccess
from registry import services
from registry.models import Indication, Patient, Pump, ScreeningTrial, StatusChange
from registry.selectors import patient_row, site_days, with_refill_status


@extend_schema_view(update=extend_schema(parameters=[IF_MATCH]), partial_update=extend_schema(parameters=[IF_MATCH]))
class PatientViewSet(EditableViewSet):
    """Patients with their computed schedule. Created and edited through the patient services;
    program status changes only through ``status/``; never deleted (405)."""

    serializer_class = serializers.PatientSerializer
    filterset_class = filters.PatientFilter
    search_fields = ["mrn", "family_name", "given_name", "study_id"]
    ordering_fields = ["family_name", "date_of_birth", "next_refill_due", "alarm_date", "urgency", "id", "created_at"]
    ordering = ["family_name", "given_name", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no query
            return Patient.objects.none()
        # The representation names the site and the active pump by id only: annotated, neither
        # model is loaded (a page of 50 built 100 model instances it did not show).
        active_pump = Pump.objects.filter(patient=OuterRef("pk"), explant_date__isnull=True).values("pk")[:1]
        patients = self.patients().annotate(active_pump_id=Subquery(active_pump))
        if self.detail:
            # One patient's refill status from its site, in Python (the serializer): the SQL rule
            # needs every site's today first, one query more than the record itself.
            return patients.select_related("site")
        # Every site's day as the page's key read it: once per data version, not once per request.
        return with_refill_status(patients, groups=site_days(rows=request_sites_today(self.request)))

    def retrieve(self, request, *args, **kwargs):
        """The patient read and the view logged in one statement (``audit.log.fetch_viewed``)."""
        try:
            pk = int(kwargs["pk"])
            if not 0 < pk < 2**63:
                raise ValueError(pk)
            patient = patient_row(
                self.patients(),
                pk,
                lambda sql, params: fetch_viewed(request, pk, PatientAccess.Channel.API, sql, params),
            )
        except (ValueError, Patient.DoesNotExist) as missing:
            raise Http404("No Patient matches the given query.") from missing
        self.check_object_permissions(request, patient)
        data = serializers.patient_representation(patient)
        return Response(data, headers={"ETag": etag_of(data)})

    def list(self, request, *args, **kwargs):
        """The page from the cache when nothing it shows has changed (``api/caching.py``)."""
        return cached_json_response(
            request, "patients", lambda: super(PatientViewSet, self).list(request, *args, **kwargs).data
        )

    def perform_service_create(self, data):
        site = data.pop("site")
        return services.create_patient(site=site, by=self.request.user, **data)

    def perform_service_update(self, instance, data):
        data.pop("site", None)
        services.update_patient(patient=instance, by=self.request.user, **data)

    @extend_schema(
        request=serializers.StatusTransitionSerializer,
        responses={200: serializers.PatientSerializer},
        parameters=[IF_MATCH],
        summary="Move the patient to another program status (only allowed transitions).",
    )
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        transition = serializers.StatusTransitionSerializer(data=request.data)
        transition.is_valid(raise_exception=True)
        with transaction.atomic():
            patient = self.locked_for_write()
            services.change_status(patient=patient, by=request.user, **transition.validated_data)
        return self.detail_response(patient.pk)

    @extend_schema(responses={200: serializers.StatusChangeSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], url_path="status-history", pagination_class=None, filterset_class=None)
    def status_history(self, request, pk=None):
        patient = self.get_object()
        changes = StatusChange.objects.filter(patient=patient).order_by("changed_on", "id")
        return Response(serializers.StatusChangeSerializer(changes, many=True).data)


class IndicationViewSet(CreateReadViewSet):
    serializer_class = serializers.IndicationSerializer
    filterset_class = filters.IndicationFilter
    ordering_fields = ["id", "diagnosis"]

    def get_queryset(self):
        return Indication.objects.filter(patient__in=self.patients()).order_by("patient_id", "-is_primary", "id")

    def perform_service_create(self, data):
        return services.add_indication(by=self.request.user, **data)


class ScreeningTrialViewSet(CreateReadViewSet):
    serializer_class = serializers.ScreeningTrialSerializer
    filterset_class = filters.ScreeningTrialFilter
    ordering_fields = ["id", "performed_on"]

    def get_queryset(self):
        return ScreeningTrial.objects.filter(patient__in=self.patients()).order_by("performed_on", "id")

    def perform_service_create(self, data):
        return services.record_screening_trial(by=self.request.user, **data)
