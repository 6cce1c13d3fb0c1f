"""A page of each resource type, and a patient's $everything, cost the same queries whatever the data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fhir_api.readers import RESOURCE_TYPES
from tests.fhir.conftest import full_record

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def counts(admin_api, api, page_size):
    return {
        (who, t): queries(client, f"/fhir/{t}?_count={page_size}")
        for who, client in (("admin", admin_api), ("coord", api))
        for t in RESOURCE_TYPES
    }


def test_pages_and_everything_do_not_grow_with_the_data(admin_api, api, site):
    """A page reads each of its type's sources at most once: a page that one source fills reads
    fewer, so a small page over more data may cost less, never more."""
    first = full_record(site, "Q-0")
    small, whole = counts(admin_api, api, 5), counts(admin_api, api, 200)
    everything = queries(api, f"/fhir/Patient/{first.patient.pk}/$everything")
    for n in range(1, 4):
        full_record(site, f"Q-{n}")
    assert counts(admin_api, api, 200) == whole
    bigger = counts(admin_api, api, 5)
    assert all(bigger[key] <= small[key] for key in small), (bigger, small)
    assert queries(api, f"/fhir/Patient/{first.patient.pk}/$everything") == everything
