"""Who may see the program's reports, and the CSV downloads shared by the reports page and the API.

The exports are de-identified: a random study id, never a name, MRN, contact or date of birth.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse

from registry.roles import is_clinical, is_reporting
from reporting import reports

EXPORTS = {"patients": "De-identified patients", "pump-years": "De-identified pump-years"}


def may_see_reports(user) -> bool:
    return is_reporting(user) or is_clinical(user)


def csv_response(header: list[str], rows, filename: str) -> HttpResponse:
    response = HttpResponse(reports.to_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_rows(kind: str, sites, start: dt.date, end: dt.date) -> tuple[list[str], list[list]]:
    if kind == "patients":
        return reports.PATIENT_EXPORT_COLUMNS, reports.patient_export(sites=sites, start=start, end=end)
    return reports.PUMP_YEAR_COLUMNS, reports.pump_year_export(sites=sites, start=start, end=end)
