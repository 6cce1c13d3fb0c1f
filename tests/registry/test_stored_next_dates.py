"""``StatusChange.superseded_on`` and ``GoalReview.superseded_on`` are kept by the database
(migration 0026) through every kind of write.

Each test compares the stored dates with the dates recomputed from scratch in Python: the date of
the next row of the same patient (status changes) or goal (reviews) ordered by date, then id (none
for the latest). Runs on SQLite (row triggers) and on PostgreSQL (statement triggers with
transition tables).
"""

import datetime as dt
from collections import defaultdict

import pytest

from registry import services
from registry.models import GoalReview, PatientStatus, StatusChange
from reporting import reports
from tests.factories import SiteFactory, make_patient

pytestmark = pytest.mark.django_db

D = dt.date


def _recomputed(model=StatusChange, group="patient_id", day="changed_on") -> dict[int, dt.date | None]:
    by_group = defaultdict(list)
    for pk, key, on in model.objects.values_list("pk", group, day):
        by_group[key].append((on, pk))
    out = {}
    for rows in by_group.values():
        rows.sort()
        for (_, pk), following in zip(rows, [*rows[1:], None], strict=True):
            out[pk] = following[0] if following else None
    return out


def _stored(model=StatusChange) -> dict[int, dt.date | None]:
    return dict(model.objects.values_list("pk", "superseded_on"))


def _assert_kept():
    assert _stored() == _recomputed()
    assert _stored(GoalReview) == _recomputed(GoalReview, "goal_id", "reviewed_on")


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


def test_goal_reviews_keep_the_date_of_the_goals_next_review(site):
    patient = make_patient(site)
    goal = services.set_goal(patient=patient, category="sleep", description="Sleeps", set_on=D(2026, 1, 5))
    other = services.set_goal(patient=patient, category="pain", description="Less pain", set_on=D(2026, 1, 5))
    later = services.review_goal(goal=goal, reviewed_on=D(2026, 6, 1), score=1)
    earlier = services.review_goal(goal=goal, reviewed_on=D(2026, 3, 1), score=-1)  # recorded after a later one
    services.review_goal(goal=other, reviewed_on=D(2026, 2, 1), score=0)
    _assert_kept()
    assert GoalReview.objects.get(pk=earlier.pk).superseded_on == D(2026, 6, 1)
    assert GoalReview.objects.get(pk=later.pk).superseded_on is None
    tie = GoalReview.objects.create(goal=goal, reviewed_on=D(2026, 6, 1), score=2)
    _assert_kept()
    assert GoalReview.objects.get(pk=later.pk).superseded_on == D(2026, 6, 1)
    GoalReview.objects.filter(pk=tie.pk).update(goal=other)
    _assert_kept()
    GoalReview.objects.filter(pk=later.pk).update(reviewed_on=D(2026, 1, 10))
    _assert_kept()
    GoalReview.objects.filter(pk=earlier.pk).delete()
    _assert_kept()
    stale = GoalReview.objects.get(pk=later.pk)
    GoalReview.objects.create(goal=goal, reviewed_on=D(2026, 9, 1), score=0)
    stale.notes = "Edited"
    stale.save()
    _assert_kept()

    # The goals' figures read each goal's latest review in the period from the stored dates.
    goals = reports.summary(sites=None, start=D(2026, 1, 1), end=D(2026, 8, 31))["goals"]
    scores = {c["category"]: c["mean_score"] for c in goals["by_category"]}
    assert scores == {"sleep": 1.0, "pain": 2.0}  # sleep: 10 Jan (+1; 1 Sep is after); pain: the moved 1 Jun (+2)
