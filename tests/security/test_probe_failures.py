"""The failures a probe of the production settings found, each walked again here."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from registry.models import Reminder, Site, StaffProfile
from registry.services import move_patient
from tasks import tasks
from tests.factories import SiteFactory, UserFactory, make_implanted, make_patient
from tests.security.conftest import make_reminder, token_client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
St, C = Reminder.Status, Reminder.Channel


# --- Reports for a user with no sites ---------------------------------------------------------


def test_reports_for_a_reporting_user_without_sites_answer_empty_not_500(client, site):
    make_implanted(site)
    user = UserFactory(username="reports", role="reporting")  # as seed_demo makes it: no site
    client.force_login(user)
    for url in [
        "/reports/",
        "/reports/census-status.csv",
        "/reports/export/patients.zip",
        "/api/v1/reports/summary/",
        "/api/v1/reports/tables/census-status.csv",
    ]:
        assert client.get(url).status_code == 200, url
    assert sum(client.get("/api/v1/reports/summary/").json()["census"]["by_status"].values()) == 0


# --- Reminders: only their recipient acknowledges them; never before delivery -----------------


def test_a_clinical_user_cannot_acknowledge_someone_elses_reminder(site, coordinator):
    patient = make_patient(site)
    colleague = UserFactory(username="colleague", role="coordinator", role__sites=[site])
    theirs = make_reminder(patient, user=colleague)
    response = token_client(coordinator).post(f"/api/v1/reminders/{theirs.pk}/acknowledge/")
    assert response.status_code == 403
    assert "recipient" in response.json()["detail"]
    theirs.refresh_from_db()
    assert theirs.status == St.SENT and theirs.acknowledged_by is None
    mine = make_reminder(patient, user=coordinator, recipient="user:mine")
    assert token_client(coordinator).post(f"/api/v1/reminders/{mine.pk}/acknowledge/").status_code == 200
    assert Reminder.objects.get(pk=mine.pk).acknowledged_by == coordinator


def test_acknowledging_never_cancels_an_email_not_yet_sent(site, admin_user):
    patient = make_patient(site)
    pending = make_reminder(patient, channel=C.EMAIL, status=St.PENDING, recipient="nurse@clinic.test")
    response = token_client(admin_user).post(f"/api/v1/reminders/{pending.pk}/acknowledge/")
    assert response.status_code == 400
    assert "not been delivered" in str(response.json())
    tasks.deliver([pending.pk])
    pending.refresh_from_db()
    assert pending.status == St.SENT and len(mail.outbox) == 1
    # Once delivered, an administrator may acknowledge it.
    assert token_client(admin_user).post(f"/api/v1/reminders/{pending.pk}/acknowledge/").status_code == 200


# --- The inbox follows the user's current scope -----------------------------------------------


def test_inbox_hides_another_sites_patients_after_the_user_moved_site(client, site, other_site, coordinator):
    patient = make_patient(site, given_name="Visible", family_name="Before")
    reminder = make_reminder(patient, user=coordinator)
    client.force_login(coordinator)
    assert "Visible" in client.get("/reminders/").content.decode()
    coordinator.staff.sites.set([other_site])
    page = client.get("/reminders/").content.decode()
    assert "Visible" not in page and "Before" not in page
    client.post("/reminders/acknowledge/", {"ids": [reminder.pk]})
    reminder.refresh_from_db()
    assert reminder.status == St.SENT


def test_inbox_is_empty_for_a_user_who_became_a_reporting_user(client, site, coordinator):
    patient = make_patient(site, given_name="Hidden", family_name="Patient")
    reminder = make_reminder(patient, user=coordinator)
    StaffProfile.objects.filter(user=coordinator).update(role="reporting")
    client.force_login(coordinator)
    page = client.get("/reminders/").content.decode()
    assert "Hidden" not in page
    client.post("/reminders/acknowledge/", {"one": reminder.pk})
    reminder.refresh_from_db()
    assert reminder.status == St.SENT


def test_inbox_follows_the_patient_when_the_patient_moves_site(client, site, other_site, coordinator):
    patient = make_patient(site, given_name="Moved", family_name="Away")
    make_reminder(patient, user=coordinator)
    move_patient(patient=patient, to_site=other_site)
    client.force_login(coordinator)
    assert "Moved" not in client.get("/reminders/").content.decode()


# --- Deeply nested JSON ------------------------------------------------------------------------


def test_deeply_nested_json_to_the_token_endpoint_is_a_400(client):
    body = "[" * 1500 + "]" * 1500
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


# --- SECRET_KEY --------------------------------------------------------------------------------


def _check_deploy(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(
        DEBUG="false",
        ALLOWED_HOSTS="itb.example.org",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        DJANGO_SETTINGS_MODULE="config.settings",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_built_in_development_key(tmp_path):
    from config.settings import DEVELOPMENT_SECRET_KEY

    result = _check_deploy(tmp_path, SECRET_KEY=DEVELOPMENT_SECRET_KEY)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


# --- Site names: formulas in CSV, line breaks in e-mail headers ---------------------------------


def test_a_site_name_starting_with_a_formula_character_is_text_in_csv_exports(client, admin_user):
    site = SiteFactory(name='=HYPERLINK("http://evil.test","x")')
    make_implanted(site)
    client.force_login(admin_user)
    text = client.get("/reports/sites.csv").content.decode()
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert '\'=HYPERLINK("http://evil.test","x")' in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_research_export_cells_are_escaped_too():
    from reporting.reports import to_csv

    rows = list(csv.reader(io.StringIO(to_csv(["a", "b"], [["=1+1", -3], ["@SUM(A1)", "+x"]]))))
    assert rows[1] == ["'=1+1", "-3"] and rows[2] == ["'@SUM(A1)", "'+x"]


def test_a_site_name_with_a_line_break_is_refused(db):
    with pytest.raises(ValidationError) as refused:
        SiteFactory.build(name="Clinic\r\nBcc: all@example.org").full_clean()
    assert "one line" in str(refused.value)


def test_a_family_email_from_a_site_named_with_a_line_break_is_sent_not_stuck(site):
    Site.objects.filter(pk=site.pk).update(name="Lakeside\r\nBcc: x@evil.test")  # written around validation
    patient = make_patient(site)
    family = make_reminder(patient, channel=C.FAMILY_EMAIL, status=St.PENDING, recipient="parent@example.org")
    tasks.deliver([family.pk])
    family.refresh_from_db()
    assert family.status == St.SENT
    assert mail.outbox[0].subject == "Reminder from Lakeside Bcc: x@evil.test"


def test_a_message_that_cannot_be_built_is_marked_failed_with_its_reason(site):
    patient = make_patient(site)
    family = make_reminder(patient, channel=C.FAMILY_EMAIL, status=St.PENDING, recipient="parent@example.org\nBcc: x")
    tasks.deliver([family.pk])
    family.refresh_from_db()
    assert family.status == St.FAILED
    assert "could not be built" in family.last_error
    assert mail.outbox == []


# --- Admin ---------------------------------------------------------------------------------------


def test_site_history_in_the_admin_answers(client, admin_user, site):
    client.force_login(admin_user)
    response = client.get(f"/admin/registry/site/{site.pk}/history/")
    assert response.status_code == 200
    assert "Change history" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/registry/patient/?status=a%00b",
        "/admin/registry/site/?q=a%00b",
        "/patients/?q=%00",
        "/api/v1/patients/?search=%00",
    ],
)
def test_a_nul_character_in_a_query_is_a_400(client, admin_user, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


# --- Caching of patient data ---------------------------------------------------------------------


def test_pages_and_api_responses_with_patient_data_are_not_stored(client, site, coordinator):
    patient = make_patient(site)
    client.force_login(coordinator)
    for url in [f"/patients/{patient.pk}/", "/patients/", "/", "/reminders/", f"/api/v1/patients/{patient.pk}/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    api = token_client(coordinator)
    assert "no-store" in api.get(f"/fhir/Patient/{patient.pk}").headers["Cache-Control"]


# --- The token throttle counts the client, not a header it sends ---------------------------------


def test_a_different_x_forwarded_for_on_each_try_does_not_escape_the_token_throttle(client, settings):
    settings.AXES_ENABLED = False  # the throttle alone (the lockout is walked in test_login_protection)
    codes = [
        client.post(
            "/api/v1/auth/token/",
            {"username": "nobody", "password": f"guess{n}"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            REMOTE_ADDR="198.51.100.77",  # an address no other test's tries were counted under
        ).status_code
        for n in range(25)
    ]
    assert codes[:20] == [400] * 20
    assert codes[20:] == [429] * 5


def test_behind_one_trusted_proxy_the_client_is_the_address_that_proxy_saw(client, settings):
    settings.AXES_ENABLED = False
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    from rest_framework.settings import api_settings

    api_settings.reload()
    try:
        for _ in range(20):
            client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
        blocked = client.post(
            "/api/v1/auth/token/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.7"
        )
        other = client.post(
            "/api/v1/auth/token/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.8"
        )
        assert blocked.status_code == 429 and other.status_code == 400
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
        api_settings.reload()
