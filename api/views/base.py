"""Viewsets of ``/api/v1/``: thin. Serializers check shape and scope, ``registry.services`` write.

Decisions:
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

from functools import partial

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api.etags import check_if_match, etag_of
from api.permissions import HasStaffRole, IsClinicalStaff
from registry.roles import patients_for
from registry.selectors.paging import COUNT_LIMIT, CountingPaginator

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="ETag from a previous read; the write is refused with 412 if the record changed since.",
)


class RegistryPagination(PageNumberPagination):
    """Pages of 50 (up to 200) whose ``count`` stops after ``COUNT_LIMIT`` rows or the page asked for
    (``count_exact`` False: there are at least ``count``); ``page=last`` counts every row."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    count_limit = COUNT_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = self.paginator_for(request.query_params.get(self.page_query_param, 1))
        return super().paginate_queryset(queryset, request, view)

    def paginator_for(self, asked):
        """The paginator class for the page ``asked`` (a number or ``last``)."""
        return partial(CountingPaginator, asked=asked, count_limit=self.count_limit)

    def count_exact(self) -> bool:
        return self.page.paginator.count_exact

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data = {"count": response.data["count"], "count_exact": self.count_exact(), **response.data}
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"] = {
            "count": schema["properties"]["count"],
            "count_exact": {
                "type": "boolean",
                "description": f"False when the count stopped after {self.count_limit:,} items (or the page asked "
                "for): there are at least ``count`` items. Ask for page=last for the exact total.",
            },
            **schema["properties"],
        }
        schema["required"] = [*schema.get("required", []), "count_exact"]
        return schema


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
        # a detail request.
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
