"""Record that a user viewed a patient (dashboard page, API detail, FHIR read or export)."""

from __future__ import annotations

from accounts.client_ip import client_ip
from audit.models import PatientAccess


def record_view(request, patient_id: int, channel: str) -> None:
    """One INSERT; never fails the page that shows the record (an address may be missing)."""
    user = request.user
    PatientAccess.objects.create(
        user_id=user.pk,
        username=user.get_username(),
        patient_id=patient_id,
        channel=channel,
        path=request.get_full_path()[:500],
        client_ip=client_ip(request) or None,
    )


def recent_viewers(patient_id: int, limit: int = 10) -> list[PatientAccess]:
    """The latest views of a patient, newest first (the patient page shows them to administrators)."""
    return list(PatientAccess.objects.filter(patient_id=patient_id).order_by("-at", "-id")[:limit])
