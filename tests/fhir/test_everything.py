"""$everything: one patient's whole record as a Bundle that fhir.resources reads back losing nothing."""

import json

import pytest

from fhir_api.readers import RESOURCE_TYPES
from tests.fhir.conftest import entries, validated

pytestmark = pytest.mark.django_db


def test_round_trip_through_fhir_resources_loses_no_field(admin_api, record, implanted):
    response = admin_api.get(f"/fhir/Patient/{record.patient.pk}/$everything")
    assert response.status_code == 200
    sent = response.json()
    parsed = validated(sent)
    back = json.loads(parsed.model_dump_json(by_alias=True, exclude_none=True))
    assert back["entry"] == sent["entry"]
    resources = entries(sent)
    assert [r["resourceType"] for r in resources][0] == "Patient"
    assert {r["resourceType"] for r in resources} == set(RESOURCE_TYPES)
    everything = {(r["resourceType"], r["id"]) for r in resources}
    for resource_type in RESOURCE_TYPES:  # the same resources as searching each type by patient
        found = admin_api.get(f"/fhir/{resource_type}?patient={record.patient.pk}&_count=200").json()
        assert {(resource_type, r["id"]) for r in entries(found)} <= everything
    assert all(ref.endswith(f"Patient/{record.patient.pk}") for ref in _patient_refs(resources))
    assert implanted[0].pk != record.patient.pk


def _patient_refs(resources):
    for r in resources:
        for key in ("subject", "patient"):
            if key in r:
                yield r[key]["reference"]


def test_everything_of_an_unknown_patient_is_not_found(admin_api, db):
    response = admin_api.get("/fhir/Patient/999999/$everything")
    assert response.status_code == 404
    validated(response.json())
