"""The permission matrix: every endpoint, every role, own and another site's records."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from registry import models, services
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

RESOURCES = {
    "sites": models.Site,
    "patients": models.Patient,
    "indications": models.Indication,
    "screening-trials": models.ScreeningTrial,
    "pumps": models.Pump,
    "refills": models.Refill,
    "dose-changes": models.DoseChange,
    "follow-ups": models.FollowUp,
    "goals": models.Goal,
    "goal-reviews": models.GoalReview,
    "complications": models.Complication,
    "reminders": models.Reminder,
}
CLINICAL = [name for name in RESOURCES if name != "sites"]


def _records(patient, pump, refill):
    site = patient.site
    services.record_dose_change(pump=pump, effective_at=refill.performed_at + dt.timedelta(days=3), daily_dose_mcg=110)
    services.add_indication(patient=patient, diagnosis="stroke")
    services.record_screening_trial(
        patient=patient, performed_on=dt.date(2025, 4, 1), test_dose_mcg=50, response="positive"
    )
    services.schedule_follow_up(patient=patient, kind="titration", due_date=dt.date(2025, 7, 1))
    goal = services.set_goal(
        patient=patient, category="sleep", description="Sleeps through", set_on=dt.date(2025, 5, 1)
    )
    services.review_goal(goal=goal, reviewed_on=dt.date(2025, 8, 1), score=1)
    services.record_complication(patient=patient, occurred_on=dt.date(2025, 7, 1), kind="catheter")
    models.Reminder.objects.create(
        kind="refill_due", patient=patient, site=site, target_type="refill", target_id=refill.pk,
        due_date=dt.date(2025, 8, 1), lead_days=7, recipient=f"n{site.pk}@x.test", channel="email",
    )  # fmt: skip


@pytest.fixture
def world(implanted, elsewhere, site, other_site):
    _records(*implanted)
    _records(*elsewhere)

    def own_and_other(resource):
        model = RESOURCES[resource]
        if resource == "sites":
            return site.pk, other_site.pk
        path = {
            "patients": "site",
            "indications": "patient__site",
            "screening-trials": "patient__site",
            "pumps": "patient__site",
            "refills": "pump__patient__site",
            "dose-changes": "pump__patient__site",
            "follow-ups": "patient__site",
            "goals": "patient__site",
            "goal-reviews": "goal__patient__site",
            "complications": "patient__site",
            "reminders": "site",
        }[resource]
        own = model.objects.filter(**{path: site}).values_list("pk", flat=True).first()
        other = model.objects.filter(**{path: other_site}).values_list("pk", flat=True).first()
        assert own and other
        return own, other

    return own_and_other


def client_for(role, request) -> APIClient:
    if role == "anonymous":
        return APIClient()
    return token_client(request.getfixturevalue({"administrator": "admin_user"}.get(role, role)))


# role -> (list status, own detail, other site's detail) for clinical resources.
CLINICAL_MATRIX = {
    "administrator": (200, 200, 200),
    "coordinator": (200, 200, 404),
    "clinician": (200, 200, 404),
    "reporter": (403, 403, 403),
    "nobody": (403, 403, 403),
    "anonymous": (401, 401, 401),
}
SITE_MATRIX = {
    "administrator": (200, 200, 200),
    "coordinator": (200, 200, 404),
    "clinician": (200, 200, 404),
    "reporter": (200, 200, 404),
    "nobody": (403, 403, 403),
    "anonymous": (401, 401, 401),
}


@pytest.mark.parametrize("role", list(CLINICAL_MATRIX))
def test_read_matrix(role, world, request):
    """For one role, every resource: (list, own record, another site's record) statuses."""
    client = client_for(role, request)
    got, expected = {}, {}
    for resource in RESOURCES:
        expected[resource] = (SITE_MATRIX if resource == "sites" else CLINICAL_MATRIX)[role]
        own, other = world(resource)
        listed = client.get(f"/api/v1/{resource}/")
        got[resource] = (
            listed.status_code,
            client.get(f"/api/v1/{resource}/{own}/").status_code,
            client.get(f"/api/v1/{resource}/{other}/").status_code,
        )
        if listed.status_code == 200:
            ids = {row["id"] for row in listed.json()["results"]}
            assert own in ids, resource
            assert (other in ids) == (expected[resource][2] == 200), f"{resource}: list and detail disagree"
    assert got == expected


@pytest.mark.parametrize(
    "role,expected", [("administrator", 200), ("coordinator", 200), ("reporter", 403), ("nobody", 403)]
)
@pytest.mark.parametrize("path", ["worklist/", "schema/", "docs/"])
def test_worklist_schema_and_docs(path, role, expected, world, request):
    if path != "worklist/" and role == "reporter":
        expected = 200  # reporting users read the API document too; it holds no patient data
    assert client_for(role, request).get(f"/api/v1/{path}").status_code == expected


def test_anonymous_is_told_to_authenticate_with_a_token(world):
    response = APIClient().get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("role", ["reporter", "nobody"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "patients/"),
        ("post", "pumps/"),
        ("post", "refills/"),
        ("post", "dose-changes/"),
        ("post", "follow-ups/"),
        ("post", "goals/"),
        ("post", "goal-reviews/"),
        ("post", "complications/"),
        ("post", "indications/"),
        ("post", "screening-trials/"),
        ("post", "sites/"),
    ],
)
def test_non_clinical_roles_cannot_write(method, path, role, world, request):
    assert getattr(client_for(role, request), method)(f"/api/v1/{path}", {}, format="json").status_code == 403


