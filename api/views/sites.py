"""``sites/``: the sites a user works for, read-only over the API."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from api import serializers
from api.permissions import HasStaffRole, ReadOnlyUnlessAdministrator
from api.views.base import RegistryPagination
from registry.roles import sites_for


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
