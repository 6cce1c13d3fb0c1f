"""Who may call what (docs/architecture.md, "Roles"). Small classes, one question each.

Object-level scoping (a coordinator sees only their sites' patients) is done by the viewsets'
querysets through ``registry.roles``, so another site's record is a 404, never a 403 that would
confirm it exists.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from registry.roles import Role, is_clinical, role_of


class HasStaffRole(BasePermission):
    """Any role at all: a login without a staff profile reaches nothing but the token endpoint."""

    message = "Your account has no role in the registry; ask an administrator."

    def has_permission(self, request, view):
        return role_of(request.user) is not None


class IsClinicalStaff(BasePermission):
    """Identifying and clinical records: coordinators, clinicians and administrators only."""

    message = "Your role may see aggregate and de-identified data only."

    def has_permission(self, request, view):
        return is_clinical(request.user)


class ReadOnlyUnlessAdministrator(BasePermission):
    """Reference data (sites) is read by every role and changed by administrators only."""

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or role_of(request.user) == Role.ADMINISTRATOR
