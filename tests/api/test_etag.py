"""Safe concurrent edits: ETag on reads, If-Match on writes, 412 when the record changed."""

import pytest

from registry.models import Patient

pytestmark = pytest.mark.django_db


def test_stale_if_match_is_refused_and_changes_nothing(api, implanted):
    patient, _, _ = implanted
    url = f"/api/v1/patients/{patient.pk}/"
    tag = api.get(url)["ETag"]
    assert api.patch(url, {"notes": "first"}, format="json", HTTP_IF_MATCH=tag).status_code == 200
    stale = api.patch(url, {"notes": "second"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert Patient.objects.get(pk=patient.pk).notes == "first"


def test_current_if_match_is_accepted_and_returns_the_new_tag(api, implanted):
    patient, _, _ = implanted
    url = f"/api/v1/patients/{patient.pk}/"
    tag = api.get(url)["ETag"]
    response = api.patch(url, {"notes": "ok"}, format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 200 and response["ETag"] != tag
    assert api.get(url)["ETag"] == response["ETag"]


def test_writes_without_if_match_or_with_star_are_accepted(api, implanted):
    patient, _, _ = implanted
    url = f"/api/v1/patients/{patient.pk}/"
    assert api.patch(url, {"notes": "a"}, format="json").status_code == 200
    assert api.patch(url, {"notes": "b"}, format="json", HTTP_IF_MATCH="*").status_code == 200


def test_actions_honour_if_match_too(api, implanted):
    patient, pump, _ = implanted
    stale = api.post(f"/api/v1/patients/{patient.pk}/status/", {"to_status": "discontinued"}, HTTP_IF_MATCH='"nope"')
    assert stale.status_code == 412
    stale = api.post(
        f"/api/v1/pumps/{pump.pk}/explant/", {"explant_date": "2025-07-01", "reason": "x"}, HTTP_IF_MATCH='"nope"'
    )
    assert stale.status_code == 412
    patient.refresh_from_db()
    assert patient.status == "implanted" and patient.active_pump == pump


def test_the_tag_changes_when_the_schedule_changes(api, implanted):
    patient, pump, _ = implanted
    url = f"/api/v1/patients/{patient.pk}/"
    tag = api.get(url)["ETag"]
    api.post(
        "/api/v1/dose-changes/",
        {"pump": pump.pk, "effective_at": "2025-06-10T12:00:00+01:00", "daily_dose_mcg": "200"},
        format="json",
    )
    assert api.get(url)["ETag"] != tag
