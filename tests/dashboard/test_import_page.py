"""The dashboard's import page and the new-patient form's referral date."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from registry.models import Patient, ProgramImport, StatusChange
from tests.factories import UserFactory
from tests.imports.program_files import broken_sheets, clean_sheets, write_xlsx

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with time_machine.travel(NOW, tick=False):
        yield


def upload(client, site, path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with path.open("rb") as f:
            file = SimpleUploadedFile(path.name, f.read())
        response = client.post(reverse("import"), {"site": site.pk, "file": file})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ProgramImport.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_template_download_has_every_sheet_and_a_guide(client, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("import_template"))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[0] == "Patients" and workbook.sheetnames[-1] == "Column guide"
    assert workbook["Patients"]["A2"].value == "0012345"


def test_dry_run_report_then_confirmed_import(client, coordinator, site, tmp_path, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    sheets, expected = broken_sheets()
    job = upload(client, site, write_xlsx(tmp_path / "broken.xlsx", sheets), django_capture_on_commit_callbacks)
    assert job.state == "checked" and job.result["problem_count"] == len(expected)
    page = client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "Nothing was saved" in page and "two-digit year" in page and "Import 3 patients" not in page
    refused = client.post(reverse("import_confirm", args=[job.pk]))
    assert refused.status_code == 302 and not Patient.objects.exists()

    job = upload(client, site, write_xlsx(tmp_path / "clean.xlsx", clean_sheets()), django_capture_on_commit_callbacks)
    page = client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "The file is clean" in page and "Import 3 patients" in page and not Patient.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "imported" and job.result["written"] == 3
    assert Patient.objects.filter(site=site).count() == 3
    assert "Imported: 3 patients" in client.get(reverse("import_job", args=[job.pk])).content.decode()


def test_only_coordinators_and_administrators_import_and_only_their_sites(client, site, other_site):
    clinician = UserFactory(role="clinician", role__sites=[site])
    client.force_login(clinician)
    assert client.get(reverse("import")).status_code == 403
    coordinator = UserFactory(role="coordinator", role__sites=[site])
    job = ProgramImport.objects.create(site=other_site, file_name="x.xlsx", stored_path="/nonexistent")
    client.force_login(coordinator)
    assert client.get(reverse("import_job", args=[job.pk])).status_code == 404
    form = client.get(reverse("import")).content.decode()
    assert other_site.name not in form


def test_a_file_that_is_not_a_spreadsheet_is_refused_beside_the_field(client, coordinator, site):
    client.force_login(coordinator)
    response = client.post(reverse("import"), {"site": site.pk, "file": SimpleUploadedFile("notes.txt", b"hello")})
    assert response.status_code == 200 and "Upload the filled template" in response.content.decode()
    assert not ProgramImport.objects.exists()


def test_new_patient_form_takes_a_past_referral_date(client, coordinator, site):
    client.force_login(coordinator)
    data = {
        "site": site.pk,
        "mrn": "OLD1",
        "given_name": "Olga",
        "family_name": "Oldham",
        "date_of_birth": "2005-05-01",
        "referred_on": "2016-02-01",
        "sex": "female",
    }
    assert client.post(reverse("patient_create"), data).status_code == 302
    patient = Patient.objects.get(mrn="OLD1")
    assert patient.referred_on == dt.date(2016, 2, 1)
    assert StatusChange.objects.get(patient=patient).changed_on == dt.date(2016, 2, 1)
