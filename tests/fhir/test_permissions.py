"""Who may read what over /fhir/: the API's roles and site scoping (tests/api/test_permissions.py)."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from fhir_api.readers import RESOURCE_TYPES
from registry import services
from tests.fhir.conftest import entries, token_client, validated

pytestmark = pytest.mark.django_db

# role -> (search, own record, another site's record, own $everything, another's $everything, $export)
MATRIX = {
    "administrator": (200, 200, 200, 200, 200, 202),
    "coordinator": (200, 200, 404, 200, 404, 202),
    "clinician": (200, 200, 404, 200, 404, 202),
    "reporter": (403, 403, 403, 403, 403, 403),
    "nobody": (403, 403, 403, 403, 403, 403),
    "anonymous": (401, 401, 401, 401, 401, 401),
}


def client_for(role, request) -> APIClient:
    if role == "anonymous":
        return APIClient()
    return token_client(request.getfixturevalue({"administrator": "admin_user"}.get(role, role)))


def _records(patient):
    """One record of each kind besides the pump and refill of ``implanted``/``elsewhere``."""
    services.add_indication(patient=patient, diagnosis="stroke")
    services.record_screening_trial(
        patient=patient, performed_on=dt.date(2025, 4, 1), test_dose_mcg=50, response="positive", ashworth_before="2"
    )
    services.schedule_follow_up(patient=patient, kind="titration", due_date=dt.date(2025, 7, 1))
    services.set_goal(patient=patient, category="sleep", description="Sleeps through", set_on=dt.date(2025, 5, 1))


def test_read_matrix(implanted, elsewhere, admin_api, request):
    """Every role, every resource type: search, own and another site's record, $everything, $export."""
    own, other = implanted[0], elsewhere[0]
    _records(own)
    _records(other)
    ids = {}
    for resource_type in RESOURCE_TYPES:
        by = "_id" if resource_type == "Patient" else "patient"
        first = [entries(admin_api.get(f"/fhir/{resource_type}?{by}={p.pk}").json())[0]["id"] for p in (own, other)]
        ids[resource_type] = first
    prefer = {"HTTP_PREFER": "respond-async"}
    for role, expected in MATRIX.items():
        client = client_for(role, request)
        for resource_type in RESOURCE_TYPES:
            own_id, other_id = ids[resource_type]
            listed = client.get(f"/fhir/{resource_type}?_count=200")
            got = (
                listed.status_code,
                client.get(f"/fhir/{resource_type}/{own_id}").status_code,
                client.get(f"/fhir/{resource_type}/{other_id}").status_code,
                client.get(f"/fhir/Patient/{own.pk}/$everything").status_code,
                client.get(f"/fhir/Patient/{other.pk}/$everything").status_code,
                client.get(f"/fhir/$export?_type={resource_type}", **prefer).status_code,
            )
            assert got == expected, (role, resource_type)
            if listed.status_code == 200:
                found = {r["id"] for r in entries(listed.json())}
                assert own_id in found
                assert (other_id in found) == (expected[2] == 200), f"{resource_type}: search and read disagree"
            else:
                validated(listed.json())  # refusals are OperationOutcomes too


def test_metadata_is_read_by_every_role(request, db):
    """The CapabilityStatement holds no patient data; a login without a role still reaches nothing."""
    got = {role: client_for(role, request).get("/fhir/metadata").status_code for role in MATRIX}
    assert got == {r: {"nobody": 403, "anonymous": 401}.get(r, 200) for r in MATRIX}


def test_anonymous_is_told_to_authenticate_with_a_token(db):
    response = APIClient().get("/fhir/Patient")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert response.json()["issue"][0]["code"] == "login"


def test_reporter_is_refused_in_words(reporter):
    response = token_client(reporter).get("/fhir/Patient")
    assert response.status_code == 403
    assert "de-identified" in response.json()["issue"][0]["diagnostics"]


def test_the_interface_is_read_only(admin_api, implanted):
    patient = implanted[0]
    for method in ("post", "put", "patch", "delete"):
        response = getattr(admin_api, method)(f"/fhir/Patient/{patient.pk}", {}, format="json")
        assert response.status_code == 405, method


def test_group_export_of_another_site_is_not_found(api, other_site, site):
    prefer = {"HTTP_PREFER": "respond-async"}
    assert api.get(f"/fhir/Group/{other_site.pk}/$export", **prefer).status_code == 404
    assert api.get(f"/fhir/Group/{site.pk}/$export", **prefer).status_code == 202
