"""Program reports in the API: aggregate figures and de-identified exports.

- ``GET reports/summary/?site=&start=&end=``: every figure of ``reporting.reports.summary`` (JSON);
- ``GET reports/tables/<name>.csv``: one table of it as CSV (names in ``reporting.reports.TABLES``);
- ``GET reports/export/patients.zip`` and ``reports/export/pump-years.zip``: the de-identified,
  k-anonymous research rows (study id, never a name, MRN, contact or date of birth) with their data
  dictionary and a README stating the k requested and achieved (``?k=`` may raise the minimum).

Open to the reporting role, administrators and the clinical staff of their own sites (they may see
their program's aggregates; the exports carry no identifiers for anyone). Parameters are validated
by the same form as the reports page: bad ones give 400 with field messages, never 500.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path, re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from reporting import reports
from reporting.exports import csv_response, may_see_reports, research_export, zip_response
from reporting.forms import ReportParamsForm


class CanSeeReports(BasePermission):
    """Signed in, and program reporting, administrator or clinical staff (roles.py)."""

    message = "Reports are for program reporting, administrators and clinical staff."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and may_see_reports(request.user))


class CSVRenderer(BaseRenderer):
    """Lets clients ask for ``text/csv``; field errors then come as ``field,message`` rows."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str | bytes):
            return data
        rows = []
        for field, messages in (data or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                rows.append([field, message])
        return reports.to_csv(["field", "message"], rows)


EXPORT_K = OpenApiParameter(
    "k",
    OpenApiTypes.INT,
    description="Each combination of quasi-identifiers is shared by at least k patients "
    "(default and minimum: the registry's RESEARCH_EXPORT_K).",
)
PARAMETERS = [
    OpenApiParameter(
        "site", OpenApiTypes.INT, many=True, description="Site id; repeat for several. Default: all yours."
    ),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 1 January this year)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, included (default: today)."),
]
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid parameters, by field."),
    401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not signed in."),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="Not a reporting, administrator or clinical user."),
}
CSV_RESPONSES = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV with a header row."),
    (400, "application/json"): ERRORS[400],
    (400, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="field,message rows."),
    (401, "application/json"): ERRORS[401],
    (403, "application/json"): ERRORS[403],
    (404, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="No such table or export."),
    # A client that asked for CSV (``?format=csv`` or ``Accept: text/csv``) gets its errors as CSV too.
    (401, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="field,message rows."),
    (403, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="field,message rows."),
    (404, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="field,message rows."),
}


class ReportView(APIView):
    permission_classes = [CanSeeReports]

    def params(self, request) -> ReportParamsForm | Response:
        form = ReportParamsForm(request.query_params, user=request.user)
        if not form.is_valid():
            errors = {field: [e["message"] for e in items] for field, items in form.errors.get_json_data().items()}
            return Response(errors, status=400)
        return form


class SummaryView(ReportView):
    @extend_schema(
        operation_id="reports_summary",
        summary="Program summary: census, activity, refills, safety, goals, follow-ups, reminders",
        parameters=PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Nested sections."), **ERRORS},
        tags=["reports"],
    )
    def get(self, request):
        form = self.params(request)
        if isinstance(form, Response):
            return form
        data = form.cleaned_data
        return Response(reports.summary(sites=form.scope(), start=data["start"], end=data["end"]))


class TableView(ReportView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="reports_table_csv",
        summary="One table of the summary as CSV",
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(reports.TABLES)), *PARAMETERS],
        responses=CSV_RESPONSES,
        tags=["reports"],
    )
    def get(self, request, name: str):
        if name not in reports.TABLES:
            raise Http404("No such report table.")
        form = self.params(request)
        if isinstance(form, Response):
            return form
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        header, rows = reports.table(reports.summary(sites=form.scope(), start=start, end=end), name)
        return csv_response(header, rows, f"itb-{name}-{start:%Y%m%d}-{end:%Y%m%d}.csv")


class ZipRenderer(BaseRenderer):
    """Lets clients ask for ``application/zip``; errors then come as JSON text."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


ZIP_RESPONSES = {
    (200, "application/zip"): OpenApiResponse(
        OpenApiTypes.BINARY, description="Zip: the CSV rows, data_dictionary.csv and README.txt (k achieved)."
    ),
    **{(code, "application/json"): ERRORS[code] for code in (400, 401, 403)},
    # A client that asked for a zip (``?format=zip`` or ``Accept: application/zip``) gets its errors as JSON text.
    **{(code, "application/zip"): OpenApiResponse(OpenApiTypes.STR, description="JSON") for code in (400, 401, 403)},
}


class ExportView(ReportView):
    renderer_classes = [JSONRenderer, ZipRenderer]
    kind = ""

    def get(self, request):
        form = self.params(request)
        if isinstance(form, Response):
            return form
        return zip_response(request, research_export(self.kind, form))


class PatientExportView(ExportView):
    kind = "patients"

    @extend_schema(
        operation_id="reports_export_patients",
        summary="De-identified, k-anonymous patients (one row per patient), with data dictionary",
        parameters=[*PARAMETERS, EXPORT_K],
        responses=ZIP_RESPONSES,
        tags=["reports"],
    )
    def get(self, request):
        return super().get(request)


class PumpYearExportView(ExportView):
    kind = "pump-years"

    @extend_schema(
        operation_id="reports_export_pump_years",
        summary="De-identified pump-years (one row per pump and calendar year), with data dictionary",
        parameters=[*PARAMETERS, EXPORT_K],
        responses=ZIP_RESPONSES,
        tags=["reports"],
    )
    def get(self, request):
        return super().get(request)


urlpatterns = [
    path("reports/summary/", SummaryView.as_view(), name="api-report-summary"),
    # Any name reaches the view, so an unknown table is the API's own 404, not Django's HTML page.
    re_path(r"^reports/tables/(?P<name>[^/]+)\.csv$", TableView.as_view(), name="api-report-table"),
    path("reports/export/patients.zip", PatientExportView.as_view(), name="api-report-export-patients"),
    path("reports/export/pump-years.zip", PumpYearExportView.as_view(), name="api-report-export-pump-years"),
]
