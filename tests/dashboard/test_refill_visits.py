"""Booking, moving and cancelling refill visits from the worklist and the patient page; follow-ups rescheduled."""

import datetime as dt

import pytest
from django.urls import reverse

from registry.models import FollowUp, RefillAppointment
from tests.dashboard.test_worklist import sections

pytestmark = pytest.mark.django_db


def test_book_from_the_worklist_row_and_see_the_booking(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    row = sections(client.get(reverse("worklist")))["refill-due"]
    assert "Not booked" in row
    book_url = reverse("refill_visit_book", args=[patient.pk]) + "?next=/"
    assert f'href="{book_url}"' in row
    assert f'href="{reverse("refill_create", args=[patient.pk])}"' in row
    form = client.get(book_url).content.decode()
    assert "Refill due Fri 13 Mar 2026" in form and 'type="time"' in form
    response = client.post(book_url, {"day": "2026-03-12", "time": "10:30", "site": patient.site.pk})
    assert response.status_code == 302 and response["Location"] == "/"
    row = sections(client.get(reverse("worklist")))["refill-due"]
    assert "Booked Thu 12 Mar 2026, 10:30" in row and "Not booked" not in row
    visit = RefillAppointment.objects.get(patient=patient)
    assert visit.booked_by == coordinator
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "Thu 12 Mar 2026, 10:30" in page
    assert reverse("refill_visit_move", args=[patient.pk, visit.pk]) in page
    assert reverse("refill_visit_cancel", args=[patient.pk, visit.pk]) in page


def test_a_refused_booking_says_why_in_words_and_a_confirmation_books_it(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    url = reverse("refill_visit_book", args=[patient.pk])
    data = {"day": "2026-03-25", "time": "09:00", "site": patient.site.pk}
    html = client.post(url, data).content.decode()
    assert "on or after the low-reservoir alarm date (24 Mar 2026)" in html
    assert "starts_at" not in html and not RefillAppointment.objects.exists()
    assert client.post(url, {**data, "confirmed": "on"}).status_code == 302
    row = sections(client.get(reverse("worklist")))["refill-due"]
    assert "on or after the alarm date" in row


def test_move_and_cancel_from_the_patient_page(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    client.post(
        reverse("refill_visit_book", args=[patient.pk]), {"day": "2026-03-11", "time": "10:00", "site": patient.site.pk}
    )
    visit = RefillAppointment.objects.get(patient=patient)
    move = reverse("refill_visit_move", args=[patient.pk, visit.pk])
    assert client.post(move, {"day": "2026-03-16", "time": "11:00", "site": patient.site.pk}).status_code == 302
    visit.refresh_from_db()
    assert visit.starts_on == dt.date(2026, 3, 16)
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "after the due date" in page
    cancel = reverse("refill_visit_cancel", args=[patient.pk, visit.pk])
    assert "Why is the visit cancelled?" in client.post(cancel, {}).content.decode()
    assert client.post(cancel, {"reason": "Family moving house"}).status_code == 302
    visit.refresh_from_db()
    assert visit.status == RefillAppointment.Status.CANCELLED
    assert client.get(move).status_code == 404


def test_reschedule_a_missed_follow_up_from_the_worklist(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["missed"]
    visit = FollowUp.objects.get(patient=patient)
    url = reverse("follow_up_reschedule", args=[patient.pk, visit.pk]) + "?next=/"
    assert f'href="{url}"' in sections(client.get(reverse("worklist")))["follow_up-missed"]
    assert client.post(url, {"due_date": "2026-03-20"}).status_code == 302
    found = sections(client.get(reverse("worklist")))
    assert "follow_up-missed" not in found and "Missedvisit" in found["follow_up-due"]
