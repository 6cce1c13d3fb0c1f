"""An import as a job: the uploaded file kept under ``VAR_DIR/imports``, its dry run and its import
run by a Celery task that writes its progress on the ``ProgramImport`` row."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from registry.imports.program import import_program
from registry.models import ProgramImport, Site

SUFFIXES = (".xlsx", ".csv", ".zip")


def store_upload(upload, *, site: Site, by) -> ProgramImport:
    """Keep the uploaded file and open its job (the dry run comes next)."""
    suffix = Path(upload.name).suffix.lower()
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return ProgramImport.objects.create(
        site=site,
        uploaded_by=by if getattr(by, "pk", None) else None,
        file_name=upload.name[:200],
        stored_path=str(path),
    )


def run(import_id: int, *, write: bool) -> ProgramImport:
    """The dry run (``write=False``) or the import of one uploaded file, with its progress saved."""
    job = ProgramImport.objects.select_related("site", "uploaded_by").get(pk=import_id)
    ProgramImport.objects.filter(pk=job.pk).update(
        state=ProgramImport.State.WRITING if write else ProgramImport.State.CHECKING, done=0, total=0
    )

    def progress(phase: str, done: int, total: int) -> None:
        ProgramImport.objects.filter(pk=job.pk).update(phase=phase, done=done, total=total)

    try:
        result = import_program(job.stored_path, job.site, by=job.uploaded_by, dry_run=not write, progress=progress)
    except Exception:
        ProgramImport.objects.filter(pk=job.pk).update(
            state=ProgramImport.State.FAILED,
            result={"error": "The import stopped on an unexpected error; nothing more was written."},
            finished_at=timezone.now(),
        )
        raise
    if write and result.clean:
        state = ProgramImport.State.IMPORTED
    else:
        state = ProgramImport.State.CHECKED
    ProgramImport.objects.filter(pk=job.pk).update(state=state, result=result.as_dict(), finished_at=timezone.now())
    job.refresh_from_db()
    return job
