"""Patients over the API: created and edited through the services, status by allowed transitions."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from api.etags import etag_of
from api.serializers import PatientSerializer
from api.views.base import RegistryPagination
from registry.models import Patient, StatusChange
from tests.factories import make_patient

pytestmark = pytest.mark.django_db

NEW = {"mrn": "A-1", "given_name": "Sam", "family_name": "Lee", "date_of_birth": "2012-04-05", "sex": "female"}


def test_create_writes_status_history_and_a_schedule(api, site):
    response = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "referred" and body["study_id"].startswith("ITB-")
    assert body["schedule"] == {
        "next_refill_due": None,
        "alarm_date": None,
        "empty_date": None,
        "refill_status": "none",
        "refill_due_basis": "",
        "schedule_attention": "",
        "alarm_date_disagrees": False,
        "last_refill_at": None,
        "battery_eri_date": None,
    }
    assert StatusChange.objects.filter(patient_id=body["id"], to_status="referred").exists()
    assert response["ETag"]


def test_duplicate_mrn_in_a_site_is_a_field_error(api, site):
    assert api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").status_code == 201
    again = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json")
    assert again.status_code == 400
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    "change,field",
    [({"date_of_birth": "2999-01-01"}, "date_of_birth"), ({"date_of_birth": "1800-01-01"}, "date_of_birth")],
)
def test_invalid_dates_are_field_errors(api, site, change, field):
    response = api.post("/api/v1/patients/", {**NEW, **change, "site": site.pk}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_status_and_study_id_are_read_only(api, site):
    created = api.post("/api/v1/patients/", {**NEW, "site": site.pk, "status": "implanted"}, format="json").json()
    assert created["status"] == "referred"
    patched = api.patch(f"/api/v1/patients/{created['id']}/", {"status": "deceased", "study_id": "X"}, format="json")
    assert patched.json()["status"] == "referred" and patched.json()["study_id"] == created["study_id"]


def test_patch_edits_through_the_service_and_keeps_history(api, site):
    pid = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()["id"]
    response = api.patch(f"/api/v1/patients/{pid}/", {"family_name": "Lee-Smith"}, format="json")
    assert response.status_code == 200 and response.json()["family_name"] == "Lee-Smith"
    assert Patient.history.filter(id=pid, family_name="Lee-Smith").exists()


def test_site_cannot_be_changed_by_an_edit(admin_api, site, other_site):
    pid = admin_api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()["id"]
    response = admin_api.patch(f"/api/v1/patients/{pid}/", {"site": other_site.pk}, format="json")
    assert response.status_code == 400 and "site" in response.json()


def test_allowed_transition_is_applied_and_recorded(api, site):
    pid = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()["id"]
    response = api.post(f"/api/v1/patients/{pid}/status/", {"to_status": "evaluating", "reason": "Clinic"})
    assert response.status_code == 200 and response.json()["status"] == "evaluating"
    history = api.get(f"/api/v1/patients/{pid}/status-history/").json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [("", "referred"), ("referred", "evaluating")]


@pytest.mark.parametrize("to_status", ["implanted", "candidate", "explanted", "no-such-status"])
def test_disallowed_transition_is_a_field_error(api, site, to_status):
    pid = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()["id"]
    response = api.post(f"/api/v1/patients/{pid}/status/", {"to_status": to_status})
    assert response.status_code == 400 and "to_status" in response.json()
    assert Patient.objects.get(pk=pid).status == "referred"


def test_future_status_date_is_refused(api, site):
    pid = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()["id"]
    response = api.post(f"/api/v1/patients/{pid}/status/", {"to_status": "evaluating", "on": "2199-01-01"})
    assert response.status_code == 400 and "on" in response.json()


def test_filters_search_and_ordering(api, implanted, site):
    api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json")
    assert [p["mrn"] for p in api.get("/api/v1/patients/?search=A-1").json()["results"]] == ["A-1"]
    assert api.get("/api/v1/patients/?status=implanted").json()["count"] == 1
    assert api.get("/api/v1/patients/?refill_status=none").json()["results"][0]["mrn"] == "A-1"
    ordered = api.get("/api/v1/patients/?ordering=-family_name").json()["results"]
    assert [p["family_name"] for p in ordered] == ["Lee", "Example"]
    assert api.get("/api/v1/patients/?page_size=1").json()["next"]


def test_a_race_on_a_unique_key_is_a_409_not_a_500(api, site, monkeypatch):
    """Two clients creating the same MRN at once: the loser's INSERT hits the UNIQUE constraint."""
    from django.db import IntegrityError

    from registry import services

    def racing(**kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "patient_mrn_unique_per_site"')

    monkeypatch.setattr(services, "create_patient", racing)
    response = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json")
    assert response.status_code == 409 and "detail" in response.json()


def test_a_past_referral_date_is_taken_and_returned(api, site):
    response = api.post("/api/v1/patients/", {**NEW, "site": site.pk, "referred_on": "2018-03-05"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["referred_on"] == "2018-03-05"
    registration = StatusChange.objects.get(patient_id=response.json()["id"])
    assert registration.changed_on.isoformat() == "2018-03-05"


def test_referral_date_defaults_to_today_and_refuses_the_future(api, site):
    from registry.services import site_today

    created = api.post("/api/v1/patients/", {**NEW, "site": site.pk}, format="json").json()
    assert created["referred_on"] == site_today(site).isoformat()
    future = api.post(
        "/api/v1/patients/", {**NEW, "mrn": "A-2", "site": site.pk, "referred_on": "2999-01-01"}, format="json"
    )
    assert future.status_code == 400 and "referred_on" in future.json()


def test_api_list_says_when_its_count_is_a_lower_bound(api, site, monkeypatch):
    for n in range(5):
        make_patient(site, mrn=f"P-{n}")
    monkeypatch.setattr(RegistryPagination, "count_limit", 3)
    body = api.get("/api/v1/patients/", {"page_size": 2}).json()
    assert (body["count"], body["count_exact"], len(body["results"])) == (4, False, 2) and body["next"]
    assert api.get("/api/v1/patients/", {"page_size": 2, "page": "last"}).json()["count"] == 5
    exact = api.get("/api/v1/patients/", {"page_size": 2, "page": 3}).json()
    assert (exact["count"], exact["count_exact"], exact["next"]) == (5, True, None)


def test_the_detail_shows_what_the_list_and_the_serializer_show(api, implanted, site, other_site):
    """The detail's one statement (``patient_row``) and shared serializer answer the list's row
    and what the serializer makes of the ORM's patient, field for field, with the same ETag."""
    patient = implanted[0]
    response = api.get(f"/api/v1/patients/{patient.pk}/")
    detail = response.json()
    row = next(p for p in api.get("/api/v1/patients/").json()["results"] if p["id"] == patient.pk)
    orm = json.loads(json.dumps(PatientSerializer(Patient.objects.get(pk=patient.pk)).data, cls=DjangoJSONEncoder))
    assert detail == row == orm
    assert response.headers["ETag"] == etag_of(PatientSerializer(Patient.objects.get(pk=patient.pk)).data)
    elsewhere = make_patient(other_site)
    assert api.get(f"/api/v1/patients/{elsewhere.pk}/").status_code == 404
    for missing in ("0", "-1", "abc", str(2**63), "999999999"):
        assert api.get(f"/api/v1/patients/{missing}/").status_code == 404, missing
