"""Lists count only as far as a page needs: exact below the limit, "more than N" above it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import Patient
from registry.selectors.paging import CountingPaginator
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(site):
    return [make_patient(site, mrn=f"P-{n}", family_name=f"Name{n}") for n in range(5)]


def test_the_count_stops_one_past_the_limit(five):
    paginator = CountingPaginator(Patient.objects.order_by("pk"), 2, count_limit=3)
    assert (paginator.count, paginator.count_exact, paginator.num_pages) == (4, False, 2)
    assert [p.pk for p in paginator.page(2).object_list] == [five[2].pk, five[3].pk]


def test_below_the_limit_the_count_is_exact(five):
    paginator = CountingPaginator(Patient.objects.all(), 2, count_limit=10)
    assert (paginator.count, paginator.count_exact, paginator.num_pages) == (5, True, 3)


def test_a_page_past_the_limit_is_still_found_and_the_last_page_counts_everything(five):
    far = CountingPaginator(Patient.objects.order_by("pk"), 2, asked="3", count_limit=1)
    assert far.count_exact and [p.pk for p in far.page(3).object_list] == [five[4].pk]
    last = CountingPaginator(Patient.objects.all(), 2, asked="last", count_limit=1)
    assert (last.count, last.count_exact) == (5, True)


def test_the_count_reads_keys_only(five):
    paginator = CountingPaginator(Patient.objects.select_related("site").order_by("family_name"), 2, count_limit=3)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 4
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert "LIMIT 4" in sql and "ORDER BY" not in sql and "registry_site" not in sql


def test_dashboard_list_says_more_than(client, coordinator, five, monkeypatch):
    monkeypatch.setattr(CountingPaginator, "count_limit", 3)
    client.force_login(coordinator)
    html = client.get(reverse("patient_list")).content.decode()
    assert "More than 3 patients" in html and "5 patients" not in html
    monkeypatch.setattr(CountingPaginator, "count_limit", 10)
    assert "5 patients" in client.get(reverse("patient_list")).content.decode()
