"""A new patient's indications, follow-ups, goals and reviews checked in memory (the import) meet the
rules of typed entry: the same records refused with the same words, the same rows stored."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from registry import services
from registry.models import FollowUp, Goal, GoalReview, Indication, Patient
from registry.services.new_patients import NewPatient, write_new_patients
from tests.factories import SiteFactory, UserFactory, make_patient

pytestmark = pytest.mark.django_db

D = dt.date
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(NOW, tick=False):
        yield


# A history with a mistake of every kind these rules refuse, in entry order; ("ref", n) is step n's record.
HISTORY = [
    ("indication", {"diagnosis": "cerebral_palsy"}),
    ("indication", {"diagnosis": "stroke", "gmfcs_level": 7}),  # out of range
    ("indication", {"diagnosis": "dystonia_primary", "is_primary": True}),  # demotes the first
    ("follow_up", {"kind": "clinic_review", "due_date": D(2026, 3, 2)}),
    ("follow_up", {"kind": "clinic_review", "due_date": D(2026, 3, 2)}),  # already booked
    ("follow_up", {"kind": "annual_review", "due_date": D(2009, 1, 1)}),  # before birth
    ("complete", {"follow_up": ("ref", 3), "completed_on": D(2026, 3, 2), "outcome_notes": "Well"}),
    ("complete", {"follow_up": ("ref", 3), "completed_on": D(2026, 3, 3)}),  # already completed
    ("follow_up", {"kind": "titration", "due_date": D(2026, 4, 1)}),
    ("cancel", {"follow_up": ("ref", 8), "reason": "Unwell"}),
    ("follow_up", {"kind": "titration", "due_date": D(2026, 4, 1)}),  # the cancelled one does not count
    ("complete", {"follow_up": ("ref", 8), "completed_on": D(2026, 4, 1)}),  # cancelled
    ("complete", {"follow_up": ("ref", 10), "completed_on": D(2027, 1, 1)}),  # in the future
    ("follow_up", {"kind": "annual_review", "due_date": D(2026, 5, 1), "status": "missed"}),
    ("goal", {"category": "mobility", "description": "Walk to school", "set_on": D(2026, 1, 5)}),
    ("goal", {"category": "sleep", "description": "Sleep", "set_on": D(2027, 1, 1)}),  # in the future
    ("goal", {"category": "comfort", "description": "Sit", "set_on": D(2026, 1, 5), "baseline_score": 3}),
    ("review", {"goal": ("ref", 14), "reviewed_on": D(2025, 12, 1), "score": 1}),  # before the goal
    ("review", {"goal": ("ref", 14), "reviewed_on": D(2026, 6, 1), "score": 3}),  # out of range
    ("review", {"goal": ("ref", 14), "reviewed_on": D(2026, 6, 1), "score": 1, "notes": "Better"}),
    ("review", {"goal": ("ref", 14), "reviewed_on": D(2026, 9, 1), "score": 2}),
    ("indication", {"diagnosis": "multiple_sclerosis"}),  # not primary: the patient has one
]
REFUSED = [1, 4, 5, 7, 11, 12, 15, 16, 17, 18]


def _values(values: dict, kept: list) -> dict:
    return {k: kept[v[1]] if isinstance(v, tuple) else v for k, v in values.items()}


def typed(patient, by) -> list:
    """Each record through the service a form calls, in its own savepoint: its refusal, or None."""
    calls = {
        "indication": lambda v: services.add_indication(patient=patient, by=by, **v),
        "follow_up": lambda v: services.schedule_follow_up(patient=patient, by=by, **v),
        "complete": lambda v: services.complete_follow_up(by=by, **v),
        "cancel": lambda v: services.cancel_follow_up(by=by, **v),
        "goal": lambda v: services.set_goal(patient=patient, by=by, **v),
        "review": lambda v: services.review_goal(by=by, **v),
    }
    return _run(calls, [])


def batched(site, by) -> tuple[Patient, list]:
    """The same patient registered with the history at once: checked in memory, then written."""
    new = NewPatient(site, by=by)
    new.register(mrn="NEW-1", given_name="Alex", family_name="Example", date_of_birth=D(2010, 3, 1))
    batch = new.records
    calls = {
        "indication": lambda v: batch.indication(**v),
        "follow_up": lambda v: batch.follow_up(**v),
        "complete": lambda v: batch.complete(**v),
        "cancel": lambda v: batch.cancel(**v),
        "goal": lambda v: batch.goal(**v),
        "review": lambda v: batch.review(**v),
    }
    outcomes = _run(calls, [])
    write_new_patients([new.finish() and new], by=by)
    return new.patient, outcomes


def _run(calls, kept) -> list:
    outcomes = []
    for kind, values in HISTORY:
        try:
            with transaction.atomic():
                kept.append(calls[kind](_values(values, kept)))
            outcomes.append(None)
        except ValidationError as error:
            kept.append(None)
            outcomes.append(error.message_dict)
    return outcomes


def stored(patient) -> dict:
    goals = list(Goal.objects.filter(patient=patient).order_by("id").values_list("id", flat=True))
    return {
        "indications": list(
            Indication.objects.filter(patient=patient)
            .order_by("id")
            .values_list("diagnosis", "icd10_code", "is_primary", "gmfcs_level")
        ),
        "visits": list(
            FollowUp.objects.filter(patient=patient)
            .order_by("id")
            .values_list("kind", "due_date", "status", "completed_on", "outcome_notes", "site_id", "superseded")
        ),
        "goals": list(
            Goal.objects.filter(patient=patient)
            .order_by("id")
            .values_list("category", "description", "set_on", "baseline_score", "weight")
        ),
        "reviews": [
            (goals.index(r.goal_id), r.reviewed_on, r.score, r.notes, r.superseded_on)
            for r in GoalReview.objects.filter(goal__patient=patient).order_by("id")
        ],
    }


def test_a_batch_refuses_what_typed_entry_refuses_in_the_same_words_and_stores_the_same_rows():
    site = SiteFactory(time_zone="Europe/London")
    one = make_patient(site)
    user = UserFactory()
    by_hand = typed(one, user)
    other, in_batch = batched(site, user)

    assert in_batch == by_hand
    assert [i for i, outcome in enumerate(by_hand) if outcome] == REFUSED
    assert by_hand[1] == {"gmfcs_level": ["Ensure this value is less than or equal to 5."]}
    assert by_hand[4] == {"due_date": ["A clinic review is already booked for this patient on 2 Mar 2026."]}
    assert by_hand[7] == {"completed_on": ["This follow-up was already completed on 2 Mar 2026."]}
    assert by_hand[11] == {"status": ["A cancelled follow-up cannot be completed; schedule a new one."]}
    assert by_hand[16] == {"baseline_score": ["GAS scores run from -2 to +2."]}
    assert by_hand[17] == {"reviewed_on": ["A review cannot be before the goal was set (2026-01-05)."]}

    rows = stored(other)
    assert rows == stored(one)
    assert [i[2] for i in rows["indications"]] == [False, True, False]
    assert [v[2] for v in rows["visits"]] == ["completed", "cancelled", "scheduled", "missed"]
    assert rows["visits"][0][5] == site.pk
    assert [r[4] for r in rows["reviews"]] == [D(2026, 9, 1), None]  # the next review's date, kept by triggers
    for record in [*other.indications.all(), *other.follow_ups.all(), *other.goals.all()]:
        assert record.history.latest().history_user_id == user.pk
