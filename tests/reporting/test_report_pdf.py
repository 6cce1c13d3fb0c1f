"""The program report as a PDF, drawn by the real WeasyPrint and read back with pypdf.

The figures checked in the PDF's text are those of the hand-computed program (tests/reporting/
program.py), derived in the comments of tests/reporting/test_reports.py.
"""

import io
import re

import pytest
import time_machine
from pypdf import PdfReader

from reporting import pdf
from tests.factories import UserFactory
from tests.reporting.program import IDENTIFYING, NOW, build_program

pytestmark = pytest.mark.django_db
YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
URL = "/reports/report.pdf"
A4 = (595.28, 841.89)  # points


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def pdf_text(response) -> tuple[PdfReader, str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"\s+", " ", text)


def test_the_annual_report_pdf_holds_the_programs_figures_on_a4(program, client):
    client.force_login(UserFactory(username="reporter", role="reporting", role__sites=[program.north, program.south]))
    with time_machine.travel(NOW, tick=False):
        response = client.get(URL, YEAR)
    reader, text = pdf_text(response)
    assert 'filename="itb-report-20260101-20261231.pdf"' in response["Content-Disposition"]
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4
    assert "annual report 2026" in text and "Period 2026-01-01 to 2026-12-31" in text
    assert "generated 2027-01-10" in text
    # Census on 2026-12-31: 6 patients registered, 3 active (Ada, Cleo and Eve in the care pathway).
    assert "6 patients, 3 active" in text
    # Refills: 6 performed; 3 on time and 2 late or after the alarm of 5 closed cycles; median interval 92 days.
    assert "Refills performed 6" in text
    assert "60.0% (3 of 5)" in text and "40.0% (2 of 5)" in text
    assert "Median refill interval (days) 92" in text
    # 3 complications with pump time over 759 pump-days = 2.078 pump-years: 144.37 (exact 95% CI 29.77-421.9).
    assert "144.37 (95% CI 29.77–421.9): 3 complications over 2.078" in text and "1 more without pump time" in text
    # Follow-ups: 2 completed, 2 missed: adherence 50.0% (2 of 4). Goals: 2 of 3 reviewed at or above expected.
    assert "50.0% (2 of 4)" in text and "66.7% (2 of 3)" in text
    # The charts are drawn as vectors: their titles and labels are text in the PDF.
    assert "Complications per 100 pump-years by site (funnel plot)" in text
    assert "Late refills by site" in text and "Patients by primary indication" in text
    # Labels, not keys; the definitions follow the figures.
    assert "GMFCS level" in text and "gmfcs_level" not in text and "on_time_rate" not in text
    assert "Definitions" in text and "Follow-up adherence, from dates alone" in text
    assert not [v for v in IDENTIFYING.values() if v in text]


def test_the_pdfs_html_carries_the_funnel_plots_as_svg(program, client, monkeypatch):
    drawn = []
    monkeypatch.setattr(pdf, "render", lambda html: drawn.append(html) or pdf.HTML(string="<p>x</p>").write_pdf())
    client.force_login(UserFactory(username="reporter", role="reporting", role__sites=[program.north, program.south]))
    assert client.get(URL, YEAR).status_code == 200
    html = drawn[0]
    assert html.count('<svg class="chart funnel"') == 2 and "<circle" in html
    assert "Download PDF" not in html and ".csv?" not in html


def test_the_pdf_keeps_to_the_users_sites(program, client):
    client.force_login(UserFactory(username="south", role="reporting", role__sites=[program.south]))
    _, text = pdf_text(client.get(URL, YEAR))
    assert "South" in text and "North" not in text
    refused = client.get(URL, {**YEAR, "site": program.north.pk})
    assert refused.status_code == 400 and "North" not in refused.content.decode()


def test_a_user_with_no_site_gets_an_empty_report(program, client):
    client.force_login(UserFactory(username="nosite", role="reporting"))
    _, text = pdf_text(client.get(URL, YEAR))
    assert "No site in your scope" in text and "0 patients, 0 active" in text


def test_who_may_download_the_pdf(program, client):
    assert client.get(URL, YEAR).status_code == 302  # to the log-in page
    client.force_login(UserFactory(username="stranger"))
    assert client.get(URL, YEAR).status_code == 403
    client.force_login(UserFactory(username="nurse", role="clinician", role__sites=[program.north]))
    assert client.get(URL, YEAR).status_code == 200


def test_bad_dates_are_a_400_in_words(program, client):
    client.force_login(UserFactory(username="reporter", role="reporting", role__sites=[program.north]))
    response = client.get(URL, {"start": "2026-12-31", "end": "2026-01-01"})
    assert response.status_code == 400 and "The end cannot be before the start." in response.content.decode()


def test_rendering_fetches_nothing_but_static_files():
    fetcher = pdf.StaticFilesOnly(fail_on_errors=True)
    css = fetcher.fetch(pdf.BASE_URL + "static/reporting/report.css")
    assert b"@page" in css.read()
    for url in (
        "https://example.org/x.css",
        "file:///etc/passwd",
        pdf.BASE_URL + "static/../../config/settings.py",
        pdf.BASE_URL + "media/upload.css",
    ):
        with pytest.raises(ValueError, match="only use the app's static files"):
            fetcher.fetch(url)
    with pytest.raises(RuntimeError, match="Error fetching"):
        pdf.render('<link rel="stylesheet" href="https://example.org/x.css"><p>x</p>')
