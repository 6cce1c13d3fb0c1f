"""``FollowUp.site`` always equals the patient's site, whoever writes (migration 0010)."""

import datetime as dt

import pytest
from django.db import connection

from registry import services
from registry.models import FollowUp, Patient
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


def sites_of_visits(patient) -> set:
    return set(FollowUp.objects.filter(patient=patient).values_list("site_id", flat=True))


def test_a_new_visit_takes_its_patients_site(site):
    patient = make_patient(site)
    visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 1, 5))
    assert visit.site_id == site.pk
    assert sites_of_visits(patient) == {site.pk}


def test_bulk_and_raw_writes_get_the_patients_site_too(site, other_site):
    patient = make_patient(site)
    FollowUp.objects.bulk_create([FollowUp(patient=patient, kind="titration", due_date=dt.date(2026, 2, 1))])
    assert sites_of_visits(patient) == {site.pk}
    # A writer naming another site is corrected by the database.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_followup SET site_id = %s WHERE patient_id = %s", [other_site.pk, patient.pk])
    assert sites_of_visits(patient) == {site.pk}


def test_visits_move_with_their_patient(site, other_site):
    patient = make_patient(site)
    other = make_patient(site)
    for p in (patient, other):
        services.schedule_follow_up(patient=p, kind="clinic_review", due_date=dt.date(2026, 1, 5))
    Patient.objects.filter(pk=patient.pk).update(site=other_site)
    assert sites_of_visits(patient) == {other_site.pk}
    assert sites_of_visits(other) == {site.pk}


def test_a_visit_moved_to_another_patient_takes_that_patients_site(site, other_site):
    here, there = make_patient(site), make_patient(other_site)
    visit = services.schedule_follow_up(patient=here, kind="clinic_review", due_date=dt.date(2026, 1, 5))
    FollowUp.objects.filter(pk=visit.pk).update(patient=there)
    assert FollowUp.objects.get(pk=visit.pk).site_id == other_site.pk
