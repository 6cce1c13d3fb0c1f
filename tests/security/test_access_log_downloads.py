"""Files and printouts that carry patients leave a row per patient in the access log: the calendar
feed (initials and MRN), the worklist print view (names), the research exports (study ids). The
report's PDF and CSV tables are aggregates and leave none."""

import datetime as dt
import io
import zipfile

import pytest

from audit.models import PatientAccess
from registry import services
from tests.dashboard import conftest as dashboard
from tests.factories import at
from tests.security.conftest import token_client

pytestmark = pytest.mark.django_db
# The dashboard's program (one patient of each worklist section, one at another site), on its frozen day.
frozen, program = dashboard.frozen, dashboard.program


def logged(channel) -> list[tuple[int, str]]:
    return sorted(PatientAccess.objects.filter(channel=channel).values_list("patient_id", "username"))


def test_each_fetch_of_the_calendar_feed_logs_its_patients_without_the_secret(client, coordinator, program, site):
    due, outsider = program["due"], program["outsider"]
    services.book_refill_visit(patient=due, site=site, starts_at=at(dt.date(2026, 3, 12), 10, 30))
    services.book_refill_visit(patient=outsider, site=outsider.site, starts_at=at(dt.date(2026, 3, 12)), confirmed=True)
    token = services.issue_calendar_feed(user=coordinator)
    shown = sorted([due.pk, program["missed"].pk])  # the booking and the missed follow-up, never the outsider
    for fetch in (1, 2):
        response = client.get(f"/calendar/{token}.ics", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 200
        assert logged(PatientAccess.Channel.CALENDAR) == sorted([(pk, "coord") for pk in shown] * fetch)
    row = PatientAccess.objects.filter(channel=PatientAccess.Channel.CALENDAR).first()
    assert token not in row.path and row.path == "/calendar/secret.ics" and row.client_ip == "198.51.100.7"
    assert row.user_id == coordinator.pk


def test_a_refused_calendar_fetch_logs_nothing(client, coordinator, program):
    token = services.issue_calendar_feed(user=coordinator)
    assert client.get(f"/calendar/{token}.ics", {"site": program["outsider"].site_id}).status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert not PatientAccess.objects.exists()


def test_the_worklist_print_view_logs_each_printed_patient_and_the_screen_does_not(client, coordinator, program):
    client.force_login(coordinator)
    assert client.get("/").status_code == 200
    assert not PatientAccess.objects.exists()
    response = client.get("/print/", {"kind": "refill"})
    assert response.status_code == 200
    printed = {p.pk for key, p in program.items() if key in {"critical", "overdue", "due", "upcoming"}}
    assert {pk for pk, _ in logged(PatientAccess.Channel.PRINT)} == printed
    assert len(logged(PatientAccess.Channel.PRINT)) == len(printed)
    assert PatientAccess.objects.filter(channel=PatientAccess.Channel.PRINT).first().path == "/print/?kind=refill"
    # A second print, served from the page cache, is a second printout: logged again.
    client.get("/print/", {"kind": "refill"})
    assert len(logged(PatientAccess.Channel.PRINT)) == 2 * len(printed)


def _zip_study_ids(content: bytes, name: str) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        lines = z.read(name).decode().splitlines()[1:]
    return {line.split(",")[0] for line in lines}


@pytest.mark.parametrize("surface", ["page", "api"])
def test_a_research_export_logs_each_released_patient(client, coordinator, program, surface, settings):
    settings.RESEARCH_EXPORT_K = 1
    params = {"start": "2025-01-01", "end": "2026-03-09", "k": 1}
    if surface == "page":
        client.force_login(coordinator)
        response = client.get("/reports/export/patients.zip", params)
    else:
        response = token_client(coordinator).get("/api/v1/reports/export/patients.zip", params)
    assert response.status_code == 200
    released = _zip_study_ids(response.content, "patients.csv")
    site_patients = [p for key, p in program.items() if key not in {"outsider", "doctor"}]
    assert released == {p.study_id for p in site_patients}
    assert logged(PatientAccess.Channel.RESEARCH) == sorted((p.pk, "coord") for p in site_patients)


def test_a_pump_year_export_logs_the_patients_it_carries(client, coordinator, program, settings):
    settings.RESEARCH_EXPORT_K = 1
    client.force_login(coordinator)
    response = client.get("/reports/export/pump-years.zip", {"start": "2025-01-01", "end": "2026-03-09", "k": 1})
    assert response.status_code == 200
    carried = _zip_study_ids(response.content, "pump-years.csv")
    assert carried
    by_study = {p.study_id: p.pk for key, p in program.items() if key != "doctor"}
    assert logged(PatientAccess.Channel.RESEARCH) == sorted((by_study[s], "coord") for s in carried)


def test_the_reports_pdf_and_csv_tables_are_aggregates_and_log_nothing(client, coordinator, program):
    client.force_login(coordinator)
    params = {"start": "2025-01-01", "end": "2026-03-09"}
    assert client.get("/reports/report.pdf", params).status_code == 200
    assert client.get("/reports/census-status.csv", params).status_code == 200
    assert not PatientAccess.objects.exists()
