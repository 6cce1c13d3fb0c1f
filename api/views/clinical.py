"""``follow-ups/`` (``complete/``, ``cancel/``), ``goals/``, ``goal-reviews/`` and ``complications/``."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from api import filters, serializers
from api.views.base import CreateReadViewSet
from registry import services
from registry.models import Complication, FollowUp, Goal, GoalReview


class FollowUpViewSet(CreateReadViewSet):
    """Scheduled with POST; ``complete/`` and ``cancel/`` close a visit."""

    serializer_class = serializers.FollowUpSerializer
    filterset_class = filters.FollowUpFilter
    ordering_fields = ["id", "due_date"]

    def get_queryset(self):
        return FollowUp.objects.filter(patient__in=self.patients()).order_by("due_date", "id")

    def perform_service_create(self, data):
        return services.schedule_follow_up(booking=True, by=self.request.user, **data)

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
