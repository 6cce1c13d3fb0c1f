"""Follow-up visits, goals with their reviews, and complications."""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from registry.models.fields import fact_key
from registry.models.patients import Patient
from registry.models.pumps import Pump
from registry.models.sites import Site
from registry.models.validators import GAS_SCORE


class FollowUp(models.Model):
    class Kind(models.TextChoices):
        POST_OP = "post_op", "Post-operative check"
        TITRATION = "titration", "Titration"
        CLINIC_REVIEW = "clinic_review", "Clinic review"
        ANNUAL_REVIEW = "annual_review", "Annual review"
        GOAL_REVIEW = "goal_review", "Goal review"
        REPLACEMENT_PLANNING = "replacement_planning", "Pump replacement planning"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    due_date = models.DateField()
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    completed_on = models.DateField(null=True, blank=True)
    outcome_notes = models.TextField(blank=True)
    # Kept by database triggers (migration 0007), never written by Python: the answer of the rule
    # ``scheduling.superseded`` (a later, not cancelled visit of the same kind), which the tests
    # hold the triggers to. A missed visit stays on the worklist until it is
    # superseded (rebooked); storing the answer lets the worklist read open visits from one
    # partial index instead of testing every old visit against every later one.
    superseded = models.BooleanField(default=False, editable=False)
    # The patient's site, copied (migration 0010): one clinic's worklist reads its open visits
    # from an index by site and date instead of walking every site's visits and looking up each
    # one's patient. Database triggers keep it equal to the patient's site on every
    # insert, on a change of patient and when the patient moves site; ``save`` sets it too, so
    # the instance is right without a reload. Nullable only because SQLite's triggers fill it
    # after the insert; PostgreSQL's column is NOT NULL.
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, editable=False, related_name="+", db_index=False
    )
    # The site of the patient's stay on the due date, where the report counts the visit. Kept by
    # database triggers on the visits and the stays (migration 0031), never written by Python.
    due_site = fact_key(Site, null=True, editable=False)
    history = HistoricalRecords(excluded_fields=["due_site"])

    def save(self, *args, **kwargs):
        if self.patient_id is not None:
            self.site_id = self.patient.site_id
        super().save(*args, **kwargs)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="completed", completed_on__isnull=False)
                | (~Q(status="completed") & Q(completed_on__isnull=True)),
                name="follow_up_completed_has_date",
                violation_error_message="Only a completed follow-up has a completion date, and it needs one.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="follow_up_status_due_idx"),
            # The report's visits due in a period, counted from the index alone (PostgreSQL).
            models.Index(
                fields=["due_date"],
                include=["patient", "status", "completed_on", "due_site"],
                name="follow_up_due_cover_idx",
            ),
            # The triggers' "superseded by a later visit of the same kind" test.
            models.Index(fields=["patient", "kind", "due_date"], name="follow_up_patient_kind_idx"),
            # The worklist's and the sweep's open visits: program-wide by date, and one clinic's
            # by patient (its patients' open visits without reading every visit they ever had).
            models.Index(
                fields=["due_date", "status"],
                name="follow_up_open_idx",
                condition=Q(status__in=["scheduled", "missed"], superseded=False),
            ),
            models.Index(
                fields=["patient", "due_date", "status"],
                name="follow_up_open_patient_idx",
                condition=Q(status__in=["scheduled", "missed"], superseded=False),
            ),
            # A clinic's open visits, superseded ones too: its worklist counts a scheduled visit
            # whether or not a later one is booked (only a missed one drops out).
            models.Index(
                fields=["site", "due_date", "status"],
                name="follow_up_open_site_idx",
                condition=Q(status__in=["scheduled", "missed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_date} ({self.status})"


class Goal(models.Model):
    class Category(models.TextChoices):
        COMFORT = "comfort", "Comfort"
        PAIN = "pain", "Pain"
        POSITIONING = "positioning", "Positioning and transfers"
        ORTHOSES = "orthoses", "Wearing braces / orthoses"
        SELF_CARE = "self_care", "Self-care (dressing, grooming)"
        CAREGIVING = "caregiving", "Ease of caregiving"
        MOBILITY = "mobility", "Mobility"
        SLEEP = "sleep", "Sleep"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="goals")
    category = models.CharField(max_length=20, choices=Category.choices)
    description = models.TextField()
    set_on = models.DateField()
    baseline_score = models.SmallIntegerField(
        default=-1, validators=GAS_SCORE, help_text="GAS level at baseline, usually -1 or -2."
    )
    expected_outcome = models.TextField(blank=True)
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    history = HistoricalRecords()

    class Meta:
        ordering = ["set_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(baseline_score__gte=-2, baseline_score__lte=2),
                name="goal_baseline_gas",
                violation_error_message="The baseline GAS score must be between -2 and +2.",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1),
                name="goal_weight_positive",
                violation_error_message="The goal's weight must be at least 1.",
            ),
        ]
        # The report's goals set by a date, counted by category from the index alone (PostgreSQL).
        indexes = [models.Index(fields=["set_on"], include=["category", "patient"], name="goal_set_cover_idx")]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.description[:40]}"


