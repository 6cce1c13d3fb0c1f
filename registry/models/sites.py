"""Sites (a clinic and every clinical setting), their closed days, staff profiles and calendar links."""

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry import scheduling
from registry.models.validators import (
    NON_NEGATIVE,
    POSITIVE,
    validate_day_list,
    validate_single_line,
    validate_time_zone,
    validate_weekdays,
)


def _default_refill_leads() -> list[int]:
    return [14, 7, 2, 0]


def _default_follow_up_leads() -> list[int]:
    return [7, 1]


def _default_battery_leads() -> list[int]:
    return [180, 90]


def _default_closed_weekdays() -> list[int]:
    return [5, 6]  # Saturday and Sunday (Monday is 0)


class Site(models.Model):
    """A clinic running a program. Holds every clinical default as a setting (docs/clinical-facts.md)."""

    name = models.CharField(max_length=200, unique=True, validators=[validate_single_line])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    phone = models.CharField(
        max_length=40, blank=True, validators=[validate_single_line], help_text="Shown to families in reminders."
    )
    require_two_factor = models.BooleanField(
        default=False,
        help_text="Staff of this site log in with a second factor (an authenticator app). Administrators always do.",
    )
    escalation_email = models.EmailField(blank=True, help_text="Receives critical refill escalations.")
    safety_margin_days = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(90)], help_text="Refill due this many days before the alarm date."
    )
    max_refill_interval_days = models.PositiveSmallIntegerField(
        default=180, validators=[MinValueValidator(1), MaxValueValidator(730)]
    )
    refill_lead_days = models.JSONField(default=_default_refill_leads, validators=[validate_day_list])
    follow_up_lead_days = models.JSONField(default=_default_follow_up_leads, validators=[validate_day_list])
    follow_up_grace_days = models.PositiveSmallIntegerField(
        default=7, help_text="A follow-up not completed this many days after its date is missed."
    )
    battery_lead_days = models.JSONField(default=_default_battery_leads, validators=[validate_day_list])
    battery_life_years = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Assumed battery life when no ERI date is documented.",
    )
    closed_weekdays = models.JSONField(default=_default_closed_weekdays, validators=[validate_weekdays])
    default_alarm_volume_ml = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("2.00"), validators=POSITIVE
    )
    residual_tolerance_ml = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text="A residual differing from the expected by more than this is flagged for review.",
    )
    alarm_disagreement_days = models.PositiveSmallIntegerField(
        default=1, help_text="Programmer and projected alarm dates further apart than this are flagged."
    )
    concentration_confirm_min = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal("50"))
    concentration_confirm_max = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal("2000"))
    dose_confirm_above_mcg = models.DecimalField(
        "confirm a daily dose above (mcg)", max_digits=7, decimal_places=2, default=Decimal("1500")
    )
    dose_confirm_below_mcg = models.DecimalField(
        "confirm a daily dose below (mcg)",
        max_digits=7,
        decimal_places=2,
        default=Decimal("20"),
        validators=NON_NEGATIVE,
        help_text="A daily dose below this needs an explicit confirmation (docs/clinical-facts.md).",
    )
    date_order = models.CharField(
        "day/month order",
        max_length=3,
        choices=[("dmy", "Day first (31/12/2025)"), ("mdy", "Month first (12/31/2025)")],
        default="dmy",
        help_text="How imported spreadsheets write dates as text; an ambiguous one is reported, never guessed.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_alarm_volume_ml__gt=0),
                name="site_default_alarm_volume_positive",
                violation_error_message="The default low-reservoir alarm volume must be more than 0 mL.",
            ),
            models.CheckConstraint(
                condition=Q(residual_tolerance_ml__gte=0),
                name="site_residual_tolerance_nonneg",
                violation_error_message="The residual tolerance cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(max_refill_interval_days__gt=0),
                name="site_max_interval_positive",
                violation_error_message="The longest interval between refills must be at least 1 day.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        low, high = self.dose_confirm_below_mcg, self.dose_confirm_above_mcg
        if low is not None and high is not None and low >= high:
            raise ValidationError(
                {"dose_confirm_below_mcg": "The lower daily dose to confirm must be below the upper one."}
            )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def site_today(site: Site, now: dt.datetime | None = None) -> dt.date:
    """The date at ``site``, in its own time zone, now or at ``now``: every "today" of a clinic."""
    return scheduling.today_in(site.zone, now or timezone.now())


class ClosedDay(models.Model):
    """A date the clinic is closed besides its weekly closed days (public holidays)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "date"],
                name="closed_day_unique_per_site",
                violation_error_message="This day is already marked closed at this site.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}".strip()


class StaffProfile(models.Model):
    """A user's role and the sites they work for (docs/architecture.md, "Roles")."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Nurse coordinator"
        CLINICIAN = "clinician", "Clinician"
        REPORTING = "reporting", "Program reporting"
        ADMINISTRATOR = "administrator", "Administrator"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COORDINATOR)
    sites = models.ManyToManyField(Site, blank=True, related_name="staff")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class CalendarFeed(models.Model):
    """A user's secret calendar link, kept only as its SHA-256 digest (``services.calendar_feeds``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar link of {self.user}"
