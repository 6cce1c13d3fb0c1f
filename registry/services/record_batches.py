"""A patient's indications, follow-ups, goals and goal reviews recorded at once (the program import).

Each record is checked by the rule functions of its service (``new_indication``,
``checked_follow_up``, ``completed``, ``cancelled``, ``checked_goal``, ``checked_goal_review``: the
same errors) against the patient's records read once and kept in memory as the batch grows; then
all are written in bulk with their history rows, the acting user kept.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from registry.models import FollowUp, Goal, GoalReview, Indication, Patient
from registry.services.base import bulk_saved, validated, validated_save
from registry.services.clinical import (
    cancelled,
    checked_follow_up,
    checked_goal,
    checked_goal_review,
    completed,
    new_indication,
)


def _valid(record, parent: str):
    """Refuse ``record`` as ``validated_save`` would; its parent is checked here, not queried."""
    return validated(record, [parent])


class PatientRecordBatch:
    """One patient's other records, checked one by one, then written together by ``save``."""

    def __init__(self, patient: Patient, *, by=None, registered_now: bool = False):
        """``registered_now``: the patient was created in this transaction, so has nothing stored to read."""
        self.patient, self.by = patient, by
        self.indications: list[Indication] | None = [] if registered_now else None  # stored and new
        self.visits: dict | None = defaultdict(list) if registered_now else None  # (kind, due date) -> visits
        self.new_indications: list[Indication] = []
        self.demoted: list[Indication] = []  # stored primaries a new primary replaces
        self.new_visits: list[FollowUp] = []
        self.new_goals: list[Goal] = []
        self.new_reviews: list[GoalReview] = []

    def indication(self, *, diagnosis: str, **fields) -> Indication:
        """``add_indication``'s rules; a new primary demotes the old one."""
        if self.indications is None:
            self.indications = list(self.patient.indications.all())
        has_primary = "is_primary" in fields or any(i.is_primary for i in self.indications)
        indication = new_indication(patient=self.patient, diagnosis=diagnosis, has_primary=has_primary, **fields)
        _valid(indication, "patient")  # one primary a patient: kept so here, by the demotion below
        if indication.is_primary:
            for old in self.indications:
                if old.is_primary and old.pk is not None:
                    self.demoted.append(old)
                old.is_primary = False
        self.indications.append(indication)
        self.new_indications.append(indication)
        return indication

    def follow_up(self, *, kind: str, due_date, **fields) -> FollowUp:
        """``schedule_follow_up``'s rules (a visit of the patient's history, not a booking)."""
        if self.visits is None:
            self.visits = defaultdict(list)
            for visit in self.patient.follow_ups.all():
                self.visits[visit.kind, visit.due_date].append(visit)
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
        """``review_goal``'s rules, for a goal of this batch or a stored one."""
        review = _valid(checked_goal_review(goal=goal, **values), "goal")
        self.new_reviews.append(review)
        return review

    @transaction.atomic
    def save(self) -> None:
        """Write the checked records with their history: goals before their reviews."""
        for old in self.demoted:
            validated_save(old, by=self.by)
        for visit in self.new_visits:
            visit.site_id = self.patient.site_id  # as ``FollowUp.save`` sets it
        bulk_saved(Indication, self.new_indications, by=self.by)
        bulk_saved(FollowUp, self.new_visits, by=self.by)
        bulk_saved(Goal, self.new_goals, by=self.by)
        for review in self.new_reviews:
            review.goal_id = review.goal.pk  # the goal's id, given by its insert just above
        bulk_saved(GoalReview, self.new_reviews, by=self.by)
