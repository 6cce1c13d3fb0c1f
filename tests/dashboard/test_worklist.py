"""The worklist page: sections most urgent first, reasons, filters, constant query count."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import services
from tests.dashboard.conftest import refilled
from tests.factories import UserFactory, at

pytestmark = pytest.mark.django_db


def sections(response) -> dict[str, str]:
    """Section key -> its HTML."""
    html = response.content.decode()
    out = {}
    for chunk in html.split('<section class="worklist-section" id="')[1:]:
        key, _, rest = chunk.partition('"')
        out[key] = rest.split("</section>")[0]
    return out


def test_sections_in_order_with_reasons(client, coordinator, program):
    client.force_login(coordinator)
    response = client.get(reverse("worklist"))
    assert response.status_code == 200
    found = sections(response)
    assert list(found) == [
        "refill-critical",
        "refill-overdue",
        "refill-due",
        "follow_up-missed",
        "battery-due",
        "refill-upcoming",
    ]
    assert "Critical" in found["refill-critical"] and "Alarm date" in found["refill-critical"]
    assert f'href="/patients/{program["critical"].pk}/"' in found["refill-critical"]
    assert "Overdue" in found["refill-overdue"] and "Refill was due" in found["refill-overdue"]
    assert "Duesoon" in found["refill-due"]
    assert "Upcoming" in found["refill-upcoming"]
    assert "Battery" in found["battery-due"] and "Battery ERI 01 Jun 2026" in found["battery-due"]
    assert "Missedvisit" in found["follow_up-missed"] and "Clinic review missed" in found["follow_up-missed"]
    assert "Outsider" not in response.content.decode()


def test_filters_by_kind_site_and_clinician(client, coordinator, program, site):
    client.force_login(coordinator)
    only_refills = sections(client.get(reverse("worklist"), {"kind": "refill"}))
    assert all(key.startswith("refill-") for key in only_refills)
    by_doctor = client.get(reverse("worklist"), {"clinician": program["doctor"].pk}).content.decode()
    assert "Critical" in by_doctor and "Overdue" not in by_doctor.split("<main")[1].replace("refill-overdue", "")
    by_site = sections(client.get(reverse("worklist"), {"site": site.pk}))
    assert "refill-critical" in by_site
    # Another site's id is not a valid choice for this coordinator: the filter is refused, not applied.
    refused = client.get(reverse("worklist"), {"site": program["outsider"].site.pk})
    assert refused.status_code == 200
    assert "Outsider" not in refused.content.decode()
    assert "were not valid" in refused.content.decode()


def test_htmx_filter_returns_only_the_sections(client, coordinator, program):
    client.force_login(coordinator)
    response = client.get(reverse("worklist"), {"kind": "follow_up"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert "Missedvisit" in html and "Duesoon" not in html


def test_query_count_does_not_grow_with_patients(client, frozen, site, coordinator, django_assert_max_num_queries):
    def add(n, start):
        for i in range(n):
            patient, _ = refilled(site, f"Load{start + i}", dt.date(2025, 8, 1) + dt.timedelta(days=(i * 7) % 70))
            services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 3, 20))
            if i % 2:  # every other row shows its booked visit
                services.book_refill_visit(
                    patient=patient, site=site, starts_at=at(dt.date(2026, 3, 12)), confirmed=True
                )

    client.force_login(coordinator)
    add(5, 0)
    params = {"kind": "", "site": site.pk}
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("worklist"), params).status_code == 200
    assert len(small.captured_queries) <= 14
    add(35, 5)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("worklist"), params)
    assert response.content.decode().count('data-patient="') >= 40
    print(f"worklist queries: {len(small.captured_queries)} for 5 patients; the same bound holds for 40")


def test_reporting_user_sees_no_patients(client, program, site):
    reports = UserFactory(role="reporting", role__sites=[site])
    client.force_login(reports)
    response = client.get(reverse("worklist"))
    assert response.status_code == 403
    assert "Critical" not in response.content.decode()
    assert 'href="/reports/"' in response.content.decode()
    assert client.get(reverse("patient", args=[program["critical"].pk])).status_code == 403
    assert client.get(reverse("patient_list")).status_code == 403


def test_login_required(client):
    response = client.get(reverse("worklist"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_sections_and_filter_choices_are_cached_until_a_write(client, coordinator, program, site):
    client.force_login(coordinator)
    with CaptureQueriesContext(connection) as cold:
        first = client.get(reverse("worklist")).content.decode()
    with CaptureQueriesContext(connection) as warm:
        second = client.get(reverse("worklist")).content.decode()
    # A hit runs neither the worklist's queries nor the filter's: the same sections, fewer queries.
    assert sections_of(second) == sections_of(first)
    assert len(warm.captured_queries) < len(cold.captured_queries)
    assert not any("registry_followup" in q["sql"] for q in warm.captured_queries)
    assert f'<option value="{program["doctor"].pk}">Wendy Who</option>' in second
    services.update_patient(patient=program["due"], by=coordinator, family_name="Renamedpatient")
    third = client.get(reverse("worklist")).content.decode()
    assert "Renamedpatient" in third and "Duesoon" not in third


def test_a_hit_still_renders_the_user_and_the_open_reminders_live(client, coordinator, program):
    from registry.models import Reminder

    client.force_login(coordinator)
    client.get(reverse("worklist"))
    Reminder.objects.create(
        patient=program["due"],
        site=program["due"].site,
        kind=Reminder.Kind.REFILL_DUE,
        target_type="pump",
        target_id=1,
        due_date=dt.date(2026, 3, 20),
        lead_days=7,
        recipient=f"user:{coordinator.pk}",
        recipient_user=coordinator,
        channel=Reminder.Channel.INBOX,
    )
    html = client.get(reverse("worklist")).content.decode()
    assert 'data-count="1"' in html
    assert coordinator.get_full_name() in html or coordinator.username in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_renaming_a_patients_clinician_refreshes_the_cached_page(client, coordinator, program):
    client.force_login(coordinator)
    assert "Wendy Who" in client.get(reverse("worklist")).content.decode()
    doctor = program["doctor"]
    doctor.last_name = "Else"
    doctor.save()
    html = client.get(reverse("worklist")).content.decode()
    assert "Wendy Else" in html and "Wendy Who" not in html


def test_filter_choices_are_the_users_sites_and_their_patients_clinicians(client, coordinator, program, site):
    client.force_login(coordinator)
    html = client.get(reverse("worklist")).content.decode()
    site_select = html.split('<select name="site"')[1].split("</select>")[0]
    assert f'<option value="{site.pk}">{site.name}</option>' in site_select
    assert f'value="{program["outsider"].site_id}"' not in site_select
    clinician_select = html.split('<select name="clinician"')[1].split("</select>")[0]
    assert clinician_select.count("<option") == 2  # "Any clinician" and the critical patient's doctor
    chosen = client.get(reverse("worklist"), {"site": site.pk}).content.decode()
    assert f'<option value="{site.pk}" selected>' in chosen


def sections_of(html: str) -> str:
    return html.split('<div id="worklist">')[1].split("</main>")[0]


def test_a_long_worklist_says_more_than_without_counting_it_all(client, coordinator, program, monkeypatch):
    from dashboard.views import worklist as views

    monkeypatch.setattr(views, "WORKLIST_ROWS", 2)
    monkeypatch.setattr(views, "WORKLIST_COUNT_LIMIT", 3)
    client.force_login(coordinator)
    html = client.get(reverse("worklist")).content.decode()
    assert "Showing the 2 most urgent of more than 3 items" in html  # six items at the site
    monkeypatch.setattr(views, "WORKLIST_COUNT_LIMIT", 10)
    html = client.get(reverse("worklist"), {"kind": ""}).content.decode()
    assert "Showing the 2 most urgent of 6 items" in html


def test_rows_escape_what_people_typed(client, coordinator, site, frozen):
    """The rows are built in Python (``dashboard/views/worklist.py``): every value escaped as the
    template escaped it, and the row's links to this patient."""
    patient, _ = refilled(site, "O'Hara <b>", dt.date(2025, 8, 1), given_name="Ann & Co")
    client.force_login(coordinator)
    html = sections(client.get(reverse("worklist")))["refill-critical"]
    assert f'<tr class="row-critical" data-patient="{patient.pk}">' in html
    assert f'<a href="/patients/{patient.pk}/">O&#x27;Hara &lt;b&gt;, Ann &amp; Co</a>' in html
    assert "<b>" not in html and "Ann & Co" not in html
    assert f'href="/patients/{patient.pk}/refill-visits/new/?next=/">Book visit' in html
    assert f'href="/patients/{patient.pk}/refills/new/">Record refill' in html


