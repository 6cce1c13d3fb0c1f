"""The reports API and page: who may see them, parameter validation, and no identifying data."""

import csv
import datetime as dt
import io
import zipfile

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from reporting import reports
from tests.factories import UserFactory
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
API = "/api/v1/reports"


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def reporter(program):
    return UserFactory(username="reporter", role="reporting", role__sites=[program.north, program.south])


@pytest.fixture
def south_reporter(program):
    return UserFactory(username="south", role="reporting", role__sites=[program.south])


def text_of(response) -> str:
    """A response's text; a zip export's members, one after another."""
    if response["Content-Type"] != "application/zip":
        return response.content.decode()
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        return "\n".join(z.read(name).decode() for name in sorted(z.namelist()))


def export_rows(response, kind="patients") -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        return list(csv.reader(io.StringIO(z.read(f"{kind}.csv").decode())))


@pytest.fixture
def k1(settings):
    """A registry configured to allow k = 1, so the small fixture program's rows are released."""
    settings.RESEARCH_EXPORT_K = 1


def every_url(program) -> list[str]:
    query = "start=2025-01-01&end=2026-12-31"
    urls = [f"{API}/summary/?{query}", f"{API}/export/patients.zip?{query}", f"{API}/export/pump-years.zip?{query}"]
    urls += [f"{API}/tables/{name}.csv?{query}" for name in reports.TABLES]
    urls += [f"/reports/?{query}", f"/reports/export/patients.zip?{query}", f"/reports/export/pump-years.zip?{query}"]
    urls += [f"/reports/{name}.csv?{query}" for name in reports.TABLES]
    return urls


def test_reporting_role_reaches_no_identifying_field_anywhere(program, reporter, admin_user, k1):
    secrets = program.identifying_values()
    assert "Adaline" in secrets and "2011-12-31" in secrets and "+44 7700 900123" in secrets
    for user in (reporter, admin_user):
        client = client_for(user)
        for url in every_url(program):
            response = client.get(url)
            assert response.status_code == 200, url
            body = text_of(response)
            leaked = [s for s in secrets if s in body]
            assert not leaked, (url, leaked)
    # The exports do carry the study ids, the research identifier.
    body = text_of(client_for(reporter).get(f"{API}/export/patients.zip?start=2026-01-01&end=2026-12-31"))
    assert program.ada.study_id in body


def test_summary_matches_the_service(program, reporter):
    response = client_for(reporter).get(f"{API}/summary/", YEAR)
    assert response.status_code == 200
    data = response.json()
    assert data["refills"]["median_interval_days"] == 92
    assert data["safety"]["pump_years"] == 2.078
    assert data["census"]["patients"] == 6
    assert data["sites"] == ["North", "South"]


def test_reporting_role_sees_only_its_sites(program, south_reporter, k1):
    client = client_for(south_reporter)
    data = client.get(f"{API}/summary/", YEAR).json()
    # South: Cleo (moved there) and Eve.
    assert data["sites"] == ["South"] and data["census"]["patients"] == 2
    rows = export_rows(client.get(f"{API}/export/patients.zip", YEAR))
    assert {r[0] for r in rows[1:]} == {program.cleo.study_id, program.eve.study_id}
    # Asking for a site it does not report on is an error, not a silent widening.
    response = client.get(f"{API}/summary/", {**YEAR, "site": program.north.pk})
    assert response.status_code == 400 and "site" in response.json()


def test_administrator_sees_every_site_and_may_pick_some(program, admin_user):
    client = client_for(admin_user)
    assert client.get(f"{API}/summary/", YEAR).json()["census"]["patients"] == 6
    data = client.get(f"{API}/summary/", {**YEAR, "site": [program.north.pk, program.south.pk]}).json()
    assert data["census"]["patients"] == 6
    assert client.get(f"{API}/summary/", {**YEAR, "site": program.north.pk}).json()["census"]["patients"] == 4


def test_coordinator_sees_the_aggregates_of_their_own_sites(program):
    nurse = UserFactory(username="nurse", role="coordinator", role__sites=[program.north])
    client = client_for(nurse)
    assert client.get(f"{API}/summary/", YEAR).json()["sites"] == ["North"]
    assert client.get(f"{API}/summary/", {**YEAR, "site": program.south.pk}).status_code == 400
    assert client.get("/reports/", YEAR).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday"},
        {"start": "2026-13-01"},
        {"start": "2026-12-31", "end": "2026-01-01"},
        {"start": "0001-01-01", "end": "2026-01-01"},
        {"end": "9999-12-31"},
        {"site": "abc"},
        {"site": "-1"},
        {"site": "99999999999999999999999"},
        {"site": "123456"},
        {"k": "2"},  # below the registry's minimum of 5
        {"k": "many"},
    ],
)
def test_invalid_parameters_give_400(program, reporter, params):
    client = client_for(reporter)
    for url in (f"{API}/summary/", f"{API}/tables/refills.csv", f"{API}/export/patients.zip", "/reports/"):
        response = client.get(url, params)
        assert response.status_code == 400, (url, response.status_code)
    assert client.get("/reports/refills.csv", params).status_code == 400
    assert client.get("/reports/export/pump-years.zip", params).status_code == 400


