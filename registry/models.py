"""The records of an ITB program, in one module as Django expects one app's models (docs/architecture.md).

Models hold fields, constraints and tiny properties; workflows live in ``registry.services`` and
date arithmetic in ``registry.scheduling``. Invariants that span two tables (a refill's volume
against its pump's reservoir, a refill before the pump's implant date, a patient's status
transition) are enforced by triggers created in migration 0002, because a CHECK constraint cannot
look at another row.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

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


def _default_refill_leads() -> list[int]:
    return [14, 7, 2, 0]


def _default_follow_up_leads() -> list[int]:
    return [7, 1]


def _default_battery_leads() -> list[int]:
    return [180, 90]


def _default_closed_weekdays() -> list[int]:
    return [5, 6]  # Saturday and Sunday (Monday is 0)


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
                condition=Q(default_alarm_volume_ml__gt=0), name="site_default_alarm_volume_positive"
            ),
            models.CheckConstraint(condition=Q(residual_tolerance_ml__gte=0), name="site_residual_tolerance_nonneg"),
            models.CheckConstraint(condition=Q(max_refill_interval_days__gt=0), name="site_max_interval_positive"),
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


class ClosedDay(models.Model):
    """A date the clinic is closed besides its weekly closed days (public holidays)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="closed_day_unique_per_site")]

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


class PatientStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    EVALUATING = "evaluating", "Evaluating"
    SCREENING = "screening", "Screening"
    CANDIDATE = "candidate", "Candidate"
    NOT_CANDIDATE = "not_candidate", "Not a candidate"
    IMPLANTED = "implanted", "Implanted"
    EXPLANTED = "explanted", "Explanted"
    DISCONTINUED = "discontinued", "Discontinued"
    TRANSFERRED = "transferred", "Transferred"
    DECEASED = "deceased", "Deceased"


