"""A coordinator's morning on the demo data, in headless Chromium.

Log in, find the critical patient at the top of the worklist, record their refill (seeing the next
due date before saving), see them leave the critical list with the new due date, be refused an
impossible volume beside the field, and acknowledge a reminder from the inbox.
"""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from registry.models import Patient, Reminder
from registry.selectors import patient_refill_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_morning(page, shot, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    nurse = get_user_model().objects.get(username="nurse")
    critical = [
        p
        for p in Patient.objects.filter(site__name__startswith="Riverside").select_related("site")
        if patient_refill_status(p) == "critical"
    ]
    assert len(critical) == 1
    patient = critical[0]
    reminders = [
        Reminder.objects.create(
            kind=kind,
            patient=patient,
            site=patient.site,
            target_type="pump",
            target_id=patient.pk,
            due_date=due,
            lead_days=lead,
            recipient=f"user:{nurse.pk}",
            recipient_user=nurse,
            channel=Reminder.Channel.INBOX,
            status=Reminder.Status.SENT,
        )
        for kind, lead, due in [
            (Reminder.Kind.REFILL_CRITICAL, -1, patient.next_refill_due),
            (Reminder.Kind.BATTERY, 180, patient.battery_eri_date),
            (Reminder.Kind.BATTERY, 90, patient.battery_eri_date),
        ]
    ]

    # Log in.
    page.goto("/")
    assert "/accounts/login/" in page.url
    shot("01-login")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill("itb-demo-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    # The critical patient heads the worklist, and says why.
    first_section = page.locator("section.worklist-section").first
    assert first_section.get_attribute("id") == "refill-critical"
    top_row = first_section.locator("tbody tr").first
    assert top_row.get_attribute("data-patient") == str(patient.pk)
    assert "Critical" in top_row.inner_text() and "Alarm date" in top_row.inner_text()
    assert page.locator("#reminder-count").inner_text() == "3"
    shot("02-worklist")

    # Open the patient, then the refill form; the preview shows the next due date before saving.
    top_row.locator(f'a[href="/patients/{patient.pk}/"]').click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert page.locator("#refill-status").inner_text().startswith("Critical")
    assert page.locator("svg polyline").count() == 1
    shot("03-patient-critical")
    page.get_by_role("link", name="Record refill").click()
    page.wait_for_url(f"**/patients/{patient.pk}/refills/new/")
    page.get_by_label("Volume removed (mL)").fill("2.5")
    page.get_by_label("Expected residual from the programmer (mL)").fill("2.4")
    page.get_by_label("Volume in the reservoir after the refill (mL)").fill("40")
    page.get_by_label("Daily dose (mcg/day)").fill("300")
    page.get_by_label("Daily dose (mcg/day)").blur()
    preview = page.locator("#preview-next-due")
    preview.wait_for()
    previewed = preview.locator("time").get_attribute("datetime")
    shot("04-refill-preview")
    page.get_by_role("button", name="Save refill").click()
    page.wait_for_url(f"**/patients/{patient.pk}/")

    patient.refresh_from_db()
    assert patient.next_refill_due > dt.date.today()
    assert previewed == f"{patient.next_refill_due:%Y-%m-%d}"
    assert page.locator("#next-refill-due time").get_attribute("datetime") == previewed
    assert "Refill recorded. Next refill due" in page.locator("#messages").inner_text()
    assert not page.locator("#refill-status").inner_text().startswith("Critical")
    shot("05-patient-after-refill")

    # Back on the worklist: nobody is critical any more; the patient is no longer at the top.
    page.get_by_role("link", name="Today").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("#refill-critical").count() == 0
    assert page.locator(f'#refill-critical tr[data-patient="{patient.pk}"]').count() == 0
    shot("06-worklist-after-refill")

    # An impossible volume is refused beside the field, and nothing is saved.
    page.goto(f"/patients/{patient.pk}/refills/new/")
    page.get_by_label("Volume in the reservoir after the refill (mL)").fill("999")
    page.get_by_role("button", name="Save refill").click()
    page.wait_for_load_state()
    error = page.locator("#field-volume_after_ml .errorlist")
    assert "holds at most 40.00 mL" in error.inner_text()
    assert page.get_by_label("Volume in the reservoir after the refill (mL)").get_attribute("aria-invalid") == "true"
    assert patient.pumps.get(explant_date=None).refills.filter(volume_after_ml=999).count() == 0
    shot("07-refill-impossible-volume")

    # Inbox: acknowledge one reminder; the header count drops.
    page.get_by_role("link", name=re.compile("^Reminders")).click()
    page.wait_for_url("**/reminders/")
    shot("08-inbox")
    # The refill took away the reason of the critical reminder: it was cancelled, not left to nag.
    reminders[0].refresh_from_db()
    assert reminders[0].status == Reminder.Status.CANCELLED
    assert page.locator("#inbox tbody tr").count() == 2
    page.locator(f'tr[data-reminder="{reminders[1].pk}"]').get_by_role("button", name=re.compile("Acknowledge")).click()
    page.locator('#reminder-count[data-count="1"]').wait_for()
    assert page.locator("#inbox tbody tr").count() == 1
    reminders[1].refresh_from_db()
    assert reminders[1].status == Reminder.Status.ACKNOWLEDGED and reminders[1].acknowledged_by == nurse
    shot("09-inbox-after-acknowledge")

    # The patient list, keyboard first: the skip link is the first thing Tab reaches.
    page.goto("/patients/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("Name or MRN").fill(patient.mrn)
    page.locator("#patient-results .result-count").filter(has_text="1 patient").wait_for()
    shot("10-patient-search")
