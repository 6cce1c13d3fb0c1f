"""``StatusChange.superseded_on`` is kept by the database (migration 0026) through every kind of write.

Each test compares the stored date with the date recomputed from scratch in Python: the
``changed_on`` of the patient's next status change ordered by date, then id (none for the latest).
Runs on SQLite (row triggers) and on PostgreSQL (statement triggers with transition tables).
"""

import datetime as dt
from collections import defaultdict

import pytest

from registry import services
from registry.models import PatientStatus, StatusChange
from reporting import reports
from tests.factories import SiteFactory, make_patient

pytestmark = pytest.mark.django_db

D = dt.date


def _recomputed() -> dict[int, dt.date | None]:
    by_patient = defaultdict(list)
    for pk, patient, day in StatusChange.objects.values_list("pk", "patient_id", "changed_on"):
        by_patient[patient].append((day, pk))
    out = {}
    for rows in by_patient.values():
        rows.sort()
        for (_, pk), following in zip(rows, [*rows[1:], None], strict=True):
            out[pk] = following[0] if following else None
    return out


def _stored() -> dict[int, dt.date | None]:
    return dict(StatusChange.objects.values_list("pk", "superseded_on"))


def _assert_kept():
    assert _stored() == _recomputed()


def _change(patient, to_status, on, from_status=""):
    return StatusChange.objects.create(patient=patient, from_status=from_status, to_status=to_status, changed_on=on)


@pytest.fixture
def site():
    return SiteFactory()


def test_the_services_writes_keep_the_date(site):
    patient = make_patient(site, status_on=D(2026, 1, 5), referred_on=D(2026, 1, 5))
    (registered,) = StatusChange.objects.filter(patient=patient)
    assert registered.superseded_on is None
    services.change_status(patient=patient, to_status=PatientStatus.EVALUATING, on=D(2026, 2, 1))
    assert StatusChange.objects.get(pk=registered.pk).superseded_on == D(2026, 2, 1)
    _assert_kept()


def test_inserts_out_of_order_same_day_ties_updates_and_deletes(site):
    a, b = make_patient(site), make_patient(site)
    StatusChange.objects.all().delete()
    first = _change(a, "referred", D(2026, 3, 1))
    third = _change(a, "screening", D(2026, 5, 1), "evaluating")
    second = _change(a, "evaluating", D(2026, 4, 1), "referred")  # recorded after a later one
    _assert_kept()
    assert StatusChange.objects.get(pk=first.pk).superseded_on == D(2026, 4, 1)
    tie = _change(a, "candidate", D(2026, 5, 1), "screening")  # same day: the later id is the later change
    _assert_kept()
    assert StatusChange.objects.get(pk=third.pk).superseded_on == D(2026, 5, 1)
    assert StatusChange.objects.get(pk=tie.pk).superseded_on is None

    StatusChange.objects.filter(pk=second.pk).update(changed_on=D(2026, 6, 1))  # moved to the end
    _assert_kept()
    StatusChange.objects.filter(pk=third.pk).update(patient=b)  # moved to another patient
    _assert_kept()
    StatusChange.objects.filter(pk=tie.pk).delete()
    _assert_kept()
    StatusChange.objects.bulk_create(
        [StatusChange(patient=b, from_status="", to_status="referred", changed_on=D(2026, 1, d)) for d in (9, 2, 5)]
    )
    _assert_kept()


def test_a_stale_instance_saved_from_python_gets_the_databases_answer(site):
    patient = make_patient(site)
    StatusChange.objects.all().delete()
    first = _change(patient, "referred", D(2026, 3, 1))
    _change(patient, "evaluating", D(2026, 4, 1), "referred")
    first.reason = "Edited"  # the instance still holds no date: the second change came later
    first.save()
    _assert_kept()
    assert StatusChange.objects.get(pk=first.pk).superseded_on == D(2026, 4, 1)


def test_the_census_counts_the_status_on_the_last_day_from_the_stored_date(site):
    patient = make_patient(site)
    StatusChange.objects.all().delete()
    _change(patient, "referred", D(2026, 3, 1))
    _change(patient, "evaluating", D(2026, 6, 1), "referred")
    _change(patient, "screening", D(2026, 6, 1), "evaluating")  # same day, later id: wins
    by_status = {
        end: reports.summary(sites=None, start=D(2026, 1, 1), end=end)["census"]["by_status"]
        for end in (D(2026, 2, 1), D(2026, 5, 31), D(2026, 6, 1))
    }
    assert sum(by_status[D(2026, 2, 1)].values()) == 0
    assert by_status[D(2026, 5, 31)]["referred"] == 1 and sum(by_status[D(2026, 5, 31)].values()) == 1
    assert by_status[D(2026, 6, 1)]["screening"] == 1 and sum(by_status[D(2026, 6, 1)].values()) == 1
