"""Plausibility limits and field validators shared by the records."""

import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator

# Hard plausibility limits of recorded data (docs/clinical-facts.md, "Drug"). Values between the site's
# confirmation thresholds and these limits are accepted only with an explicit confirmation.
MAX_CONCENTRATION_MCG_PER_ML = Decimal("3000")


MAX_DAILY_DOSE_MCG = Decimal("3000")


POSITIVE = [MinValueValidator(Decimal("0.01"), "Must be more than 0.")]


NON_NEGATIVE = [MinValueValidator(Decimal("0"), "Cannot be negative.")]


CONCENTRATION = [*POSITIVE, MaxValueValidator(MAX_CONCENTRATION_MCG_PER_ML, "At most 3000 mcg/mL.")]


DAILY_DOSE = [*POSITIVE, MaxValueValidator(MAX_DAILY_DOSE_MCG, "At most 3000 mcg/day.")]


GAS_SCORE = [
    MinValueValidator(-2, "GAS scores run from -2 to +2."),
    MaxValueValidator(2, "GAS scores run from -2 to +2."),
]


ICD10_VALIDATOR = RegexValidator(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$", "Enter an ICD-10 code such as G80.0 or G35.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone name (e.g. Europe/London).")


def validate_day_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and 0 <= v <= 3650 for v in value):
        raise ValidationError("Enter a list of whole numbers of days between 0 and 3650, e.g. [14, 7, 2, 0].")


def validate_weekdays(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and 0 <= v <= 6 for v in value):
        raise ValidationError("Enter a list of weekdays from 0 (Monday) to 6 (Sunday).")
    if len(set(value)) == 7:
        raise ValidationError("A clinic cannot be closed on every day of the week.")


def validate_single_line(value: str) -> None:
    """Names and numbers that go into message headers: no line breaks or other control characters."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value or ""):
        raise ValidationError("Enter this on one line, without line breaks or other control characters.")
