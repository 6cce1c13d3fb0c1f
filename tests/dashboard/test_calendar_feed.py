"""The visits calendar: a secret, revocable link serving RFC 5545, read back with vobject (a
second, independent iCalendar parser)."""

import datetime as dt
import re

import pytest
import vobject
from django.test import Client
from django.urls import reverse

from registry import services
from tests.factories import at

pytestmark = pytest.mark.django_db


def new_links(client) -> dict[str, str]:
    html = client.post(reverse("calendar_settings"), {"action": "issue"}).content.decode()
    return dict(re.findall(r'<dt>([^<]+)</dt><dd><input type="text" readonly value="([^"]+)"', html))


def fetch(url: str):
    return Client().get(url.replace("http://testserver", ""))


def test_the_feed_lists_the_clinics_booked_visits_with_initials_and_mrn_only(client, coordinator, program, site):
    due, outsider = program["due"], program["outsider"]
    services.book_refill_visit(patient=due, site=site, starts_at=at(dt.date(2026, 3, 12), 10, 30))
    services.book_refill_visit(patient=outsider, site=outsider.site, starts_at=at(dt.date(2026, 3, 12)), confirmed=True)
    services.schedule_follow_up(
        patient=program["upcoming"],
        kind="clinic_review",
        due_date=dt.date(2026, 3, 18),
        scheduled_at=at(dt.date(2026, 3, 18), 14),
    )
    client.force_login(coordinator)
    links = new_links(client)
    assert set(links) == {"All my clinics", site.name}
    response = fetch(links["All my clinics"])
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    parsed = vobject.readOne(body)
    events = {e.summary.value: e for e in parsed.vevent_list}
    missed = program["missed"]
    refill_summary = f"Refill visit: {due.given_name[0]}D (MRN {due.mrn})"
    assert set(events) == {
        refill_summary,
        f"Clinic review: {program['upcoming'].given_name[0]}U (MRN {program['upcoming'].mrn})",
        f"Clinic review: {missed.given_name[0]}M (MRN {missed.mrn})",  # a date without a time: all day
    }
    refill = events[refill_summary]
    assert refill.dtstart.value == dt.datetime(2026, 3, 12, 10, 30, tzinfo=dt.UTC)  # London in March is UTC
    assert refill.dtend.value - refill.dtstart.value == dt.timedelta(minutes=30)
    all_day = events[f"Clinic review: {missed.given_name[0]}M (MRN {missed.mrn})"]
    assert all_day.dtstart.value == dt.date(2026, 2, 25) and not isinstance(all_day.dtstart.value, dt.datetime)
    assert refill.location.value == site.name and refill.uid.value.startswith("refill-visit-")
    for name in (due.family_name, due.given_name, program["upcoming"].family_name, missed.family_name, "Outsider"):
        assert name not in body
    assert "DTSTART:20260312T103000Z" in body


def test_one_clinic_only_and_never_another_users_clinic(client, coordinator, program, site, other_site):
    client.force_login(coordinator)
    links = new_links(client)
    assert fetch(links[site.name]).status_code == 200
    assert fetch(links["All my clinics"] + f"?site={other_site.pk}").status_code == 404
    assert fetch(links["All my clinics"] + "?site=x").status_code == 404


def test_a_new_link_revokes_the_old_and_revoking_stops_the_feed(client, coordinator, program):
    client.force_login(coordinator)
    first = new_links(client)["All my clinics"]
    second = new_links(client)["All my clinics"]
    assert fetch(first).status_code == 404 and fetch(second).status_code == 200
    page = client.get(reverse("calendar_settings")).content.decode()
    assert "You have a calendar link" in page and second not in page  # shown once only
    client.post(reverse("calendar_settings"), {"action": "revoke"})
    assert fetch(second).status_code == 404
    assert fetch("/calendar/not-a-token.ics").status_code == 404


def test_a_user_who_lost_the_clinical_role_gets_nothing(client, coordinator, program):
    client.force_login(coordinator)
    link = new_links(client)["All my clinics"]
    coordinator.staff.role = "reporting"
    coordinator.staff.save()
    assert fetch(link).status_code == 404