def test_coordinator_cannot_act_on_another_sites_records(api, world, elsewhere):
    patient, pump, _ = elsewhere
    assert api.patch(f"/api/v1/patients/{patient.pk}/", {"notes": "x"}, format="json").status_code == 404
    assert api.post(f"/api/v1/patients/{patient.pk}/status/", {"to_status": "deceased"}).status_code == 404
    assert (
        api.post(f"/api/v1/pumps/{pump.pk}/explant/", {"explant_date": "2025-07-01", "reason": "x"}).status_code == 404
    )
    reminder = models.Reminder.objects.get(patient=patient)
    assert api.post(f"/api/v1/reminders/{reminder.pk}/acknowledge/").status_code == 404
    patient.refresh_from_db()
    assert patient.notes == "" and patient.status == "implanted"


def test_references_to_another_sites_records_are_field_errors(api, world, elsewhere, other_site):
    patient, pump, _ = elsewhere
    refill = api.post(
        "/api/v1/refills/",
        {
            "pump": pump.pk,
            "performed_at": "2025-07-01T10:00:00+00:00",
            "volume_after_ml": "20",
            "concentration_mcg_per_ml": "500",
            "daily_dose_mcg": "100",
        },
        format="json",
    )
    assert refill.status_code == 400 and "pump" in refill.json()
    created = api.post(
        "/api/v1/patients/",
        {"site": other_site.pk, "mrn": "X1", "given_name": "A", "family_name": "B", "date_of_birth": "2000-01-01"},
        format="json",
    )
    assert created.status_code == 400 and "site" in created.json()
    goal = models.Goal.objects.get(patient=patient)
    review = api.post("/api/v1/goal-reviews/", {"goal": goal.pk, "reviewed_on": "2025-09-01", "score": 1})
    assert review.status_code == 400 and "goal" in review.json()
    assert models.Refill.objects.filter(pump=pump).count() == 1


@pytest.mark.parametrize("resource", ["refills", "dose-changes", "indications", "goals", "complications"])
def test_clinical_records_are_never_edited_or_deleted(resource, admin_api, world):
    own, _ = world(resource)
    for method in ("put", "patch", "delete"):
        assert getattr(admin_api, method)(f"/api/v1/{resource}/{own}/", {}, format="json").status_code == 405


def test_patients_and_pumps_are_never_deleted(admin_api, implanted):
    patient, pump, _ = implanted
    assert admin_api.delete(f"/api/v1/patients/{patient.pk}/").status_code == 405
    assert admin_api.delete(f"/api/v1/pumps/{pump.pk}/").status_code == 405
    assert models.Patient.objects.filter(pk=patient.pk).exists()


def test_token_endpoint_issues_a_token_that_authenticates(coordinator, implanted):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "coord", "password": "correct horse battery staple"}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/patients/").json()["count"] == 1
    wrong = APIClient().post("/api/v1/auth/token/", {"username": "coord", "password": "nope"}, format="json")
    assert wrong.status_code == 400


def test_token_endpoint_is_throttled(coordinator, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # The class keeps the rates it read at import; patched here and restored after the test.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    codes = [
        APIClient().post("/api/v1/auth/token/", {"username": "coord", "password": "x"}).status_code for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_session_authentication_works_for_the_browser(client, coordinator, implanted):
    client.force_login(coordinator)
    assert client.get("/api/v1/patients/").status_code == 200


def test_docs_page_loads_swagger_from_local_static_files_only(admin_api):
    html = admin_api.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_docs_page_sends_an_anonymous_visitor_to_the_log_in_page(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/api/v1/docs/"
    assert "Log in" in client.get(response["Location"]).content.decode()


__all__ = ["Decimal"]
