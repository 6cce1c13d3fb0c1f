"""``/fhir/``: read-only FHIR R4 over the API's authentication, roles and site scoping.

Decisions:
- The API's permission classes: clinical roles read the patients of their sites; a reporting
  user gets 403 everywhere but ``metadata`` (every resource served here identifies a patient).
  Another site's record is a 404, as in the API.
- Every answer is ``application/fhir+json`` whatever the client accepts; errors are
  OperationOutcomes with the message in words.
- Bulk export: kick-off 202 with the status URL in Content-Location; only its requester may poll
  it or download its files; the files expire (``fhir_api.export``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.client_ip import client_ip
from api.permissions import HasStaffRole, IsClinicalStaff
from audit.log import record_view
from audit.models import PatientAccess
from fhir_api import export, readers
from fhir_api.capability import capability_statement
from fhir_api.models import BulkExport
from fhir_api.search import SearchError, query_for
from fhir_api.tasks import enqueue_export
from registry.roles import patient_site_ids, sites_for

ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 429: "throttled"}
NDJSON_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
STARTED = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class FhirRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "json"


class FhirOnly(BaseContentNegotiation):
    """FHIR JSON for every Accept header (application/json, */* and the FHIR types alike)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def operation_outcome(message: str, code: str = "processing", severity: str = "error") -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": message}]}


def _words(data) -> str:
    if isinstance(data, dict):
        return " ".join(_words(v) for v in data.values())
    if isinstance(data, list):
        return " ".join(_words(v) for v in data)
    return str(data)


class FhirView(APIView):
    permission_classes = [IsAuthenticated, HasStaffRole, IsClinicalStaff]
    renderer_classes = [FhirRenderer]
    content_negotiation_class = FhirOnly
    # FHIR's own CapabilityStatement (/fhir/metadata) describes these endpoints, not the API's OpenAPI.
    schema = None

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if not (isinstance(response.data, dict) and response.data.get("resourceType") == "OperationOutcome"):
            response.data = operation_outcome(
                _words(response.data), ISSUE_CODES.get(response.status_code, "processing")
            )
        return response

    def site_ids(self) -> list[int] | None:
        return patient_site_ids(self.request.user)

    def base(self) -> str:
        return self.request.build_absolute_uri(reverse("fhir-metadata")).removesuffix("metadata")


def _bad_request(message: str) -> Response:
    return Response(operation_outcome(message, "invalid"), status=400)


def _not_found(message: str) -> Response:
    return Response(operation_outcome(message, "not-found"), status=404)


def _check_type(resource_type: str) -> Response | None:
    if resource_type not in readers.SOURCES:
        served = ", ".join(readers.RESOURCE_TYPES)
        return _not_found(f"“{resource_type}” is not served here; the resource types are {served}.")
    return None


def bundle(base: str, resources, self_url: str, next_url: str | None = None) -> dict:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat(),
        "link": links,
        "entry": [
            {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


class MetadataView(FhirView):
    permission_classes = [IsAuthenticated, HasStaffRole]

    def get(self, request):
        return Response(capability_statement(self.base(), "1.0.0", STARTED))


class SearchView(FhirView):
    def get(self, request, resource_type: str):
        if (wrong := _check_type(resource_type)) is not None:
            return wrong
        try:
            query, count, cursor = query_for(resource_type, request.query_params, self.site_ids())
            result = readers.page(resource_type, query, count, cursor)
        except SearchError as exc:
            return _bad_request(str(exc))
        except readers.BadCursor:
            return _bad_request("_page is not a page link this server gave; start the search again.")
        next_url = None
        if result.next_cursor:
            params = request.query_params.copy()
            params["_page"] = result.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(bundle(self.base(), result.resources, request.build_absolute_uri(), next_url))


class ReadView(FhirView):
    def get(self, request, resource_type: str, resource_id: str):
        if (wrong := _check_type(resource_type)) is not None:
            return wrong
        resource = readers.read(resource_type, resource_id, self.site_ids())
        if resource is None:
            return _not_found(f"No {resource_type} with id “{resource_id}” in your sites.")
        if resource_type == "Patient":
            record_view(request, int(resource_id), PatientAccess.Channel.FHIR)
        return Response(resource)


class EverythingView(FhirView):
    def get(self, request, resource_id: str):
        if request.query_params:
            return _bad_request("$everything takes no parameters here: it returns all of the patient's record.")
        site_ids = self.site_ids()
        if not resource_id.isdigit() or readers.read("Patient", resource_id, site_ids) is None:
            return _not_found(f"No Patient with id “{resource_id}” in your sites.")
        resources = list(readers.everything(int(resource_id), site_ids))
        record_view(request, int(resource_id), PatientAccess.Channel.EXPORT)
        return Response(bundle(self.base(), resources, request.build_absolute_uri()))


# --- Bulk Data Access --------------------------------------------------------------------------


class ExportView(FhirView):
    """``$export`` (every patient the user may see), ``Patient/$export`` (the same), and
    ``Group/<site id>/$export`` (one site's patients)."""

    def get(self, request, group_id: str | None = None):
        if "respond-async" not in request.headers.get("Prefer", ""):
            return _bad_request("A bulk export runs in the background: send the header “Prefer: respond-async”.")
        params = request.query_params
        unknown = sorted(set(params) - {"_type", "_outputFormat"})
        if unknown:
            return _bad_request(f"$export does not support {', '.join(unknown)}; it takes _type and _outputFormat.")
        if params.get("_outputFormat", "application/fhir+ndjson") not in NDJSON_FORMATS:
            return _bad_request("_outputFormat: only application/fhir+ndjson is produced.")
        types = [t for value in params.getlist("_type") for t in value.split(",") if t] or readers.RESOURCE_TYPES
        wrong = [t for t in types if t not in readers.SOURCES]
        if wrong:
            return _bad_request(
                f"_type: {', '.join(wrong)} not served; choose from {', '.join(readers.RESOURCE_TYPES)}."
            )
        site_ids = self.site_ids()
        if group_id is not None:
            if not group_id.isdigit() or not sites_for(request.user).filter(pk=int(group_id)).exists():
                return _not_found(f"No Group (site) with id “{group_id}” among your sites.")
            site_ids = [int(group_id)]
        with transaction.atomic():
            job = BulkExport.objects.create(
                requested_by=request.user,
                request_url=request.build_absolute_uri()[:2000],
                client_ip=client_ip(request) or None,
                site_ids=site_ids,
                resource_types=[t for t in readers.RESOURCE_TYPES if t in types],
            )
            transaction.on_commit(lambda: enqueue_export(job.pk))
        status_url = request.build_absolute_uri(reverse("fhir-export-status", args=[job.pk]))
        return Response(status=202, headers={"Content-Location": status_url})

    post = get


def _own_export(request, export_id) -> BulkExport:
    """The export if this user asked for it and it still exists; 404 otherwise (never 403)."""
    job = BulkExport.objects.filter(pk=export_id, requested_by=request.user).first()
    if job is None or job.status in (BulkExport.Status.CANCELLED, BulkExport.Status.EXPIRED):
        raise NotFound("No such export of yours (it may have expired or been cancelled).")
    return job


class ExportStatusView(FhirView):
    def get(self, request, export_id):
        job = _own_export(request, export_id)
        if job.status in (BulkExport.Status.ACCEPTED, BulkExport.Status.RUNNING):
            return Response(
                status=202, headers={"X-Progress": job.progress or "Waiting for a worker", "Retry-After": "5"}
            )
        if job.status == BulkExport.Status.FAILED:
            return Response(operation_outcome(f"The export failed: {job.error}", "exception"), status=500)
        manifest = {
            "transactionTime": job.completed_at.isoformat(),
            "request": job.request_url,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": o["type"],
                    "url": request.build_absolute_uri(reverse("fhir-export-file", args=[job.pk, o["file"]])),
                    "count": o["count"],
                }
                for o in job.output
            ],
            "error": [],
        }
        expires = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
        return Response(manifest, content_type="application/json", headers={"Expires": expires})

    def delete(self, request, export_id):
        export.cancel(_own_export(request, export_id))
        return Response(status=202)


class ExportFileView(FhirView):
    def get(self, request, export_id, file_name: str):
        job = _own_export(request, export_id)
        if job.status != BulkExport.Status.COMPLETED or file_name not in {o["file"] for o in job.output}:
            raise NotFound(f"The export has no file “{file_name}”.")
        path = export.directory(job.pk) / file_name
        if not path.is_file():
            raise NotFound(f"The export has no file “{file_name}”.")
        return FileResponse(path.open("rb"), content_type="application/fhir+ndjson")
