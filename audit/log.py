"""Record that a user viewed a patient (dashboard page, API detail, FHIR read) or carried it off in a file."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

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


def record_export(
    user,
    patient_ids: Sequence[int],
    *,
    path: str,
    client_ip: str | None,
    channel: str = PatientAccess.Channel.EXPORT,
    batch: int = 1000,
) -> None:
    """One row per patient in a file, one INSERT per ``batch`` rows (a bulk export reads a program)."""
    at = timezone.now()
    for start in range(0, len(patient_ids), batch):
        PatientAccess.objects.bulk_create(
            PatientAccess(
                at=at,
                user_id=user.pk,
                username=user.get_username(),
                patient_id=patient_id,
                channel=channel,
                path=path[:500],
                client_ip=client_ip,
            )
            for patient_id in patient_ids[start : start + batch]
        )


def record_download(request, patient_ids: Sequence[int], channel: str, *, user=None, path: str | None = None) -> None:
    """``record_export`` for a file served to ``request``: ``user`` when it is not the request's
    (a calendar link's owner), ``path`` when the address holds a secret to leave out."""
    record_export(
        user or request.user,
        patient_ids,
        path=request.get_full_path() if path is None else path,
        client_ip=client_ip(request) or None,
        channel=channel,
    )


def recent_viewers(patient_id: int, limit: int = 10) -> list[PatientAccess]:
    """The latest views of a patient, newest first (the patient page shows them to administrators)."""
    return list(PatientAccess.objects.filter(patient_id=patient_id).order_by("-at", "-id")[:limit])
