"""``GET /fhir/metadata``: the CapabilityStatement, built from what the readers and search serve."""

from __future__ import annotations

from fhir_api import codes
from fhir_api.readers import RESOURCE_TYPES
from fhir_api.search import params_of

BULK_DATA = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"


def capability_statement(base_url: str, software_version: str, date: str) -> dict:
    resources = []
    for resource_type in RESOURCE_TYPES:
        entry = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "searchParam": [
                {"name": p.name, "type": p.type, "documentation": p.documentation} for p in params_of(resource_type)
            ]
            + [
                {
                    "name": "_count",
                    "type": "number",
                    "documentation": "Source records per page (1 to 200, 50 if absent)",
                },
            ],
        }
        if resource_type == "Patient":
            entry["operation"] = [
                {"name": "everything", "definition": EVERYTHING},
                {"name": "export", "definition": EXPORT},
            ]
        resources.append(entry)
    resources.append(
        {
            "type": "Group",
            "documentation": "A site (clinic): only its $export is served, not the Group resource itself.",
            "operation": [{"name": "export", "definition": EXPORT}],
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "id": "itb-registry",
        "status": "active",
        "date": date,
        "publisher": "ITB program registry",
        "kind": "instance",
        "instantiates": [BULK_DATA],
        "software": {"name": "ITB program registry", "version": software_version},
        "implementation": {"description": "Read-only FHIR R4 interface of the ITB program registry", "url": base_url},
        "fhirVersion": codes.FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Every resource of a patient the user may see (their sites).",
                "security": {
                    "cors": False,
                    "description": "An API token (Authorization: Token <key>, from /api/v1/auth/token/) or a "
                    "logged-in session. Coordinators, clinicians and administrators read the sites they "
                    "work for; program reporting users get 403 (every resource here identifies a patient).",
                },
                "resource": resources,
                "operation": [{"name": "export", "definition": EXPORT}],
            }
        ],
    }
