"""Who may see the program's reports, and the downloads shared by the reports page and the API.

The research exports are de-identified and k-anonymous (a random study id, never a name, MRN,
contact or date of birth) and come as a zip with their data dictionary and the k achieved.
"""

from __future__ import annotations

from django.http import HttpResponse

from audit.log import record_download
from audit.models import PatientAccess
from registry.roles import is_clinical, is_reporting
from reporting import reports

EXPORTS = {"patients": "De-identified patients", "pump-years": "De-identified pump-years"}


def may_see_reports(user) -> bool:
    return is_reporting(user) or is_clinical(user)


def csv_response(header: list[str], rows, filename: str) -> HttpResponse:
    response = HttpResponse(reports.to_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def research_export(kind: str, form) -> reports.ResearchExport:
    """The export ``kind`` for a valid ``ReportParamsForm``: its sites, period and k."""
    data = form.cleaned_data
    make = reports.patient_export if kind == "patients" else reports.pump_year_export
    return make(sites=form.scope(), start=data["start"], end=data["end"], k=data["k"])


def zip_response(request, export: reports.ResearchExport) -> HttpResponse:
    """The export with its data dictionary and README (k requested and achieved) in one zip.

    Each patient in it is logged: study ids are pseudonyms the registry can link back."""
    record_download(request, export.patient_ids, PatientAccess.Channel.RESEARCH)
    response = HttpResponse(export.bundle(), content_type="application/zip")
    name = f"itb-{export.kind}-{export.start:%Y%m%d}-{export.end:%Y%m%d}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-K-Anonymity"] = f"requested={export.k_requested}; achieved={export.k_achieved or 0}"
    return response