class GoalReview(models.Model):
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="reviews")
    reviewed_on = models.DateField()
    score = models.SmallIntegerField(validators=GAS_SCORE, help_text="Goal Attainment Scaling, -2 to +2.")
    notes = models.TextField(blank=True)
    # The date of the goal's next review (by date, then id); empty on the latest. Kept by database
    # triggers (migration 0026), so "each goal's latest review in a period" is one filter per row.
    superseded_on = models.DateField(null=True, blank=True, editable=False)
    # The goal's patient, category, weight and date set, copied by database triggers (migration
    # 0032) and never written by Python: the report reads the period's reviews without the goals.
    patient = fact_key(Patient, null=True, editable=False)
    category = models.CharField(max_length=20, blank=True, editable=False)
    weight = models.PositiveSmallIntegerField(null=True, editable=False)
    goal_set_on = models.DateField(null=True, editable=False)
    history = HistoricalRecords(excluded_fields=["superseded_on", "patient", "category", "weight", "goal_set_on"])

    class Meta:
        ordering = ["reviewed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=-2, score__lte=2),
                name="goal_review_gas_range",
                violation_error_message="The GAS score must be between -2 and +2.",
            ),
        ]
        # The report's reviews in a period, each goal's latest read from the index alone (PostgreSQL).
        indexes = [
            models.Index(
                fields=["reviewed_on"],
                include=["goal", "score", "superseded_on", "patient", "category", "weight", "goal_set_on"],
                name="goal_review_day_cover_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewed_on}: {self.score:+d}"


class Complication(models.Model):
    class Kind(models.TextChoices):
        INFECTION = "infection", "Infection"
        CSF_LEAK = "csf_leak", "CSF leak"
        CATHETER = "catheter", "Catheter problem"
        PUMP_MALFUNCTION = "pump_malfunction", "Pump malfunction"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        OVERDOSE = "overdose", "Overdose"
        WOUND = "wound", "Wound / pocket problem"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        LIFE_THREATENING = "life_threatening", "Life-threatening"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="complications")
    pump = models.ForeignKey(Pump, null=True, blank=True, on_delete=models.SET_NULL, related_name="complications")
    occurred_on = models.DateField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.MODERATE)
    needed_surgery = models.BooleanField(default=False)
    resolved_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["occurred_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("occurred_on")),
                name="complication_resolved_after_occurred",
                violation_error_message="The date resolved cannot be before the date the complication occurred.",
            ),
        ]
        indexes = [models.Index(fields=["occurred_on", "kind"], name="complication_date_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"

    def clean(self) -> None:
        if self.occurred_on and self.resolved_on and self.resolved_on < self.occurred_on:
            raise ValidationError({"resolved_on": "The resolved date cannot be before the complication."})
