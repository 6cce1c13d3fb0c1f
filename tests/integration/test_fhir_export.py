"""A FHIR bulk export through a real Celery worker, Redis and the test PostgreSQL database."""

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from fhir_api.models import BulkExport
from tests.factories import UserFactory
from tests.fhir.conftest import full_record, validated
from tests.integration.conftest import OUTPUT, start_worker, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def export_worker(worker_env, settings, tmp_path):
    """A worker of the test's own queue, writing exports where this test reads them."""
    settings.FHIR_EXPORT_QUEUE = f"fhir-test-{uuid.uuid4().hex[:8]}"
    settings.FHIR_EXPORT_DIR = tmp_path
    name = f"fhir-{uuid.uuid4().hex[:8]}"
    env = dict(worker_env, FHIR_EXPORT_QUEUE=settings.FHIR_EXPORT_QUEUE, FHIR_EXPORT_DIR=str(tmp_path))
    proc = start_worker(env, name, "-Q", settings.FHIR_EXPORT_QUEUE)
    log = OUTPUT / f"{name}.log"
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the Celery worker did not start; see {log}")
        time.sleep(0.1)
    yield proc
    stop_worker(proc)


def test_bulk_export_of_the_program_through_a_real_worker(site, other_site, export_worker):
    records = [full_record(site, "W-1"), full_record(other_site, "W-2")]
    admin = UserFactory(username="exporter", is_superuser=True, role="administrator")
    client = APIClient()
    client.force_authenticate(admin)
    kick_off = client.get("/fhir/$export", HTTP_PREFER="respond-async")
    assert kick_off.status_code == 202
    status_url = kick_off["Content-Location"].removeprefix("http://testserver")
    deadline = time.monotonic() + 90
    while (polled := client.get(status_url)).status_code == 202:
        assert time.monotonic() < deadline, f"the export did not finish: {BulkExport.objects.get().progress}"
        time.sleep(0.2)
    assert polled.status_code == 200, polled.content
    counts = {}
    for item in polled.json()["output"]:
        body = b"".join(client.get(item["url"].removeprefix("http://testserver")).streaming_content)
        resources = [json.loads(line) for line in body.decode().splitlines()]
        assert len(resources) == item["count"]
        for resource in resources:
            validated(resource)
        counts[item["type"]] = len(resources)
    assert counts["Patient"] == 2
    expected = sum(len(client.get(f"/fhir/Patient/{r.patient.pk}/$everything").json()["entry"]) for r in records)
    assert sum(counts.values()) == expected
