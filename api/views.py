"""Viewsets of ``/api/v1/``: thin. Serializers check shape and scope, ``registry.services`` write.

Decisions (issue 4):
- Scoping is the queryset: ``registry.roles.patients_for`` / ``sites_for``. Another site's record
  is a 404; a reference to one in a body is a 400 field error.
- Clinical records (refills, dose changes, indications, trials, goals, reviews, complications)
  are created and read, never edited or deleted over the API: a documented record is amended by
  recording a new one, so the history stays what clinicians wrote. PUT/PATCH/DELETE answer 405.
- Patients and pumps are edited (PUT/PATCH) through ``update_patient`` / ``update_pump`` and
  never deleted (405); their program status and pump lifecycle change through actions.
- Detail responses carry an ETag; writes honour ``If-Match`` (412 when stale, api/etags.py).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from api import filters, serializers
from api.caching import cached_page
from api.etags import check_if_match, etag_of
from api.permissions import HasStaffRole, IsClinicalStaff, ReadOnlyUnlessAdministrator
from registry import services
from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    Pump,
    Refill,
    Reminder,
    ScreeningTrial,
    StatusChange,
)
from registry.roles import patient_site_ids, patients_for, sites_for
from registry.selectors import with_refill_status, worklist_page
from registry.services.reminders_inbox import acknowledge_reminder

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="ETag from a previous read; the write is refused with 412 if the record changed since.",
)


class RegistryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ClinicalViewSet(viewsets.GenericViewSet):
    """Base of the clinical endpoints: clinical roles only, scoped querysets, ETags, services."""

    permission_classes = [IsAuthenticated, HasStaffRole, IsClinicalStaff]
    pagination_class = RegistryPagination
    # Any path segment reaches the view, so a malformed id is a JSON 404, not Django's HTML page.
    lookup_value_regex = "[^/]+"

    def patients(self):
        return patients_for(self.request.user)

    def filter_queryset(self, queryset):
        # Query filters narrow lists. A record named by its id is found by its id within the
        # user's scope (``get_queryset``); building the list's filter form for it cost a fifth of
        # a detail request (issue 7).
        if getattr(self, "detail", False):
            return queryset
        return super().filter_queryset(queryset)

    def detail_response(self, pk, status_code=status.HTTP_200_OK) -> Response:
        """The fresh representation (as a GET would give it) with its ETag."""
        instance = self.get_queryset().get(pk=pk)
        data = self.get_serializer(instance).data
        return Response(data, status=status_code, headers={"ETag": etag_of(data)})

    def retrieve(self, request, *args, **kwargs):
        data = self.get_serializer(self.get_object()).data
        return Response(data, headers={"ETag": etag_of(data)})

    def locked_for_write(self):
        """Scope check (404), a row lock for the rest of the transaction, then the If-Match check.

        The lock makes the comparison and the write one step: a concurrent writer waits, then
        sees a changed ETag and gets 412 instead of silently overwriting.
        """
        instance = self.get_object()
        list(type(instance).objects.select_for_update().filter(pk=instance.pk).values_list("pk", flat=True))
        instance = self.get_object()
        check_if_match(self.request, etag_of(self.get_serializer(instance).data))
        return instance

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CreateReadViewSet(ClinicalViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """A clinical record that is recorded and read, never edited (amend by a new record)."""

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = self.perform_service_create(dict(serializer.validated_data))
        return self.detail_response(created.pk, status.HTTP_201_CREATED)

    def perform_service_create(self, data: dict):
        raise NotImplementedError


class EditableViewSet(CreateReadViewSet, mixins.UpdateModelMixin):
    def update(self, request, *args, partial=False, **kwargs):
        with transaction.atomic():
            instance = self.locked_for_write()
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_service_update(instance, dict(serializer.validated_data))
        return self.detail_response(instance.pk)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_service_update(self, instance, data: dict):
        raise NotImplementedError


# --- Sites ---------------------------------------------------------------------------------------


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    """Sites the user works for (administrators: all). Every role may read them; they identify
    no patient. Sites and their clinical settings are edited in the Django admin."""

    serializer_class = serializers.SiteSerializer
    permission_classes = [IsAuthenticated, HasStaffRole, ReadOnlyUnlessAdministrator]
    pagination_class = RegistryPagination
    lookup_value_regex = "[^/]+"
    search_fields = ["name"]
    ordering_fields = ["name", "id"]
    filterset_fields = ["time_zone"]

    def get_queryset(self):
        return sites_for(self.request.user).order_by("name")


# --- Patients ------------------------------------------------------------------------------------


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
        return with_refill_status(self.patients().annotate(active_pump_id=Subquery(active_pump)))

    def list(self, request, *args, **kwargs):
        """The page from the cache when nothing it shows has changed (``api/caching.py``)."""
        data = cached_page(request, "patients", lambda: super(PatientViewSet, self).list(request, *args, **kwargs).data)
        return Response(data)

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


# --- Records hanging off a patient ---------------------------------------------------------------


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


# --- Records hanging off a pump ------------------------------------------------------------------


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


# --- Follow-ups, goals, complications -----------------------------------------------------------


class FollowUpViewSet(CreateReadViewSet):
    """Scheduled with POST; ``complete/`` and ``cancel/`` close a visit."""

    serializer_class = serializers.FollowUpSerializer
    filterset_class = filters.FollowUpFilter
    ordering_fields = ["id", "due_date"]

    def get_queryset(self):
        return FollowUp.objects.filter(patient__in=self.patients()).order_by("due_date", "id")

    def perform_service_create(self, data):
        return services.schedule_follow_up(by=self.request.user, **data)

    @extend_schema(request=serializers.FollowUpCompleteSerializer, responses={200: serializers.FollowUpSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        body = serializers.FollowUpCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            visit = self.locked_for_write()
            services.complete_follow_up(follow_up=visit, by=request.user, **body.validated_data)
        return self.detail_response(visit.pk)

    @extend_schema(request=serializers.FollowUpCancelSerializer, responses={200: serializers.FollowUpSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = serializers.FollowUpCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            visit = self.locked_for_write()
            services.cancel_follow_up(follow_up=visit, by=request.user, **body.validated_data)
        return self.detail_response(visit.pk)


class GoalViewSet(CreateReadViewSet):
    serializer_class = serializers.GoalSerializer
    filterset_class = filters.GoalFilter
    ordering_fields = ["id", "set_on"]

    def get_queryset(self):
        return Goal.objects.filter(patient__in=self.patients()).order_by("set_on", "id")

    def perform_service_create(self, data):
        return services.set_goal(by=self.request.user, **data)


class GoalReviewViewSet(CreateReadViewSet):
    serializer_class = serializers.GoalReviewSerializer
    filterset_class = filters.GoalReviewFilter
    ordering_fields = ["id", "reviewed_on"]

    def get_queryset(self):
        return GoalReview.objects.filter(goal__patient__in=self.patients()).order_by("reviewed_on", "id")

    def perform_service_create(self, data):
        return services.review_goal(by=self.request.user, **data)


class ComplicationViewSet(CreateReadViewSet):
    serializer_class = serializers.ComplicationSerializer
    filterset_class = filters.ComplicationFilter
    ordering_fields = ["id", "occurred_on"]

    def get_queryset(self):
        return Complication.objects.filter(patient__in=self.patients()).order_by("occurred_on", "id")

    def perform_service_create(self, data):
        return services.record_complication(by=self.request.user, **data)


# --- Reminders -----------------------------------------------------------------------------------


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


# --- Worklist ------------------------------------------------------------------------------------


class _PagedWorklist:
    """The worklist as a sequence Django's paginator can count and slice, one SQL page at a time.

    ``registry.selectors.worklist_page`` ranks and cuts the items in SQL, so a page of 50 costs
    the same at 100,000 patients as at 100 (issue 7).
    """

    def __init__(self, *, expected: slice | None = None, **query):
        self.query = query
        self.expected, self._page = expected, None

    def count(self) -> int:
        if self.expected is None:
            return worklist_page(**self.query, offset=0, limit=0).total
        # The page the request asks for, with the total, in one pass: the paginator counts, then
        # slices this very window (one site look-up and one plan instead of two).
        start, stop = self.expected.start, self.expected.stop
        self._page = worklist_page(**self.query, offset=start, limit=stop - start)
        return self._page.total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice):
        start = window.start or 0
        if self._page is not None and (start, window.stop) == (self.expected.start, self.expected.stop):
            return self._page.items
        # The paginator has counted already: fetch only the page (one full ranking, not two).
        return worklist_page(**self.query, offset=start, limit=window.stop - start, count=False).items


@extend_schema(
    parameters=[serializers.WorklistQuerySerializer],
    responses={200: serializers.WorkItemSerializer(many=True)},
    summary="Everything due, overdue or critical in the window, most urgent first.",
)
class WorklistView(GenericAPIView):
    """The dashboard's worklist (``registry.selectors.worklist``) for the user's patients.

    Critical, overdue and missed items are listed whatever ``start`` says (nobody past a date
    falls out of a window). Paginated like every list.
    """

    permission_classes = [IsAuthenticated, HasStaffRole, IsClinicalStaff]
    serializer_class = serializers.WorkItemSerializer
    pagination_class = RegistryPagination
    filter_backends = []

    def get(self, request):
        query = serializers.WorklistQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        kinds = tuple(sorted(params["kind"])) if params.get("kind") else ("refill", "battery", "follow_up")

        def compute():
            sites = patient_site_ids(request.user)  # None: every site
            if "site" in params:
                sites = [params["site"]] if sites is None or params["site"] in sites else []
            query = {"start": params["start"], "end": params["end"], "sites": sites, "kinds": kinds}
            items = _PagedWorklist(**query, expected=self.expected_window())
            page = self.paginate_queryset(items)
            return self.get_paginated_response(self.get_serializer(page, many=True).data).data

        return Response(cached_page(request, "worklist", compute))

    def expected_window(self) -> slice | None:
        """The rows the requested page number covers, if it is a plain number (else: ask the paginator)."""
        size = self.paginator.get_page_size(self.request)
        number = self.request.query_params.get(self.paginator.page_query_param, "1")
        if not size or not number.isdigit() or int(number) < 1:
            return None
        return slice((int(number) - 1) * size, int(number) * size)


# --- Token ---------------------------------------------------------------------------------------


@extend_schema(
    request=serializers.TokenRequestSerializer,
    responses={200: serializers.TokenResponseSerializer, 400: OpenApiResponse(description="Wrong credentials.")},
    auth=[],
    summary="Exchange a username and password for an API token.",
)
class TokenView(ObtainAuthToken):
    """DRF's token endpoint, throttled (``DEFAULT_THROTTLE_RATES["token"]``) against guessing."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
