"""Who may see what (docs/architecture.md, "Roles"). Every view, endpoint and export scopes through here.

- administrator (or superuser): every site, every record;
- coordinator and clinician: read and write the clinical records of their own sites;
- reporting: aggregate and de-identified data of their own sites only, never identifying fields;
- a user without a staff profile has no access to registry data.
"""

from __future__ import annotations

from django.db.models import QuerySet

from registry.models import Patient, Site, StaffProfile

Role = StaffProfile.Role
CLINICAL_ROLES = {Role.COORDINATOR, Role.CLINICIAN, Role.ADMINISTRATOR}


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    profile = getattr(user, "staff", None)
    return profile.role if profile is not None else None


def is_clinical(user) -> bool:
    return role_of(user) in CLINICAL_ROLES


def is_reporting(user) -> bool:
    return role_of(user) in {Role.REPORTING, Role.ADMINISTRATOR}


def sites_for(user) -> QuerySet[Site]:
    role = role_of(user)
    if role == Role.ADMINISTRATOR:
        return Site.objects.all()
    if role is None:
        return Site.objects.none()
    return Site.objects.filter(staff__user=user)


def patient_site_ids(user) -> list[int] | None:
    """The sites whose patients ``user`` may see (``patients_for``), as ids read now (one query).

    ``None``: every site (administrators); ``[]``: none (reporting, or no role).
    """
    if not is_clinical(user):
        return []
    if role_of(user) == Role.ADMINISTRATOR:
        return None
    return list(sites_for(user).values_list("pk", flat=True))


def patients_for(user) -> QuerySet[Patient]:
    """Patients whose identifying and clinical records ``user`` may see (reporting: none).

    The worklist scopes by ``patient_site_ids`` instead: a list of ids lets the planner use the site
    indexes, where this subquery hid them.
    """
    if not is_clinical(user):
        return Patient.objects.none()
    if role_of(user) == Role.ADMINISTRATOR:
        return Patient.objects.all()
    return Patient.objects.filter(site__in=sites_for(user))
