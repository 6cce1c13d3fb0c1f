"""The reminder inbox: the user's reminders, acknowledged one or many, the count in the header."""

import pytest
from django.urls import reverse

from registry.models import Reminder
from tests.registry.test_reminders_inbox import make_reminder

pytestmark = pytest.mark.django_db


def header_count(html: str) -> int:
    return int(html.split('id="reminder-count"')[1].split('data-count="')[1].split('"')[0])


def test_acknowledge_one_then_many(client, coordinator, program):
    reminders = [make_reminder(program["critical"], coordinator, lead=n) for n in (14, 7, 2)]
    client.force_login(coordinator)
    page = client.get(reverse("inbox")).content.decode()
    assert header_count(page) == 3 and "3 open reminders" in page and "Critical, Alex" in page

    response = client.post(
        reverse("inbox_acknowledge"), {"one": reminders[0].pk, "ids": [reminders[1].pk]}, follow=True
    )
    assert header_count(response.content.decode()) == 2  # the row's own button acknowledges that row only
    response = client.post(reverse("inbox_acknowledge"), {"ids": [reminders[1].pk, reminders[2].pk]}, follow=True)
    html = response.content.decode()
    assert header_count(html) == 0 and "2 reminders acknowledged" in html and "No open reminders" in html
    assert set(Reminder.objects.values_list("status", flat=True)) == {"acknowledged"}


def test_htmx_acknowledge_swaps_the_list_and_the_count(client, coordinator, program):
    reminder = make_reminder(program["critical"], coordinator)
    make_reminder(program["critical"], coordinator, lead=2)
    client.force_login(coordinator)
    html = client.post(
        reverse("inbox_acknowledge"), {"one": reminder.pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in html and 'hx-swap-oob="true"' in html and header_count(html) == 1


def test_bad_ids_do_nothing(client, coordinator, program):
    client.force_login(coordinator)
    response = client.post(reverse("inbox_acknowledge"), {"ids": ["x", "999999"]}, follow=True)
    assert response.status_code == 200 and "Nothing to acknowledge" in response.content.decode()
    assert client.get(reverse("inbox_acknowledge")).status_code == 405


def test_the_inbox_says_when_from_today_not_from_the_lead(client, coordinator, program):
    make_reminder(program["critical"], coordinator, lead=14)  # dated 2 Mar 2026; today is 10 Mar
    client.force_login(coordinator)
    html = client.get(reverse("inbox")).content.decode()
    assert "2 Mar 2026 (8 days ago)" in html and "14 days before" not in html


@pytest.mark.parametrize("page", ["worklist", "patient_list", "inbox"])
def test_the_headers_count_is_said_in_words_with_its_plural(client, coordinator, program, page):
    client.force_login(coordinator)
    assert 'aria-label="0 open reminders"' in client.get(reverse(page)).content.decode()
    make_reminder(program["critical"], coordinator)
    assert 'aria-label="1 open reminder"' in client.get(reverse(page)).content.decode()
    make_reminder(program["critical"], coordinator, lead=3)
    assert 'aria-label="2 open reminders"' in client.get(reverse(page)).content.decode()
