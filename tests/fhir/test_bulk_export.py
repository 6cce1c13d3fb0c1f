"""Bulk export: kick-off, status, the requester's files only, scope, cancel and expiry (in-process run)."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from fhir_api import export
from fhir_api.models import BulkExport
from fhir_api.readers import RESOURCE_TYPES
from tests.factories import UserFactory
from tests.fhir.conftest import full_record, token_client, validated

pytestmark = pytest.mark.django_db
PREFER = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"


def kick_off(client, url="/fhir/$export"):
    response = client.get(url, **PREFER)
    assert response.status_code == 202, response.content
    status_url = response["Content-Location"]
    assert status_url.startswith("http://testserver/fhir/bulk-status/")
    return status_url.removeprefix("http://testserver"), BulkExport.objects.get(pk=status_url.rsplit("/", 1)[1])


def download(client, manifest) -> dict[str, list[dict]]:
    files = {}
    for item in manifest["output"]:
        response = client.get(item["url"].removeprefix("http://testserver"))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()
        files[item["type"]] = [json.loads(line) for line in lines]
        assert len(lines) == item["count"]
    return files


def test_export_of_a_site_from_kick_off_to_download(api, site, other_site):
    own, other = full_record(site, "B-1"), full_record(other_site, "B-2")
    status_url, job = kick_off(api)
    polled = api.get(status_url)
    assert polled.status_code == 202 and polled["X-Progress"]
    assert export.run(job.pk).startswith("exported")
    assert export.run(job.pk) == "nothing to do"  # a redelivered task does not write twice
    done = api.get(status_url)
    assert done.status_code == 200 and done["Content-Type"] == "application/json"
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True
    assert [o["type"] for o in manifest["output"]] == RESOURCE_TYPES
    files = download(api, manifest)
    for resource_type, resources in files.items():
        for resource in resources:
            assert validated(resource).get_resource_type() == resource_type
    # The coordinator's export holds their site's patient only, with all of that patient's record.
    assert [p["id"] for p in files["Patient"]] == [str(own.patient.pk)]
    everything = api.get(f"/fhir/Patient/{own.patient.pk}/$everything").json()
    exported = {(r["resourceType"], r["id"]) for resources in files.values() for r in resources}
    assert exported == {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]}
    assert str(other.patient.pk) not in {r["subject"]["reference"] for r in files["Condition"]}


def test_kick_off_options(admin_api, api, site, other_site):
    full_record(site, "B-3")
    _, job = kick_off(admin_api, "/fhir/Patient/$export?_type=Device,Goal&_outputFormat=application/fhir%2Bndjson")
    assert job.resource_types == ["Device", "Goal"] and job.site_ids is None
    _, job = kick_off(admin_api, f"/fhir/Group/{other_site.pk}/$export")
    assert job.site_ids == [other_site.pk]
    export.run(job.pk)
    assert {o["count"] for o in BulkExport.objects.get(pk=job.pk).output} == {0}  # that site has no patients
    for url, words in [
        ("/fhir/$export?_since=2025-01-01T00:00:00Z", "does not support _since"),
        ("/fhir/$export?_type=Encounter", "Encounter not served"),
        ("/fhir/$export?_outputFormat=text/csv", "only application/fhir+ndjson"),
    ]:
        response = admin_api.get(url, **PREFER)
        assert response.status_code == 400 and words in response.json()["issue"][0]["diagnostics"], url
    response = admin_api.get("/fhir/$export")
    assert response.status_code == 400 and "Prefer: respond-async" in response.json()["issue"][0]["diagnostics"]


def test_only_the_requester_polls_and_downloads(api, site):
    full_record(site, "B-4")
    status_url, job = kick_off(api)
    export.run(job.pk)
    manifest = api.get(status_url).json()
    colleague = token_client(UserFactory(username="colleague", role="coordinator", role__sites=[site]))
    assert colleague.get(status_url).status_code == 404
    file_url = manifest["output"][0]["url"].removeprefix("http://testserver")
    assert colleague.get(file_url).status_code == 404
    assert colleague.delete(status_url).status_code == 404
    assert api.get(file_url.replace("Patient.ndjson", "..%2Fsecret")).status_code == 404
    assert api.get(file_url).status_code == 200


def test_files_expire_after_the_retention(api, site, settings):
    full_record(site, "B-5")
    status_url, job = kick_off(api)
    export.run(job.pk)
    job.refresh_from_db()
    assert job.expires_at == job.completed_at + dt.timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS)
    assert export.expire(now=job.expires_at - dt.timedelta(seconds=1)) == 0
    assert export.directory(job.pk).is_dir()
    assert export.expire(now=job.expires_at) == 1
    assert not export.directory(job.pk).exists()
    assert api.get(status_url).status_code == 404
    assert BulkExport.objects.get(pk=job.pk).status == BulkExport.Status.EXPIRED


def test_cancel_deletes_and_an_export_lost_by_its_worker_fails(api, site, settings):
    status_url, job = kick_off(api)
    assert api.delete(status_url).status_code == 202
    assert export.run(job.pk) == "nothing to do"
    assert api.get(status_url).status_code == 404
    _, lost = kick_off(api)
    BulkExport.objects.filter(pk=lost.pk).update(
        status=BulkExport.Status.RUNNING, requested_at=timezone.now() - dt.timedelta(hours=25)
    )
    export.expire()
    lost.refresh_from_db()
    assert lost.status == BulkExport.Status.FAILED and "ask for it again" in lost.error


def test_tasks_are_found_by_the_worker_and_the_clean_up_is_scheduled(db):
    from django_celery_beat.models import PeriodicTask

    from tasks.celery import app

    app.loader.import_default_modules()
    assert {"fhir.bulk_export", "fhir.expire_exports"} <= set(app.tasks)
    assert PeriodicTask.objects.get(task="fhir.expire_exports").interval.every == 1


def test_the_export_logs_one_access_per_exported_patient_in_one_insert(api, site, other_site, coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.models import PatientAccess

    own = [full_record(site, f"L-{n}").patient for n in range(3)]
    full_record(other_site, "L-9")
    response = api.get("/fhir/$export?_type=Goal", REMOTE_ADDR="192.0.2.44", **PREFER)
    job = BulkExport.objects.get(pk=response["Content-Location"].rsplit("/", 1)[1])
    assert not PatientAccess.objects.exists()  # nothing is read until the export runs
    with CaptureQueriesContext(connection) as queries:
        export.run(job.pk)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "audit_patientaccess"')]
    assert len(inserts) == 1
    rows = PatientAccess.objects.order_by("patient_id")
    assert [r.patient_id for r in rows] == sorted(p.pk for p in own)
    assert {(r.channel, r.user_id, r.client_ip, r.path) for r in rows} == {
        (PatientAccess.Channel.EXPORT, coordinator.pk, "192.0.2.44", "/fhir/$export?_type=Goal")
    }
