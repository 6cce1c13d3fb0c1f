"""A new patient's indications, follow-ups, goals and goal reviews checked at once (the program import).

Each record is checked by the rule functions of its service (``new_indication``,
``checked_follow_up``, ``completed``, ``cancelled``, ``checked_goal``, ``checked_goal_review``: the
same errors) against the patient's records kept in memory as the batch grows; the patient is new, so
there is nothing stored to read. ``registry.services.new_patients`` writes them.
"""

from __future__ import annotations

from collections import defaultdict

from registry.models import FollowUp, Goal, GoalReview, Indication, Patient
from registry.services.base import validated
from registry.services.clinical import (
    cancelled,
    checked_follow_up,
    checked_goal,
    checked_goal_review,
    completed,
    new_indication,
)


def _valid(record, parent: str):
    """Refuse ``record`` as ``validated_save`` would; its parent is not written yet, so not checked."""
    return validated(record, [parent])


class PatientRecordBatch:
    """A new patient's other records, checked one by one and held until written."""

    def __init__(self, patient: Patient):
        self.patient = patient
        self.new_indications: list[Indication] = []
        self.visits: dict = defaultdict(list)  # (kind, due date) -> visits
        self.new_visits: list[FollowUp] = []
        self.new_goals: list[Goal] = []
        self.new_reviews: list[GoalReview] = []

    def indication(self, *, diagnosis: str, **fields) -> Indication:
        """``add_indication``'s rules; a new primary demotes the old one."""
        has_primary = "is_primary" in fields or any(i.is_primary for i in self.new_indications)
        indication = new_indication(patient=self.patient, diagnosis=diagnosis, has_primary=has_primary, **fields)
        _valid(indication, "patient")  # one primary a patient: kept so here, by the demotion below
        if indication.is_primary:
            for old in self.new_indications:
                old.is_primary = False
        self.new_indications.append(indication)
        return indication

    def follow_up(self, *, kind: str, due_date, **fields) -> FollowUp:
        """``schedule_follow_up``'s rules (a visit of the patient's history, not a booking)."""
        booked = self.visits[kind, due_date]
        visit = _valid(
            checked_follow_up(patient=self.patient, kind=kind, due_date=due_date, booked=booked, **fields), "patient"
        )
        booked.append(visit)
        self.new_visits.append(visit)
        return visit

    def complete(self, *, follow_up: FollowUp, completed_on, outcome_notes: str = "") -> FollowUp:
        """``complete_follow_up``'s rules, for a visit of this batch."""
        return _valid(completed(follow_up, completed_on=completed_on, outcome_notes=outcome_notes), "patient")

    def cancel(self, *, follow_up: FollowUp, reason: str = "") -> FollowUp:
        """``cancel_follow_up``'s rules, for a visit of this batch."""
        return _valid(cancelled(follow_up, reason=reason), "patient")

    def goal(self, **values) -> Goal:
        """``set_goal``'s rules."""
        goal = _valid(checked_goal(patient=self.patient, **values), "patient")
        self.new_goals.append(goal)
        return goal

    def review(self, *, goal: Goal, **values) -> GoalReview:
        """``review_goal``'s rules, for a goal of this batch."""
        review = _valid(checked_goal_review(goal=goal, **values), "goal")
        self.new_reviews.append(review)
        return review
