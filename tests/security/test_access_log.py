"""The access log: who viewed which patient (dashboard page, API detail, FHIR read, $everything),
when and from where; append-only; searchable by administrators by patient and by user; purged
after ACCESS_LOG_RETENTION_DAYS; the patient page shows "viewed by" to administrators."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from audit.models import AppendOnlyError, PatientAccess
from tests.factories import UserFactory, make_patient
from tests.security.conftest import token_client

pytestmark = pytest.mark.django_db


def test_every_view_of_a_patient_is_recorded_with_who_when_where_and_how(client, site, coordinator):
    patient = make_patient(site, family_name="Logged")
    client.force_login(coordinator)
    assert client.get(f"/patients/{patient.pk}/", REMOTE_ADDR="192.0.2.10").status_code == 200
    api = token_client(coordinator)
    assert api.get(f"/api/v1/patients/{patient.pk}/", REMOTE_ADDR="192.0.2.11").status_code == 200
    assert api.get(f"/fhir/Patient/{patient.pk}", REMOTE_ADDR="192.0.2.12").status_code == 200
    assert api.get(f"/fhir/Patient/{patient.pk}/$everything").status_code == 200
    rows = list(PatientAccess.objects.filter(patient=patient).order_by("id"))
    assert [r.channel for r in rows] == [
        PatientAccess.Channel.PAGE,
        PatientAccess.Channel.API,
        PatientAccess.Channel.FHIR,
        PatientAccess.Channel.EXPORT,
    ]
    assert {r.username for r in rows} == {"coord"} and {r.user_id for r in rows} == {coordinator.pk}
    assert [r.client_ip for r in rows[:3]] == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert rows[0].path == f"/patients/{patient.pk}/"


def test_a_refused_view_records_nothing(client, site, other_site, coordinator):
    elsewhere = make_patient(other_site)
    client.force_login(coordinator)
    assert client.get(f"/patients/{elsewhere.pk}/").status_code == 404
    assert token_client(coordinator).get(f"/api/v1/patients/{elsewhere.pk}/").status_code == 404
    assert not PatientAccess.objects.exists()


def test_the_log_is_append_only(site, coordinator):
    patient = make_patient(site)
    row = PatientAccess.objects.create(
        user=coordinator, username="coord", patient=patient, channel=PatientAccess.Channel.PAGE, path="/"
    )
    row.username = "someone else"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        PatientAccess.objects.filter(pk=row.pk).update(username="x")
    with pytest.raises(AppendOnlyError):
        PatientAccess.objects.all().delete()
    # Below the model too: the database refuses an UPDATE from anywhere.
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_patientaccess SET username = 'x'")
    assert PatientAccess.objects.get(pk=row.pk).username == "coord"


def test_rows_older_than_the_retention_are_purged_and_no_others(site, coordinator, settings):
    settings.ACCESS_LOG_RETENTION_DAYS = 365
    patient = make_patient(site)
    now = dt.datetime.now(dt.UTC)
    for days in (400, 366, 364, 1):
        PatientAccess.objects.create(
            user=coordinator,
            username="coord",
            patient=patient,
            channel=PatientAccess.Channel.PAGE,
            path="/",
            at=now - dt.timedelta(days=days),
        )
    with time_machine.travel(now):
        call_command("purge_access_log", stdout=open("/dev/null", "w"))  # noqa: SIM115
    left = sorted((now - r.at).days for r in PatientAccess.objects.all())
    assert left == [1, 364]


def test_beat_purges_the_access_log_nightly_through_a_real_task(site, coordinator, settings):
    from django_celery_beat.models import PeriodicTask

    from tasks.celery import app

    app.loader.import_default_modules()  # what a worker does at start: the tasks it will know
    entry = PeriodicTask.objects.get(task="audit.purge_access_log")
    assert entry.enabled and (entry.crontab.hour, entry.crontab.day_of_week) == ("2", "*")
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    patient = make_patient(site)
    now = dt.datetime.now(dt.UTC)
    for days in (31, 29):
        PatientAccess.objects.create(
            user=coordinator,
            username="coord",
            patient=patient,
            channel=PatientAccess.Channel.PAGE,
            path="/",
            at=now - dt.timedelta(days=days),
        )
    assert app.tasks[entry.task].apply().get() == 1
    assert [(now - r.at).days for r in PatientAccess.objects.all()] == [29]


def test_administrators_search_the_log_by_patient_and_by_user(client, site, coordinator, admin_user):
    mine = make_patient(site, family_name="Searchable", mrn="MRN-LOG-1")
    other = make_patient(site, family_name="Otherone", mrn="MRN-LOG-2")
    colleague = UserFactory(username="colleague", role="coordinator", role__sites=[site])
    for user, patient in ((coordinator, mine), (colleague, other)):
        PatientAccess.objects.create(
            user=user, username=user.username, patient=patient, channel=PatientAccess.Channel.PAGE, path="/"
        )
    client.force_login(admin_user)
    by_patient = client.get("/admin/audit/patientaccess/", {"q": "MRN-LOG-1"}).content.decode()
    assert "coord" in by_patient and "colleague" not in by_patient
    by_user = client.get("/admin/audit/patientaccess/", {"q": "colleague"}).content.decode()
    assert "Otherone" in by_user and "Searchable" not in by_user
    row = PatientAccess.objects.first()
    assert client.post(f"/admin/audit/patientaccess/{row.pk}/delete/").status_code == 403
    assert client.get("/admin/audit/patientaccess/add/").status_code == 403


def test_only_administrators_open_the_log_in_the_admin(client, site):
    staff_coordinator = UserFactory(username="staffer", is_staff=True, role="coordinator", role__sites=[site])
    client.force_login(staff_coordinator)
    assert client.get("/admin/audit/patientaccess/").status_code == 403


def test_the_patient_page_shows_viewed_by_to_administrators_only(client, site, coordinator, admin_user):
    patient = make_patient(site)
    client.force_login(coordinator)
    assert "Viewed by" not in client.get(f"/patients/{patient.pk}/").content.decode()
    client.force_login(admin_user)
    html = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Viewed by" in html
    assert html.count("coord (Dashboard page") == 1 and "root (Dashboard page" in html


def test_the_patient_page_query_count_does_not_grow_with_the_log(client, site, admin_user):
    from django.test.utils import CaptureQueriesContext

    patient = make_patient(site)
    client.force_login(admin_user)
    client.get(f"/patients/{patient.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/patients/{patient.pk}/")
    for _ in range(30):
        PatientAccess.objects.create(
            user=admin_user, username="root", patient=patient, channel=PatientAccess.Channel.API, path="/"
        )
    with CaptureQueriesContext(connection) as many:
        client.get(f"/patients/{patient.pk}/")
    assert len(many.captured_queries) == len(few.captured_queries)