S = PatientStatus
# The state machine (docs/decisions.md): from-status -> the statuses it may move to. Deceased is reachable
# from every living status; a referral may be withdrawn (discontinued) at any stage before implant;
# an explanted patient may be re-implanted; a patient judged not a candidate may be re-evaluated.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.REFERRED: frozenset({S.EVALUATING, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.EVALUATING: frozenset({S.SCREENING, S.NOT_CANDIDATE, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.SCREENING: frozenset({S.CANDIDATE, S.NOT_CANDIDATE, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.CANDIDATE: frozenset({S.IMPLANTED, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.NOT_CANDIDATE: frozenset({S.EVALUATING, S.DECEASED}),
    S.IMPLANTED: frozenset({S.EXPLANTED, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.EXPLANTED: frozenset({S.IMPLANTED, S.DISCONTINUED, S.TRANSFERRED, S.DECEASED}),
    S.DISCONTINUED: frozenset({S.REFERRED, S.DECEASED}),
    S.TRANSFERRED: frozenset({S.REFERRED, S.IMPLANTED, S.DECEASED}),
    S.DECEASED: frozenset(),
}
TRANSITION_PAIRS: list[tuple[str, str]] = sorted(
    (str(a), str(b)) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets
)


class RefillStatus(models.TextChoices):
    NONE = "none", "Nothing due"
    NEEDS_ATTENTION = "needs_attention", "Needs attention (no due date could be projected)"
    UPCOMING = "upcoming", "Upcoming"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    CRITICAL = "critical", "Critical (alarm date reached)"


class DueBasis(models.TextChoices):
    ALARM_MARGIN = "alarm_margin", "Alarm date minus safety margin"
    MAX_INTERVAL = "max_interval", "Maximum refill interval"
    MANUAL = "manual", "Set manually"
    NEEDS_ATTENTION = "needs_attention", "No projection: needs attention"


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    guardian_name = models.CharField(max_length=200, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_email = models.EmailField(blank=True)
    consent_email = models.BooleanField(default=False, help_text="Family agreed to e-mail reminders.")
    consent_sms = models.BooleanField(default=False, help_text="Family agreed to SMS reminders.")
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=PatientStatus.choices, default=PatientStatus.REFERRED)
    referred_on = models.DateField(
        "referred on", help_text="The day the program received the referral; the patient's history starts here."
    )
    status_changed_on = models.DateField(null=True, blank=True)
    study_id = models.CharField(max_length=16, unique=True, null=True, blank=True, editable=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The stored schedule: written only by registry.services.schedule.recompute_schedule, in the
    # same transaction as the write that changed it, so worklists are one indexed query.
    next_refill_due = models.DateField(null=True, blank=True, editable=False)
    alarm_date = models.DateField(null=True, blank=True, editable=False)
    empty_date = models.DateField(null=True, blank=True, editable=False)
    refill_due_basis = models.CharField(max_length=20, choices=DueBasis.choices, blank=True, editable=False)
    projected_alarm_date = models.DateField(null=True, blank=True, editable=False)
    alarm_date_disagrees = models.BooleanField(default=False, editable=False)
    last_refill_at = models.DateTimeField(null=True, blank=True, editable=False)
    battery_eri_date = models.DateField(null=True, blank=True, editable=False)
    # Why no due date could be projected (basis "needs_attention"); the worklist shows it.
    schedule_attention = models.CharField(max_length=200, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=[
            "next_refill_due",
            "alarm_date",
            "empty_date",
            "refill_due_basis",
            "projected_alarm_date",
            "alarm_date_disagrees",
            "last_refill_at",
            "battery_eri_date",
            "schedule_attention",
            "updated_at",
        ]
    )

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "mrn"], name="patient_mrn_unique_per_site"),
            models.CheckConstraint(condition=Q(status__in=PatientStatus.values), name="patient_status_valid"),
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
            models.CheckConstraint(
                condition=Q(referred_on__gte=F("date_of_birth")), name="patient_referred_after_birth"
            ),
            models.CheckConstraint(
                condition=Q(status_changed_on__isnull=True) | Q(status_changed_on__gte=F("referred_on")),
                name="patient_status_not_before_referral",
            ),
            models.CheckConstraint(
                condition=Q(empty_date__isnull=True) | Q(alarm_date__lte=F("empty_date")),
                name="patient_alarm_not_after_empty",
            ),
        ]
        indexes = [
            # Worklist: refills due in a window, most urgent first, per site or program-wide.
            models.Index(fields=["next_refill_due"], name="patient_refill_due_idx"),
            models.Index(fields=["site", "next_refill_due"], name="patient_site_refill_due_idx"),
            models.Index(fields=["alarm_date"], name="patient_alarm_date_idx"),
            models.Index(fields=["battery_eri_date"], name="patient_battery_eri_idx"),
            models.Index(fields=["site", "status"], name="patient_site_status_idx"),
            models.Index(fields=["site", "family_name", "given_name"], name="patient_site_name_idx"),
            # Program-wide patient list by name: a page of 50 without sorting every patient.
            models.Index(fields=["family_name", "given_name", "id"], name="patient_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def active_pump(self):
        return next((p for p in self.pumps.all() if p.explant_date is None), None)


class SiteStay(models.Model):
    """A stretch of a patient's care at one site: ``[started_on, ended_on)``, dated by the move.

    Every patient has exactly one open stay (``ended_on`` empty), at their current site. Triggers of
    migration 0011 keep that true for every writer: a new patient gets a stay without a start (it
    covers everything before any move), and a change of ``Patient.site`` closes the open stay and
    opens one at the new site, dated today; ``services.move_patient`` then dates the move as the
    clinician said. Reports count each event at the site of the stay its date falls in.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="stays")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    started_on = models.DateField(null=True, blank=True, help_text="Empty: from before the first record.")
    ended_on = models.DateField(null=True, blank=True, help_text="Empty: the patient's current site.")

    class Meta:
        ordering = ["patient", F("started_on").asc(nulls_first=True), "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient"], condition=Q(ended_on__isnull=True), name="stay_one_open"),
            models.CheckConstraint(
                condition=Q(started_on__isnull=True) | Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="stay_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["site", "patient"], name="stay_site_patient_idx")]

    def __str__(self) -> str:
        return f"{self.site_id} from {self.started_on or 'the start'} to {self.ended_on or 'now'}"


class StatusChange(models.Model):
    """Dated history of a patient's program status. The CHECK lists every allowed transition."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, choices=PatientStatus.choices)
    changed_on = models.DateField()
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_status="", to_status__in=PatientStatus.values)
                | Q(*[Q(from_status=a, to_status=b) for a, b in TRANSITION_PAIRS], _connector=Q.OR),
                name="status_change_allowed_transition",
            ),
        ]
        indexes = [models.Index(fields=["patient", "changed_on"], name="status_change_patient_idx")]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status} on {self.changed_on}"