def test_csv_errors_when_csv_is_asked_for(program, reporter):
    response = client_for(reporter).get(f"{API}/tables/refills.csv", {"start": "nope"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == "field,message"


def test_table_csv(program, reporter):
    response = client_for(reporter).get(f"{API}/tables/refills.csv", YEAR)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["measure", "value"] and ["median_interval_days", "92"] in rows
    assert client_for(reporter).get(f"{API}/tables/nothing.csv", YEAR).status_code == 404


def test_pump_year_export(program, reporter, k1):
    response = client_for(reporter).get(f"{API}/export/pump-years.zip", YEAR)
    rows = export_rows(response, "pump-years")
    assert rows[0] == reports.PUMP_YEAR_COLUMNS
    assert response["X-K-Anonymity"] == "requested=1; achieved=1"
    assert [program.ada.study_id, "2", "2026", "184", "2", "1"] in rows


@pytest.mark.parametrize("url", [f"{API}/summary/", f"{API}/tables/refills.csv", f"{API}/export/patients.zip"])
def test_users_without_a_role_and_anonymous_users_are_refused(program, url):
    stranger = UserFactory(username="stranger")
    assert client_for(stranger).get(url, YEAR).status_code == 403
    assert APIClient().get(url, YEAR).status_code in (401, 403)


def test_page_refuses_users_without_a_role_and_asks_anonymous_users_to_sign_in(program, client):
    assert client.get("/reports/").status_code == 302
    client.force_login(UserFactory(username="stranger"))
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/refills.csv").status_code == 403
    assert client.get("/reports/export/patients.zip").status_code == 403


def test_reporting_role_is_kept_from_the_admin(program, reporter, client):
    client.force_login(reporter)
    assert client.get("/admin/registry/patient/").status_code == 302  # not staff: sent to the admin login


def test_page_has_charts_print_style_and_a_csv_link_per_table(program, reporter, client):
    client.force_login(reporter)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/reports/")  # default period: this year to date (2027)
    assert response.status_code == 200
    response = client.get("/reports/", YEAR)
    body = response.content.decode()
    assert body.count("<svg") == 8  # six bar charts and two funnel plots
    # The print style is a file of its own (the Content-Security-Policy refuses inline styles).
    assert 'href="/static/reporting/report.css"' in body
    assert "@media print" in (settings.BASE_DIR / "reporting/static/reporting/report.css").read_text()
    for name in reports.TABLES:
        assert f'href="/reports/{name}.csv?start=2026-01-01&amp;end=2026-12-31"' in body
    assert "/reports/export/patients.zip?" in body and "Cerebral palsy" in body
    csv_body = client.get(f"/reports/census-status.csv?{'start=2026-01-01&end=2026-12-31'}").content.decode()
    assert "implanted,2" in csv_body


def test_page_escapes_site_names_in_charts_and_tables(program, reporter, client):
    program.north.name = "<script>alert(1)</script>"
    program.north.save()
    client.force_login(reporter)
    body = client.get("/reports/", YEAR).content.decode()
    assert "<script>alert(1)</script>" not in body


def test_schema_stays_valid_with_the_report_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/reports/summary/",
        "/api/v1/reports/export/patients.zip",
        "/api/v1/reports/tables/{name}.csv",
    ):
        assert path in text


def test_empty_year_through_the_api(program, reporter):
    data = client_for(reporter).get(f"{API}/summary/", {"start": "2020-01-01", "end": "2020-12-31"}).json()
    assert data["census"]["patients"] == 0 and data["goals"]["mean_t_score"] is None
    response = client_for(reporter).get(f"{API}/export/pump-years.zip", {"start": "2020-01-01", "end": "2020-12-31"})
    assert export_rows(response, "pump-years") == [reports.PUMP_YEAR_COLUMNS]


def test_default_period_is_this_year_to_date(program, reporter):
    with time_machine.travel(dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC), tick=False):
        data = client_for(reporter).get(f"{API}/summary/").json()
    assert data["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["refills"]["performed"] == 6


def test_export_k_may_be_raised_never_lowered(program, reporter):
    client = client_for(reporter)
    response = client.get(f"{API}/export/patients.zip", {**YEAR, "k": 8})
    assert "k requested: 8" in text_of(response)
    refused = client.get(f"{API}/export/patients.zip", {**YEAR, "k": 4})
    assert refused.status_code == 400 and "cannot be below 5" in refused.json()["k"][0]


def test_page_shows_the_funnel_plots_and_the_literature(program, reporter, client):
    client.force_login(reporter)
    body = client.get("/reports/", YEAR).content.decode()
    assert "funnel plot" in body and "99.8%" in body
    assert "PMC6808077" in body and "PMID 33974333" in body
