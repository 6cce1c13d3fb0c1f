"""The import page: download the template, upload a program, read its dry run, confirm the import.

The dry run and the import run as Celery tasks; the job's row holds their progress, which the
page polls with htmx until the task is done.
"""

from __future__ import annotations

from functools import wraps
from pathlib import Path

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from registry.imports import jobs, template_workbook
from registry.models import ProgramImport, StaffProfile
from registry.roles import role_of, sites_for

IMPORTING_ROLES = {StaffProfile.Role.COORDINATOR, StaffProfile.Role.ADMINISTRATOR}
RUNNING = (ProgramImport.State.CHECKING, ProgramImport.State.WRITING)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UploadForm(forms.Form):
    site = forms.ModelChoiceField(queryset=None, help_text="Every patient in the file belongs to this site.")
    file = forms.FileField(
        label="Program file", help_text="The filled template (.xlsx), a CSV file or a ZIP of CSV files."
    )

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        if sites.count() == 1:
            self.fields["site"].initial = sites.first()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in jobs.SUFFIXES:
            raise forms.ValidationError("Upload the filled template (.xlsx), a CSV file or a ZIP of CSV files.")
        return upload


def importer_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if role_of(request.user) not in IMPORTING_ROLES:
            raise PermissionDenied("Importing a program is for coordinators and administrators.")
        return view(request, *args, **kwargs)

    return wrapper


def _enqueue(job: ProgramImport, *, write: bool) -> None:
    from tasks.tasks import import_program  # the tasks module imports the registry, not the reverse

    transaction.on_commit(lambda: import_program.delay(job.pk, write))


@importer_required
def import_page(request):
    sites = sites_for(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        job = jobs.store_upload(form.cleaned_data["file"], site=form.cleaned_data["site"], by=request.user)
        _enqueue(job, write=False)
        return redirect("import_job", pk=job.pk)
    recent = ProgramImport.objects.filter(site__in=sites).select_related("site")[:20]
    return render(request, "dashboard/import.html", {"form": form, "recent": recent})


@importer_required
def import_template(request):
    response = HttpResponse(template_workbook(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="itb-program-template.xlsx"'
    return response


def _job(request, pk: int) -> ProgramImport:
    return get_object_or_404(ProgramImport.objects.select_related("site"), pk=pk, site__in=sites_for(request.user))


@importer_required
def import_job(request, pk: int):
    job = _job(request, pk)
    context = {"job": job, "running": job.state in RUNNING}
    if request.htmx:
        return render(request, "dashboard/partials/import_job.html", context)
    return render(request, "dashboard/import_job.html", context)


@require_POST
@importer_required
def import_confirm(request, pk: int):
    job = _job(request, pk)
    checked = job.state == ProgramImport.State.CHECKED and job.result.get("dry_run")
    if checked and job.result.get("problem_count") == 0:
        ProgramImport.objects.filter(pk=job.pk).update(state=ProgramImport.State.WRITING, phase="", done=0, total=0)
        _enqueue(job, write=True)
    return redirect("import_job", pk=job.pk)