class Indication(models.Model):
    class Diagnosis(models.TextChoices):
        CEREBRAL_PALSY = "cerebral_palsy", "Cerebral palsy"
        ACQUIRED_BRAIN_INJURY = "acquired_brain_injury", "Acquired brain injury"
        TRAUMATIC_BRAIN_INJURY = "traumatic_brain_injury", "Traumatic brain injury"
        SPINAL_CORD_INJURY = "spinal_cord_injury", "Spinal cord injury"
        MULTIPLE_SCLEROSIS = "multiple_sclerosis", "Multiple sclerosis"
        STROKE = "stroke", "Stroke"
        DYSTONIA_PRIMARY = "dystonia_primary", "Dystonia (primary)"
        DYSTONIA_SECONDARY = "dystonia_secondary", "Dystonia (secondary)"
        HEREDITARY_SPASTIC_PARAPLEGIA = "hsp", "Hereditary spastic paraplegia"
        OTHER = "other", "Other"

    class ToneType(models.TextChoices):
        SPASTIC = "spastic", "Spastic"
        DYSTONIC = "dystonic", "Dystonic"
        MIXED = "mixed", "Mixed"

    class Distribution(models.TextChoices):
        QUADRIPLEGIA = "quadriplegia", "Quadriplegia / tetraplegia"
        DIPLEGIA = "diplegia", "Diplegia"
        HEMIPLEGIA = "hemiplegia", "Hemiplegia"
        PARAPLEGIA = "paraplegia", "Paraplegia"
        GENERALISED = "generalised", "Generalised"
        OTHER = "other", "Other"

    # docs/clinical-facts.md, "Coding": the default ICD-10 code of each diagnosis (a clinician may refine it).
    DEFAULT_ICD10 = {
        "cerebral_palsy": "G80.9",
        "acquired_brain_injury": "T90.9",
        "traumatic_brain_injury": "T90.5",
        "spinal_cord_injury": "T91.3",
        "multiple_sclerosis": "G35",
        "stroke": "I69.3",
        "dystonia_primary": "G24.1",
        "dystonia_secondary": "G24.2",
        "hsp": "G11.4",
        "other": "R25.2",
    }

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="indications")
    diagnosis = models.CharField(max_length=30, choices=Diagnosis.choices)
    icd10_code = models.CharField("ICD-10 code", max_length=8, validators=[ICD10_VALIDATOR])
    tone_type = models.CharField(max_length=10, choices=ToneType.choices, default=ToneType.SPASTIC)
    distribution = models.CharField(max_length=20, choices=Distribution.choices, blank=True)
    gmfcs_level = models.PositiveSmallIntegerField(
        "GMFCS level", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    is_primary = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(is_primary=True), name="indication_one_primary_per_patient"
            ),
            models.CheckConstraint(
                condition=Q(gmfcs_level__isnull=True) | Q(gmfcs_level__gte=1, gmfcs_level__lte=5),
                name="indication_gmfcs_1_to_5",
            ),
            models.CheckConstraint(condition=~Q(icd10_code=""), name="indication_icd10_not_blank"),
        ]
        indexes = [models.Index(fields=["diagnosis", "patient"], name="indication_diagnosis_idx")]

    def __str__(self) -> str:
        return f"{self.get_diagnosis_display()} ({self.icd10_code})"


class AshworthScore(models.TextChoices):
    """Modified Ashworth Scale, ordered as listed (docs/clinical-facts.md)."""

    MAS_0 = "0", "0"
    MAS_1 = "1", "1"
    MAS_1_PLUS = "1+", "1+"
    MAS_2 = "2", "2"
    MAS_3 = "3", "3"
    MAS_4 = "4", "4"


