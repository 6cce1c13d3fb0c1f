"""A coordinator's day on the demo data, in headless Chromium, with a screenshot of each step.

Book a refill visit from the worklist row, see the booking there and in the calendar feed, record
the refill, correct it as entered in error, print the worklist (a PDF of the print view), and
acknowledge every reminder in the inbox. The dashboard passes axe-core, and at 390 px neither the
worklist nor the patient page scrolls sideways.
"""

import datetime as dt
import re

import pytest
import vobject
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.core.management import call_command

from registry.models import Patient, Refill, RefillAppointment, Reminder
from registry.selectors import patient_refill_status
from registry.services import site_today
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _visit_day(patient: Patient) -> dt.date:
    """The next weekday the clinic is open, before the alarm date."""
    day = site_today(patient.site) + dt.timedelta(days=1)
    closed = set(patient.site.closed_days.values_list("date", flat=True))
    while day.weekday() >= 5 or day in closed:
        day += dt.timedelta(days=1)
    assert day < patient.alarm_date
    return day


def _no_sideways_scroll(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [v["id"] for v in results.response["violations"]]


def test_a_coordinators_day(page, shot, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    nurse = get_user_model().objects.get(username="nurse")
    due = [
        p
        for p in Patient.objects.filter(site__name__startswith="Riverside").select_related("site").order_by("pk")
        if patient_refill_status(p) == "due"
    ]
    patient = due[0]
    other = Patient.objects.filter(site=patient.site, battery_eri_date__isnull=False).exclude(pk=patient.pk).first()
    for lead in (180, 90):  # about another patient: this day's refill does not cancel them
        Reminder.objects.create(
            kind=Reminder.Kind.BATTERY,
            patient=other,
            site=other.site,
            target_type="pump",
            target_id=other.pk,
            due_date=other.battery_eri_date,
            lead_days=lead,
            recipient=f"user:{nurse.pk}",
            recipient_user=nurse,
            channel=Reminder.Channel.INBOX,
            status=Reminder.Status.SENT,
        )

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill("itb-demo-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    assert _axe_violations(page) == []

    # Book the refill visit from the patient's worklist row.
    row = page.locator(f'#refill-due tr[data-patient="{patient.pk}"]')
    assert "Not booked" in row.inner_text()
    assert f"born {patient.date_of_birth.day} {patient.date_of_birth:%b %Y}" in row.inner_text()
    shot("day-01-worklist")
    row.get_by_role("link", name=re.compile("^Book visit")).click()
    page.wait_for_url(f"**/patients/{patient.pk}/refill-visits/new/?next=/")
    day = _visit_day(patient)
    page.locator("#id_day").fill(day.isoformat())
    page.locator("#id_time").fill("10:30")
    shot("day-02-book-visit")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/$"))
    row = page.locator(f'#refill-due tr[data-patient="{patient.pk}"]')
    assert f"Booked {day:%a} {day.day} {day:%b %Y}, 10:30" in row.inner_text()
    assert "Refill visit booked" in page.locator("#messages").inner_text()
    shot("day-03-worklist-booked")

    # The booking is in the calendar feed the coordinator subscribes to.
    page.goto("/calendar/")
    page.get_by_role("button", name="Make a calendar link").click()
    link = page.get_by_label("Calendar link: All my clinics").input_value()
    shot("day-04-calendar-link")
    feed = page.request.get(link)
    assert feed.ok and feed.headers["content-type"].startswith("text/calendar")
    events = vobject.readOne(feed.text()).vevent_list
    mine = [e for e in events if e.summary.value.endswith(f"(MRN {patient.mrn})")]
    assert "Refill visit" in [e.summary.value.split(":")[0] for e in mine]
    assert patient.family_name not in feed.text()

    # Record the refill from the patient page: the booking closes.
    page.goto(f"/patients/{patient.pk}/")
    assert f"{day:%a} {day.day} {day:%b %Y}, 10:30" in page.locator("#refill-visit").inner_text()
    page.get_by_role("link", name="Record refill").click()
    page.get_by_label("Volume in the reservoir after the refill (mL)").fill("20")
    page.locator("#id_notes").fill("Family running late; refilled at 11:05.")
    page.get_by_role("button", name="Save refill").click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert "Not booked" in page.locator("#refill-visit").inner_text()
    assert RefillAppointment.objects.get(patient=patient).status == RefillAppointment.Status.ATTENDED
    assert "Family running late" in page.locator(".timeline").inner_text()
    shot("day-05-refill-recorded")

    # It was the wrong volume: mark it entered in error, with the reason; it stays on the timeline.
    refill = Refill.objects.filter(pump__patient=patient).latest("performed_at")
    page.locator(f'a[href="/patients/{patient.pk}/refills/{refill.pk}/entered-in-error/"]').click()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator(".form-errors").is_visible()
    assert page.evaluate("document.activeElement.classList.contains('form-errors')")
    page.locator("#id_reason").fill("Volume typed as 20 mL; 40 mL was filled")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert "Refill (entered in error)" in page.locator(".timeline").inner_text()
    assert Refill.all_objects.get(pk=refill.pk).entered_in_error
    shot("day-06-entered-in-error")

    # At 390 px wide nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert _no_sideways_scroll(page) <= 0
    shot("day-07-patient-390px")
    page.goto("/")
    assert _no_sideways_scroll(page) <= 0
    shot("day-08-worklist-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Print the worklist: A4, the date and filters in the header.
    page.goto("/")
    page.get_by_role("link", name="Print view").click()
    page.wait_for_url("**/print/**")
    header = page.locator(".print-header").inner_text()
    assert "Printed" in header and "All my sites" in header
    page.emulate_media(media="print")
    pdf = SCREENSHOTS.parent / "worklist-print.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    assert pdf.stat().st_size > 1000
    overflow = page.evaluate(
        "[...document.querySelectorAll('table.worklist td, table.worklist th')]"
        ".filter(c => c.scrollWidth > c.clientWidth + 1).length"
    )
    assert overflow == 0
    shot("day-09-print-view")
    page.emulate_media(media="screen")

    # Inbox: acknowledge everything at once; the acknowledged ones are listed below.
    page.goto("/reminders/")
    shot("day-10-inbox")
    page.get_by_role("button", name=re.compile("^Acknowledge all")).click()
    page.locator('#reminder-count[data-count="0"]').wait_for()
    assert not Reminder.objects.filter(recipient_user=nurse, status=Reminder.Status.SENT).exists()
    assert "Recently acknowledged" in page.locator("#inbox").inner_text()
    shot("day-11-inbox-acknowledged")
