"""Refills and dose changes: documented records, corrected by marking them entered in error."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from registry.models.fields import fact_key
from registry.models.pumps import Pump
from registry.models.sites import Site
from registry.models.validators import (
    CONCENTRATION,
    DAILY_DOSE,
    MAX_CONCENTRATION_MCG_PER_ML,
    MAX_DAILY_DOSE_MCG,
    NON_NEGATIVE,
    POSITIVE,
)

# A refill and a dose change hold the daily dose to the same range, in the same words.
DAILY_DOSE_OUT_OF_RANGE = f"The daily dose must be more than 0 and at most {MAX_DAILY_DOSE_MCG} mcg/day."

# What a clinician documents at a refill: the same fields on every surface that records one.
REFILL_RECORD_FIELDS = (
    "performed_at",
    "volume_removed_ml",
    "expected_residual_ml",
    "volume_after_ml",
    "concentration_mcg_per_ml",
    "daily_dose_mcg",
    "programmer_alarm_date",
    "manual_due_date",
    "notes",
)


class RecordedManager(models.Manager):
    """The records in force: one marked entered in error is kept, but no read sees it."""

    def get_queryset(self):
        return super().get_queryset().filter(entered_in_error=False)


class EnteredInError(models.Model):
    """A documented record corrected without losing it (``registry.services.corrections``)."""

    entered_in_error = models.BooleanField(default=False, editable=False)
    error_reason = models.CharField("what was wrong", max_length=300, blank=True, editable=False)
    error_marked_at = models.DateTimeField(null=True, blank=True, editable=False)
    error_marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = RecordedManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True


class Refill(EnteredInError):
    class Timeliness(models.TextChoices):
        FIRST = "first", "First fill"
        ON_TIME = "on_time", "On time"
        LATE = "late", "Late (after due date)"
        AFTER_ALARM = "after_alarm", "After the alarm date"

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="refills")
    performed_at = models.DateTimeField()
    volume_removed_ml = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE
    )
    expected_residual_ml = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE
    )
    volume_after_ml = models.DecimalField(max_digits=5, decimal_places=2, validators=POSITIVE)
    concentration_mcg_per_ml = models.DecimalField(max_digits=7, decimal_places=2, validators=CONCENTRATION)
    daily_dose_mcg = models.DecimalField(max_digits=7, decimal_places=2, validators=DAILY_DOSE)
    programmer_alarm_date = models.DateField(null=True, blank=True)
    manual_due_date = models.DateField(
        null=True, blank=True, help_text="A clinician's earlier date for the next refill, if any."
    )
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Where the refill was done (the patient's site on its date), kept when the patient moves on:
    # reports count it there and date it in that site's zone. A writer that leaves it empty gets
    # the patient's current site from a trigger (migration 0011); PostgreSQL's column is NOT NULL.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, editable=False, related_name="+")
    residual_discrepancy = models.BooleanField(default=False, editable=False)
    timeliness = models.CharField(max_length=12, choices=Timeliness.choices, blank=True, editable=False)
    due_date_at_refill = models.DateField(null=True, blank=True, editable=False)
    # Facts of the record the reports count, kept when it is recorded (services.record_refill;
    # migration 0012 for earlier rows): the date where it was done, and the days since the
    # previous refill of the same pump chain (none for a first fill).
    performed_on = models.DateField(null=True, blank=True, editable=False)
    interval_days = models.PositiveIntegerField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["performed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(volume_after_ml__gt=0),
                name="refill_volume_after_positive",
                violation_error_message="The volume after the refill must be more than 0 mL.",
            ),
            models.CheckConstraint(
                condition=Q(volume_removed_ml__gte=0),
                name="refill_volume_removed_nonneg",
                violation_error_message="The volume removed cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(expected_residual_ml__isnull=True) | Q(expected_residual_ml__gte=0),
                name="refill_expected_residual_nonneg",
                violation_error_message="The expected residual volume cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(concentration_mcg_per_ml__gt=0, concentration_mcg_per_ml__lte=MAX_CONCENTRATION_MCG_PER_ML),
                name="refill_concentration_in_range",
                violation_error_message=(
                    f"The concentration must be more than 0 and at most {MAX_CONCENTRATION_MCG_PER_ML} mcg/mL."
                ),
            ),
            models.CheckConstraint(
                condition=Q(daily_dose_mcg__gt=0, daily_dose_mcg__lte=MAX_DAILY_DOSE_MCG),
                name="refill_daily_dose_in_range",
                violation_error_message=DAILY_DOSE_OUT_OF_RANGE,
            ),
            models.UniqueConstraint(
                fields=["pump", "performed_at"],
                condition=Q(entered_in_error=False),
                name="refill_unique_time_per_pump",
                violation_error_message="A refill of this pump is already recorded at this date and time.",
            ),
        ]
        indexes = [
            models.Index(fields=["pump", "-performed_at"], name="refill_pump_latest_idx"),
            models.Index(fields=["performed_at"], name="refill_performed_at_idx"),
            # A period's refills counted from the index alone (PostgreSQL; elsewhere a plain index),
            # the entered-in-error flag included so that their exclusion reads no table row.
            models.Index(
                fields=["performed_on"],
                include=["site", "timeliness", "interval_days", "entered_in_error"],
                name="refill_performed_on_cover_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Refill {self.performed_at:%Y-%m-%d %H:%M} {self.volume_after_ml} mL"

    def clean(self) -> None:
        """The two cross-table rules (also enforced by triggers, migration 0002)."""
        # The pump may be unsaved still: a new patient's history is checked before anything is written.
        pump = self._meta.get_field("pump").get_cached_value(self, None) or (self.pump if self.pump_id else None)
        if pump is None or self.performed_at is None:
            return
        errors = {}
        if self.volume_after_ml is not None and self.volume_after_ml > pump.reservoir_volume_ml:
            errors["volume_after_ml"] = f"The reservoir of this pump holds at most {pump.reservoir_volume_ml} mL."
        zone = pump.patient.site.zone
        if self.performed_at.tzinfo and self.performed_at.astimezone(zone).date() < pump.implant_date:
            errors["performed_at"] = f"This is before the pump's implant date ({pump.implant_date})."
        if errors:
            raise ValidationError(errors)


class RefillMonth(models.Model):
    """The refills the report counts (in force, with a site), per site, local month, timeliness and
    interval: a rollup kept by database triggers in the same statement as every write to the
    refills, bulk loads included (migration 0030, ``registry/migrations/_refill_month.py``)."""

    NO_INTERVAL = -1  # a refill without an interval (a first fill): a key column cannot be empty

    site = fact_key(Site)
    month = models.DateField(help_text="The first day of the local month of the refills.")
    timeliness = models.CharField(max_length=12, blank=True)
    interval_days = models.IntegerField()
    refills = models.IntegerField()

    class Meta:
        constraints = [
            # The key the triggers add to and the index the report reads, by month (PostgreSQL: alone).
            models.UniqueConstraint(
                fields=["month", "site", "timeliness", "interval_days"],
                include=["refills"],
                name="refill_month_key",
                violation_error_message="These refills are already counted for this site and month.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} site {self.site_id} {self.timeliness} {self.interval_days}: {self.refills}"


class DoseChangeQuerySet(models.QuerySet):
    def in_cycle(self, performed_at, next_performed_at=None):
        """The changes of the refill cycle from ``performed_at``: ``scheduling.changes_in_cycle`` in SQL."""
        changes = self.filter(effective_at__gte=performed_at)
        return changes if next_performed_at is None else changes.filter(effective_at__lt=next_performed_at)


class DoseChange(EnteredInError):
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="dose_changes")
    effective_at = models.DateTimeField()
    daily_dose_mcg = models.DecimalField(max_digits=7, decimal_places=2, validators=DAILY_DOSE)
    documented_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = RecordedManager.from_queryset(DoseChangeQuerySet)()
    all_objects = models.Manager()

    class Meta:
        ordering = ["effective_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_dose_mcg__gt=0, daily_dose_mcg__lte=MAX_DAILY_DOSE_MCG),
                name="dose_change_dose_in_range",
                violation_error_message=DAILY_DOSE_OUT_OF_RANGE,
            ),
            models.UniqueConstraint(
                fields=["pump", "effective_at"],
                condition=Q(entered_in_error=False),
                name="dose_change_unique_time_per_pump",
                violation_error_message="A dose change for this pump is already recorded at this date and time.",
            ),
        ]
        indexes = [models.Index(fields=["pump", "effective_at"], name="dose_change_pump_idx")]

    def __str__(self) -> str:
        return f"{self.daily_dose_mcg} mcg/day from {self.effective_at:%Y-%m-%d %H:%M}"
