"""Writing a bulk export: one NDJSON file per resource type, streamed batch by batch.

Files go to ``FHIR_EXPORT_DIR/<export id>/`` under a temporary name and are renamed when
complete, so a file that can be downloaded is always whole. ``expire`` deletes the files of
exports past their retention (``FHIR_EXPORT_RETENTION_HOURS``); the row stays as the audit trail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from audit.log import record_export
from fhir_api import readers
from fhir_api.models import BulkExport

log = logging.getLogger(__name__)
FINISHED = [BulkExport.Status.COMPLETED, BulkExport.Status.FAILED, BulkExport.Status.CANCELLED]


def directory(export_id) -> Path:
    return Path(settings.FHIR_EXPORT_DIR) / str(export_id)


def file_name(resource_type: str) -> str:
    return f"{resource_type}.ndjson"


def _cancelled(export_id) -> bool:
    return BulkExport.objects.filter(pk=export_id, status=BulkExport.Status.CANCELLED).exists()


def run(export_id) -> str:
    """Write the export's files; safe to run twice (a finished or running export is left alone)."""
    claimed = BulkExport.objects.filter(pk=export_id, status=BulkExport.Status.ACCEPTED).update(
        status=BulkExport.Status.RUNNING
    )
    if not claimed:
        return "nothing to do"
    export = BulkExport.objects.get(pk=export_id)
    folder = directory(export.pk)
    folder.mkdir(parents=True, exist_ok=True)
    query = readers.Query(export.site_ids)
    output = []
    try:
        for n, resource_type in enumerate(export.resource_types, start=1):
            BulkExport.objects.filter(pk=export.pk).update(
                progress=f"Writing {resource_type} ({n} of {len(export.resource_types)})"
            )
            if _cancelled(export.pk):
                shutil.rmtree(folder, ignore_errors=True)
                return "cancelled"
            count = write_ndjson(folder, resource_type, query)
            output.append({"type": resource_type, "file": file_name(resource_type), "count": count})
    except Exception as exc:
        log.exception("bulk export %s failed", export.pk)
        shutil.rmtree(folder, ignore_errors=True)
        _finish(export.pk, BulkExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    url = urlsplit(export.request_url)
    patient_ids = list(query.rows(readers.SOURCES["Patient"][0]).values_list("pk", flat=True))
    record_export(
        export.requested_by, patient_ids, path=f"{url.path}?{url.query}".rstrip("?"), client_ip=export.client_ip
    )
    _finish(export.pk, BulkExport.Status.COMPLETED, output=output)
    return f"exported {sum(o['count'] for o in output)} resources"


def write_ndjson(folder: Path, resource_type: str, query: readers.Query) -> int:
    part = folder / (file_name(resource_type) + ".part")
    count = 0
    with part.open("w", encoding="utf-8") as out:
        for resource in readers.stream(resource_type, query):
            out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    part.rename(folder / file_name(resource_type))
    return count


def _finish(export_id, status: str, **fields) -> None:
    now = timezone.now()
    expires = now + dt.timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS)
    BulkExport.objects.filter(pk=export_id).exclude(status=BulkExport.Status.CANCELLED).update(
        status=status, completed_at=now, expires_at=expires, progress="", **fields
    )


def expire(now: dt.datetime | None = None) -> int:
    """Delete the files of finished exports past their expiry; returns how many expired."""
    now = now or timezone.now()
    # An export still running a whole retention period after it was asked for lost its worker.
    stale = now - dt.timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS)
    BulkExport.objects.filter(status=BulkExport.Status.RUNNING, requested_at__lt=stale).update(
        status=BulkExport.Status.FAILED,
        error="The export stopped (its worker was lost); ask for it again.",
        completed_at=now,
        expires_at=now + dt.timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS),
    )
    due = list(BulkExport.objects.filter(status__in=FINISHED, expires_at__lte=now).values_list("pk", flat=True))
    for export_id in due:
        shutil.rmtree(directory(export_id), ignore_errors=True)
    BulkExport.objects.filter(pk__in=due).update(status=BulkExport.Status.EXPIRED, output=[])
    return len(due)


def cancel(export: BulkExport) -> None:
    """Stop (between resource types) and delete: the status URL then answers 404."""
    now = timezone.now()
    BulkExport.objects.filter(pk=export.pk).update(
        status=BulkExport.Status.CANCELLED, completed_at=now, expires_at=now, output=[]
    )
    shutil.rmtree(directory(export.pk), ignore_errors=True)
