"""The reports page on the demo data, in headless Chromium: a period picked in date inputs, figures in
words and percentages, the annual report downloaded as a PDF, axe-core clean, and at 390 px nothing
scrolls sideways.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.utils import timezone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sideways_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_reports_page_styled_with_a_pdf_download(page, shot, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    year = timezone.localdate().year
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("doctor")
    page.get_by_label("Password").fill("itb-demo-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    page.goto("/reports/")
    start = page.get_by_label("From")
    assert start.get_attribute("type") == "date"
    start.fill(f"{year}-01-01")
    page.get_by_label("To (included)").fill(f"{year}-12-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(rf"start={year}-01-01&end={year}-12-31"))
    assert page.get_by_role("checkbox").count() == 2  # the doctor's two sites

    text = page.locator("main").inner_text()
    assert "GMFCS level" in text and "gmfcs_level" not in text and "on_time_rate" not in text
    assert re.search(r"On-time rate \(of closed cycles\)\s+\d+\.\d% \(\d+ of \d+\)", text)
    assert page.locator("svg.chart.funnel").count() == 2
    shot("reports-01-desktop")
    results = Axe().run(page)
    assert [v["id"] for v in results.response["violations"]] == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"itb-report-{year}0101-{year}1231.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert _sideways_overflow(page) == 0  # wide tables scroll in their own (focusable) container
    shot("reports-02-390px")
    assert [v["id"] for v in Axe().run(page).response["violations"]] == []