def test_a_cached_page_turns_over_at_midnight_at_the_users_site_without_a_write(client, coordinator, site):
    import time_machine

    client.force_login(coordinator)
    # Europe/London in March is UTC: 23:50 and 00:10 are two days there, with nothing written between.
    with time_machine.travel(dt.datetime(2026, 3, 10, 23, 50, tzinfo=dt.UTC), tick=False):
        before = client.get(reverse("worklist")).content.decode()
    with time_machine.travel(dt.datetime(2026, 3, 11, 0, 10, tzinfo=dt.UTC), tick=False):
        after = client.get(reverse("worklist")).content.decode()
    assert '<time datetime="2026-03-10"' in before
    assert '<time datetime="2026-03-11"' in after


def test_a_hit_reads_the_page_body_once_and_renders_the_filters_as_the_url_fills_them(client, coordinator, program):
    from django.core.cache import cache

    from api.caching import _RECENT

    client.force_login(coordinator)
    params = {"kind": "follow_up"}
    client.get(reverse("worklist"), params)
    reads = []
    original = cache.get

    def counting_get(key, *args, **kwargs):
        reads.append(key)
        return original(key, *args, **kwargs)

    cache.get = counting_get
    try:
        kept = client.get(reverse("worklist"), params).content.decode()
        kept_reads = [key for key in reads if key.startswith("page:")]
        _RECENT.clear()  # another process: the page comes from the shared cache
        html = client.get(reverse("worklist"), params).content.decode()
    finally:
        del cache.get
    page_reads = [key for key in reads if key.startswith("page:")]
    assert kept_reads == []  # the process served this page last: no cache round trip
    assert len(page_reads) == 1  # the body: the filter choices are not read again on a hit
    assert html == kept.replace(_csrf(kept), _csrf(html))
    assert '<option value="follow_up" selected>' in html
    assert "Missedvisit" in html and "Duesoon" not in html


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_a_hit_renders_only_the_count_and_sends_a_token_the_csrf_check_accepts(coordinator, program):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    first = client.get(reverse("worklist"))
    hit = client.get(reverse("worklist"))
    assert [t.name for t in hit.templates] == ["dashboard/partials/reminder_count.html"]
    assert "dashboard/worklist.html" in [t.name for t in first.templates]
    page = hit.content.decode()
    assert "\x00" not in page and _csrf(page) != _csrf(first.content.decode())
    assert page.count(_csrf(page)) == 2  # the htmx header and the log-out form
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": _csrf(page)}).status_code == 302


def test_two_users_of_the_same_sites_each_see_their_own_name(client, site, coordinator, program):
    other = UserFactory(
        username="nurse2", first_name="Nora", last_name="Second", role="coordinator", role__sites=[site]
    )
    client.force_login(coordinator)
    mine = client.get(reverse("worklist")).content.decode()
    client.force_login(other)
    theirs = client.get(reverse("worklist")).content.decode()
    assert "Nora Second" in theirs and "Nora Second" not in mine
    assert _sections(mine) == _sections(theirs)


def test_a_message_is_shown_once_and_the_page_after_it_is_kept_again(client, coordinator, program):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    client.force_login(coordinator)
    client.get(reverse("worklist"))
    client.cookies["messages"] = CookieStorage(HttpRequest())._encode([Message(constants.SUCCESS, "Refill recorded.")])
    shown = client.get(reverse("worklist")).content.decode()
    after = client.get(reverse("worklist"))
    assert "Refill recorded." in shown and "Missedvisit" in shown
    assert "Refill recorded." not in after.content.decode()
    assert "dashboard/worklist.html" not in [t.name for t in after.templates]


def _sections(html: str) -> str:
    return html[html.index('<div id="worklist">') :]
