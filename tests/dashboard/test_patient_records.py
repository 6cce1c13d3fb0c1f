"""The patient page's corrections, contact log, details editing and change history."""

import datetime as dt

import pytest
from django.urls import reverse

from registry.models import ContactAttempt, Patient, Refill
from tests.dashboard.test_worklist import sections

pytestmark = pytest.mark.django_db


def test_a_refill_entered_in_error_from_the_timeline(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    refill = Refill.objects.get(pump__patient=patient)
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    url = reverse("refill_entered_in_error", args=[patient.pk, refill.pk])
    assert url in page and "Current dose" in page and "400.00 mcg/day at 2000.00 mcg/mL" in page
    assert "What was wrong?" in client.post(url, {"reason": ""}).content.decode()
    response = client.post(url, {"reason": "Entered on the wrong patient"}, follow=True)
    html = response.content.decode()
    # The pump has no fill left on record: the patient needs attention, never drops off.
    assert "Refill marked as entered in error" in html
    assert "Needs attention: No fill recorded for the pump implanted 02 Jun 2025: record its first fill." in html
    assert "Refill (entered in error)" in html and "Entered on the wrong patient (marked by" in html
    assert url not in html  # cannot be marked twice
    assert Refill.all_objects.filter(pk=refill.pk, entered_in_error=True).exists()
    after = Patient.objects.get(pk=patient.pk)
    assert (after.next_refill_due, after.refill_due_basis) == (dt.date(2025, 6, 2), "needs_attention")


def test_a_call_is_logged_and_shown_on_the_worklist_row(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["overdue"]
    url = reverse("contact_create", args=[patient.pk]) + "?next=/"
    assert f'href="{url}"' in sections(client.get(reverse("worklist")))["refill-overdue"]
    data = {"contacted_at": "2026-03-10T09:15", "channel": "phone", "contact_with": "mother", "outcome": "no_answer"}
    assert client.post(url, data).status_code == 302
    assert "Last contact 10 Mar: no answer" in sections(client.get(reverse("worklist")))["refill-overdue"]
    contact = ContactAttempt.objects.get(patient=patient)
    assert contact.recorded_by == coordinator
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "Phone call with mother: <strong>No answer</strong>" in page
    future = client.post(url, {**data, "contacted_at": "2026-03-11T09:15"}).content.decode()
    assert "A contact cannot be logged in the future." in future and "contacted_at:" not in future


def test_edit_the_details_and_see_the_change_history(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    url = reverse("patient_edit", args=[patient.pk])
    form = client.get(url).content.decode()
    assert f'value="{patient.mrn}"' in form
    data = {
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "contact_phone": "+44 7700 900123",
        "consent_sms": "on",
        "primary_clinician": program["doctor"].pk,
    }
    assert client.post(url, data).status_code == 302
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    history = page.split('id="changes-h"')[1]
    assert "Contact phone" in history and "+44 7700 900123" in history
    assert "Consent sms" in history and "Primary clinician" in history and "Wendy Who" in history
    assert coordinator.username in history


def test_a_missing_page_says_so_in_words(client, coordinator, program):
    client.force_login(coordinator)
    response = client.get(reverse("patient", args=[program["outsider"].pk]))  # another site's patient
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and "not one you have access to" in html and "Traceback" not in html


def test_the_print_view_carries_the_date_and_the_filters(client, coordinator, program):
    client.force_login(coordinator)
    html = client.get(reverse("worklist_print"), {"kind": "refill"}).content.decode()
    assert (
        'ITB worklist <time datetime="2026-03-10">Tuesday 10 March 2026</time>' in html
        and "Kind: Refills" in html
        and "Site: All my sites" in html
    )
    assert 'id="refill-critical"' in html and 'id="follow_up-missed"' not in html
