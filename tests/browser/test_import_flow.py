"""A coordinator brings their program in, in headless Chromium.

Download the template, fill it with two patients (with two mistakes), upload it, read the dry
run's report, fix the spreadsheet, upload again, import, and find the implanted patient on the
worklist with the refill due date worked out by hand.
"""

import datetime as dt
import re

import pytest
from openpyxl import load_workbook

from registry.imports import specs
from registry.models import Patient
from registry.services import site_today
from tests.factories import SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill(path, *, birth: str, diagnosis: str, refill_on: dt.date) -> None:
    """Replace the template's example rows with this program's rows."""
    workbook = load_workbook(path)
    for sheet in specs.SHEETS:
        workbook[sheet.name].delete_rows(2, workbook[sheet.name].max_row)

    def add(sheet, **values):
        workbook[sheet.name].append([values.get(c.field) for c in sheet.columns])

    add(
        specs.PATIENTS,
        mrn="0042",
        given_name="Ines ",
        family_name="Ortega",
        date_of_birth=birth,
        referred_on="2015-01-12",
        sex="Female",
    )
    add(
        specs.PATIENTS,
        mrn="0043",
        given_name="Jon",
        family_name="Park",
        date_of_birth="2011-02-02",
        referred_on=refill_on.isoformat(),
    )
    add(specs.INDICATIONS, mrn="0042", diagnosis=diagnosis)
    add(specs.PUMPS, mrn="0042", serial_number="BRW-1", implant_date="2021-03-01", reservoir_volume_ml=40)
    add(
        specs.REFILLS,
        mrn="0042",
        pump_serial="BRW-1",
        performed_on=refill_on.isoformat(),
        performed_time="09:30",
        volume_after_ml=40,
        concentration_mcg_per_ml=500,
        daily_dose_mcg=200,
    )
    workbook.save(path)


def upload(page, path) -> None:
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("Program file").set_input_files(str(path))
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"))


def test_a_program_moves_in(page, shot, live_server, settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the task runs in the request: no worker in this test
    site = SiteFactory(name="Brookside", time_zone="Europe/London")
    UserFactory(username="coord", role="coordinator", role__sites=[site])
    today = site_today(site)
    refill_on = today - dt.timedelta(days=80)

    page.goto("/")
    page.get_by_label("Username").fill("coord")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Import", exact=True).click()
    shot("import-01-page")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the template").click()
    template = tmp_path / "program.xlsx"
    download.value.save_as(template)
    assert load_workbook(template).sheetnames[-1] == "Column guide"

    # Filled in with two mistakes: a two-digit year and a diagnosis the registry does not know.
    fill(template, birth="07/05/09", diagnosis="Spastic CP", refill_on=refill_on)
    upload(page, template)
    report = page.locator("table.import-problems")
    assert page.get_by_role("alert").inner_text().startswith("2 problems")
    assert report.locator("tbody tr").count() == 2
    rows = [r.inner_text() for r in report.locator("tbody tr").all()]
    assert any("Patients\t2\tDate of birth\t07/05/09" in r and "two-digit year" in r for r in rows)
    assert any("Indications\t2\tDiagnosis\tSpastic CP" in r and "not a known diagnosis" in r for r in rows)
    assert not page.get_by_role("button", name=re.compile("^Import")).count()
    shot("import-02-dry-run-problems")
    assert not Patient.objects.exists()

    fill(template, birth="07/05/2009", diagnosis="Cerebral palsy", refill_on=refill_on)
    upload(page, template)
    assert "The file is clean" in page.get_by_role("status").inner_text()
    shot("import-03-dry-run-clean")
    assert not Patient.objects.exists()
    page.get_by_role("button", name="Import 2 patients").click()
    page.get_by_text("Imported: 2 patients").wait_for()
    shot("import-04-imported")

    # 40 mL at 500 mcg/mL and 200 mcg/day: 0.4 mL a day, 38 mL to the 2 mL alarm in 95 days; due
    # 7 days before, moved back to a Friday if that is a weekend day.
    alarm = refill_on + dt.timedelta(days=95)
    due = alarm - dt.timedelta(days=7)
    while due.weekday() >= 5:
        due -= dt.timedelta(days=1)
    ines = Patient.objects.get(mrn="0042")
    assert (ines.given_name, ines.status, ines.alarm_date, ines.next_refill_due) == ("Ines", "implanted", alarm, due)

    page.get_by_role("link", name="Open today's worklist").click()
    row = page.locator(f'section[id^="refill-"] tr[data-patient="{ines.pk}"]')
    assert "Ortega, Ines" in row.inner_text()
    assert row.locator("time").get_attribute("datetime") == due.isoformat()
    assert page.locator(f'tr[data-patient="{Patient.objects.get(mrn="0043").pk}"]').count() == 0
    shot("import-05-worklist")