class ScreeningTrial(models.Model):
    class Route(models.TextChoices):
        LUMBAR_BOLUS = "lumbar_bolus", "Lumbar puncture bolus"
        CATHETER_INFUSION = "catheter_infusion", "Catheter infusion"

    class Response(models.TextChoices):
        POSITIVE = "positive", "Positive"
        NEGATIVE = "negative", "Negative"
        EQUIVOCAL = "equivocal", "Equivocal"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="screening_trials")
    performed_on = models.DateField()
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.LUMBAR_BOLUS)
    test_dose_mcg = models.DecimalField(
        max_digits=7, decimal_places=2, validators=[*POSITIVE, MaxValueValidator(1000, "At most 1000 mcg.")]
    )
    response = models.CharField(max_length=10, choices=Response.choices)
    ashworth_before = models.CharField(max_length=2, choices=AshworthScore.choices, blank=True)
    ashworth_after = models.CharField(max_length=2, choices=AshworthScore.choices, blank=True)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["performed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(test_dose_mcg__gt=0, test_dose_mcg__lte=1000), name="trial_test_dose_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Trial {self.performed_on} {self.test_dose_mcg} mcg: {self.response}"


class Pump(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pumps")
    implant_date = models.DateField()
    manufacturer = models.CharField(max_length=100, default="Medtronic")
    model = models.CharField(max_length=100, default="SynchroMed II 8637")
    serial_number = models.CharField(max_length=60, blank=True)
    reservoir_volume_ml = models.DecimalField(max_digits=5, decimal_places=2, validators=POSITIVE)
    alarm_volume_ml = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("2.00"), validators=POSITIVE)
    catheter_tip_level = models.CharField(max_length=20, blank=True, help_text="e.g. T10")
    catheter_notes = models.TextField(blank=True, help_text="Catheter details and revisions.")
    eri_date = models.DateField(
        "ERI / expected battery end date", null=True, blank=True, help_text="As documented by the manufacturer."
    )
    explant_date = models.DateField(null=True, blank=True)
    explant_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    history = HistoricalRecords()

    class Meta:
        ordering = ["implant_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(reservoir_volume_ml__gt=0), name="pump_reservoir_positive"),
            models.CheckConstraint(condition=Q(alarm_volume_ml__gt=0), name="pump_alarm_volume_positive"),
            models.CheckConstraint(
                condition=Q(alarm_volume_ml__lt=F("reservoir_volume_ml")), name="pump_alarm_below_reservoir"
            ),
            models.CheckConstraint(
                condition=Q(explant_date__isnull=True) | Q(explant_date__gte=F("implant_date")),
                name="pump_explant_after_implant",
            ),
            models.CheckConstraint(
                condition=Q(eri_date__isnull=True) | Q(eri_date__gt=F("implant_date")),
                name="pump_eri_after_implant",
            ),
            models.UniqueConstraint(
                fields=["patient"], condition=Q(explant_date__isnull=True), name="pump_one_active_per_patient"
            ),
            models.UniqueConstraint(
                fields=["manufacturer", "serial_number"],
                condition=~Q(serial_number=""),
                name="pump_serial_unique_per_manufacturer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model} {self.serial_number or ''} ({self.implant_date})".replace("  ", " ")

    @property
    def is_active(self) -> bool:
        return self.explant_date is None

    def clean(self) -> None:
        errors = {}
        if self.reservoir_volume_ml is not None and self.alarm_volume_ml is not None:
            if self.alarm_volume_ml >= self.reservoir_volume_ml:
                errors["alarm_volume_ml"] = "The alarm volume must be below the reservoir volume."
        if self.implant_date and self.explant_date and self.explant_date < self.implant_date:
            errors["explant_date"] = "The explant date cannot be before the implant date."
        if self.implant_date and self.eri_date and self.eri_date <= self.implant_date:
            errors["eri_date"] = "The ERI date must be after the implant date."
        if errors:
            raise ValidationError(errors)


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
            models.CheckConstraint(condition=Q(volume_after_ml__gt=0), name="refill_volume_after_positive"),
            models.CheckConstraint(condition=Q(volume_removed_ml__gte=0), name="refill_volume_removed_nonneg"),
            models.CheckConstraint(
                condition=Q(expected_residual_ml__isnull=True) | Q(expected_residual_ml__gte=0),
                name="refill_expected_residual_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(concentration_mcg_per_ml__gt=0, concentration_mcg_per_ml__lte=MAX_CONCENTRATION_MCG_PER_ML),
                name="refill_concentration_in_range",
            ),
            models.CheckConstraint(
                condition=Q(daily_dose_mcg__gt=0, daily_dose_mcg__lte=MAX_DAILY_DOSE_MCG),
                name="refill_daily_dose_in_range",
            ),
            models.UniqueConstraint(
                fields=["pump", "performed_at"], condition=Q(entered_in_error=False), name="refill_unique_time_per_pump"
            ),
        ]
        indexes = [
            models.Index(fields=["pump", "-performed_at"], name="refill_pump_latest_idx"),
            models.Index(fields=["performed_at"], name="refill_performed_at_idx"),
            # A period's refills counted from the index alone (PostgreSQL; elsewhere a plain index).
            models.Index(
                fields=["performed_on"], include=["site", "timeliness", "interval_days"], name="refill_performed_on_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Refill {self.performed_at:%Y-%m-%d %H:%M} {self.volume_after_ml} mL"

    def clean(self) -> None:
        """The two cross-table rules (also enforced by triggers, migration 0002)."""
        if not self.pump_id or self.performed_at is None:
            return
        pump = self.pump
        errors = {}
        if self.volume_after_ml is not None and self.volume_after_ml > pump.reservoir_volume_ml:
            errors["volume_after_ml"] = f"The reservoir of this pump holds at most {pump.reservoir_volume_ml} mL."
        zone = pump.patient.site.zone
        if self.performed_at.tzinfo and self.performed_at.astimezone(zone).date() < pump.implant_date:
            errors["performed_at"] = f"This is before the pump's implant date ({pump.implant_date})."
        if errors:
            raise ValidationError(errors)


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
            ),
            models.UniqueConstraint(
                fields=["pump", "effective_at"],
                condition=Q(entered_in_error=False),
                name="dose_change_unique_time_per_pump",
            ),
        ]
        indexes = [models.Index(fields=["pump", "effective_at"], name="dose_change_pump_idx")]

    def __str__(self) -> str:
        return f"{self.daily_dose_mcg} mcg/day from {self.effective_at:%Y-%m-%d %H:%M}"


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
    # Kept by database triggers (migration 0007), never by Python: true when the patient has a
    # later, not cancelled visit of the same kind. A missed visit stays on the worklist until it is
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
    history = HistoricalRecords()

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
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="follow_up_status_due_idx"),
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
            models.Index(
                fields=["site", "due_date", "status"],
                name="follow_up_open_site_idx",
                condition=Q(status__in=["scheduled", "missed"], superseded=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_date} ({self.status})"


class RefillAppointment(models.Model):
    """A booked refill visit: when and at which clinic (``registry.services.appointments``).

    A booking is open until the refill is recorded (attended), it is cancelled, or its day passes
    without a refill: then it is a no-show, worked out from the date, never from a sweep having run.
    Moving an open booking keeps its row (the history holds the old time); a no-show that is
    rebooked is closed as "did not attend" and a new row is booked, so no-shows stay countable.
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ATTENDED = "attended", "Refill recorded"
        NO_SHOW = "no_show", "Did not attend"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="refill_appointments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name="clinic")
    starts_at = models.DateTimeField("date and time")
    # The visit's date at its clinic, kept by the service: no-shows and the calendar read it.
    starts_on = models.DateField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    refill = models.ForeignKey(
        Refill, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments", editable=False
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    note = models.CharField(max_length=200, blank=True)
    cancel_reason = models.CharField("reason", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="booked"), name="refill_appointment_one_open_per_patient"
            ),
        ]
        indexes = [
            # The worklist's no-shows and the clinic's calendar: open bookings by clinic and date.
            models.Index(fields=["site", "starts_on"], condition=Q(status="booked"), name="refill_appt_open_site_idx"),
            models.Index(fields=["patient", "status"], name="refill_appt_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Refill visit {self.starts_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(self.site.zone)


class ContactAttempt(models.Model):
    """A call or message with a patient's family, as the coordinator logged it."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone call"
        SMS = "sms", "Text message"
        EMAIL = "email", "E-mail"
        IN_PERSON = "in_person", "In person"
        LETTER = "letter", "Letter"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached"
        NO_ANSWER = "no_answer", "No answer"
        LEFT_MESSAGE = "left_message", "Left a message"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        BOOKED = "booked", "Visit booked"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    contacted_at = models.DateTimeField("when")
    channel = models.CharField("how", max_length=10, choices=Channel.choices, default=Channel.PHONE)
    contact_with = models.CharField("with whom", max_length=100, blank=True, help_text="e.g. mother, the patient")
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-contacted_at", "-id"]
        indexes = [models.Index(fields=["patient", "-contacted_at"], name="contact_patient_latest_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.contacted_at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"


class CalendarFeed(models.Model):
    """A user's secret calendar link, kept only as its SHA-256 digest (``services.calendar_feeds``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar link of {self.user}"


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
                condition=Q(baseline_score__gte=-2, baseline_score__lte=2), name="goal_baseline_gas"
            ),
            models.CheckConstraint(condition=Q(weight__gte=1), name="goal_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.description[:40]}"


class GoalReview(models.Model):
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="reviews")
    reviewed_on = models.DateField()
    score = models.SmallIntegerField(validators=GAS_SCORE, help_text="Goal Attainment Scaling, -2 to +2.")
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["reviewed_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=-2, score__lte=2), name="goal_review_gas_range"),
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
            ),
        ]
        indexes = [models.Index(fields=["occurred_on", "kind"], name="complication_date_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"

    def clean(self) -> None:
        if self.occurred_on and self.resolved_on and self.resolved_on < self.occurred_on:
            raise ValidationError({"resolved_on": "The resolved date cannot be before the complication."})


class Reminder(models.Model):
    """One message about one due thing, for one recipient on one channel.

    The unique key (kind, target, due date, lead, recipient, channel) makes every sweep idempotent;
    the status column is the truth about delivery (docs/decisions.md).
    """

    class Kind(models.TextChoices):
        REFILL_DUE = "refill_due", "Refill due"
        REFILL_OVERDUE = "refill_overdue", "Refill overdue"
        REFILL_CRITICAL = "refill_critical", "Refill critical (alarm date reached)"
        FOLLOW_UP_DUE = "follow_up_due", "Follow-up due"
        FOLLOW_UP_MISSED = "follow_up_missed", "Follow-up missed"
        BATTERY = "battery", "Battery / ERI approaching"
        RESIDUAL_DISCREPANCY = "residual_discrepancy", "Residual discrepancy at refill"

    class Channel(models.TextChoices):
        INBOX = "inbox", "In-app inbox"
        EMAIL = "email", "Staff e-mail"
        FAMILY_EMAIL = "family_email", "Family e-mail"
        FAMILY_SMS = "family_sms", "Family SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="reminders")
    target_type = models.CharField(max_length=20, help_text="pump, refill or follow_up")
    target_id = models.BigIntegerField()
    due_date = models.DateField(help_text="The date the reminder concerns.")
    lead_days = models.SmallIntegerField(help_text="Days before the date (negative: days after).")
    recipient = models.CharField(max_length=254, help_text="E-mail address, phone number or user:<id>.")
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Delivery bookkeeping (registry.services.reminders): the token of whoever last took the row
    # (the sweep that inserted it, then the delivery that claimed it), and when it was last handed
    # to the queue (a lost queue is rebuilt from this).
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "target_type", "target_id", "due_date", "lead_days", "recipient", "channel"],
                name="reminder_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(attempts__gte=0), name="reminder_attempts_nonneg"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="reminder_status_idx"),
            models.Index(fields=["recipient_user", "status"], name="reminder_inbox_idx"),
            models.Index(fields=["target_type", "target_id", "status"], name="reminder_target_idx"),
            # A sweep counts the rows it inserted by its token; a delivery finds its claimed rows.
            models.Index(fields=["claim_token"], name="reminder_claim_token_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_date} → {self.recipient} ({self.status})"


class DataVersion(models.Model):
    """One counter that the database raises whenever what the cached list pages show changes.

    The API's patient list and worklist are cached under this number (``api/caching.py``).
    Triggers of migration 0009 raise it for every statement that writes sites, closed days,
    patients, pumps or follow-ups, whoever writes them (services, admin, sweep, bulk SQL). On
    PostgreSQL the raise happens at commit (a deferred trigger), so a writer holds the row lock only
    while committing and two writers cannot deadlock on it. A missing row (a flushed table)
    restarts at the clock's milliseconds, so a number is never reused.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="data_version_singleton")]

    def __str__(self) -> str:
        return f"data version {self.value}"


class ProgramImport(models.Model):
    """One uploaded program spreadsheet, its dry run and its import (``registry.imports``).

    The row is the truth about the job: the Celery task writes its phase and progress here, and the
    dashboard polls it, whichever result backend (if any) Celery has.
    """

    class State(models.TextChoices):
        CHECKING = "checking", "Checking (dry run)"
        CHECKED = "checked", "Checked"
        WRITING = "writing", "Importing"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=200)
    stored_path = models.CharField(max_length=500, editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CHECKING)
    phase = models.CharField(max_length=10, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="program_import_site_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
