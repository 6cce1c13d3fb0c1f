"""The reports page in words: date inputs, labels instead of keys, shares in percent with their counts."""

import pytest
import time_machine

from tests.factories import UserFactory
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def test_the_page_shows_labels_percentages_and_a_pdf_link(program, client):
    client.force_login(UserFactory(username="reporter", role="reporting", role__sites=[program.north, program.south]))
    body = client.get("/reports/", YEAR).content.decode()
    assert body.count('type="date"') == 2 and 'value="2026-01-01"' in body and 'type="checkbox"' in body
    assert 'href="/reports/report.pdf?start=2026-01-01&amp;end=2026-12-31"' in body and "Download PDF" in body
    # Headers and measures in words, never the keys the CSVs keep.
    assert '<th scope="col">GMFCS level</th>' in body and "GMFCS IV" in body
    for key in ("gmfcs_level", "on_time_rate", "per_100_pump_years", "share_at_or_above_expected", "family_sms"):
        assert key not in body, key
    # 3 on time of 5 closed cycles; North 2 late of 4 closed; 2 of 4 visits kept (test_reports derives each).
    assert "60.0% (3 of 5)" in body and "50.0% (2 of 4)" in body
    assert "0.6</td>" not in body and "0.4</td>" not in body
    # The definitions are on the page too, generated from the same docstrings as docs/reporting.md.
    assert "Follow-up adherence</strong>, from dates alone" in body


def test_a_bad_period_is_refused_in_words(program, client):
    client.force_login(UserFactory(username="reporter", role="reporting", role__sites=[program.north]))
    response = client.get("/reports/", {"start": "2026-12-31", "end": "2026-01-01"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Please correct the 1 problem below." in body and "The end cannot be before the start." in body
    assert "end:" not in body
