"""The bench's floor for the API's patient detail (``bench/floors.py``) reads what the view reads
and writes the access row the view writes; PostgreSQL only (the floor is PostgreSQL's SQL)."""

import pytest

from audit.models import PatientAccess
from bench import floors

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_the_floor_reads_the_row_and_records_the_access_as_the_view_does(postgres, admin_api, implanted, admin_user):
    patient = implanted[0]
    path = f"/api/v1/patients/{patient.pk}/"
    row = floors.patient_row_recorded(patient.pk, admin_user.pk, admin_user.username, path)
    assert row == floors.patient_row(patient.pk)
    floor_row = PatientAccess.objects.get()
    assert (floor_row.patient_id, floor_row.user_id, floor_row.path) == (patient.pk, admin_user.pk, path)
    assert admin_api.get(path).status_code == 200
    view_row = PatientAccess.objects.exclude(pk=floor_row.pk).get()
    assert (view_row.patient_id, view_row.channel, view_row.path) == (patient.pk, floor_row.channel, path)
