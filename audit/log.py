"""Record that a user viewed a patient (dashboard page, API detail, FHIR read) or carried it off in a file."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from accounts.client_ip import client_ip
from audit.models import PatientAccess
from registry.selectors.rows import fetch_all


def _view(request, patient_id: int, channel: str) -> dict:
    user = request.user
    return {
        "user_id": user.pk,
        "username": user.get_username(),
        "patient_id": patient_id,
        "channel": channel,
        "path": request.get_full_path()[:500],
        "client_ip": client_ip(request) or None,
    }


def record_view(request, patient_id: int, channel: str) -> None:
    """One INSERT; never fails the page that shows the record (an address may be missing)."""
    PatientAccess.objects.create(**_view(request, patient_id, channel))


def fetch_viewed(request, patient_id: int, channel: str, sql: str, params: Sequence) -> list[tuple]:
    """The rows of ``sql``, a read of patient ``patient_id``; when it returns any, the view is
    recorded as ``record_view`` records it. On PostgreSQL the row is inserted by the same statement
    (a data-modifying WITH): one round trip and one commit, and no row without the read or the
    read without its row. Elsewhere the read, then ``record_view``."""
    if connection.vendor != "postgresql":
        rows = fetch_all(sql, params)
        if rows:
            record_view(request, patient_id, channel)
        return rows
    values = {"at": timezone.now(), **_view(request, patient_id, channel)}
    fields = {name: PatientAccess._meta.get_field(name) for name in values}
    insert = (
        f"INSERT INTO {PatientAccess._meta.db_table} ({', '.join(f.column for f in fields.values())}) "  # noqa: S608
        f"SELECT {', '.join(['%s'] * len(fields))} WHERE EXISTS (SELECT 1 FROM seen)"
    )
    prepared = [field.get_db_prep_save(values[name], connection) for name, field in fields.items()]
    with connection.cursor() as cursor:
        # ``sql`` is the caller's statement (names from the models, values bound), not a request's text.
        cursor.execute(f"WITH seen AS ({sql}), access AS ({insert}) SELECT * FROM seen", [*params, *prepared])  # noqa: S608
        return cursor.fetchall()


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
