"""The access log in the admin: read-only, searchable by patient and by user, for administrators."""

from django.contrib import admin

from audit.models import PatientAccess
from registry.roles import Role, role_of


@admin.register(PatientAccess)
class PatientAccessAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "patient", "channel", "client_ip", "path"]
    list_filter = ["channel", "at"]
    date_hierarchy = "at"
    search_fields = ["username", "patient__mrn", "patient__family_name", "=patient__id", "=user__id"]
    list_select_related = ["patient"]
    show_full_result_count = False

    def _is_administrator(self, request) -> bool:
        return role_of(request.user) == Role.ADMINISTRATOR

    def has_view_permission(self, request, obj=None):
        return self._is_administrator(request)

    def has_module_permission(self, request):
        return self._is_administrator(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
