"""Patients: program status and its history, stays at sites, indications and screening trials."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from registry import scheduling
from registry.models.sites import Site
from registry.models.validators import ICD10_VALIDATOR, POSITIVE


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


# The state machine (docs/decisions.md): from-status -> the statuses it may move to. Deceased is reachable
# from every living status; a referral may be withdrawn (discontinued) at any stage before implant;
# an explanted patient may be re-implanted; a patient judged not a candidate may be re-evaluated.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    PatientStatus.REFERRED: frozenset(
        {PatientStatus.EVALUATING, PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED, PatientStatus.DECEASED}
    ),
    PatientStatus.EVALUATING: frozenset(
        {
            PatientStatus.SCREENING,
            PatientStatus.NOT_CANDIDATE,
            PatientStatus.DISCONTINUED,
            PatientStatus.TRANSFERRED,
            PatientStatus.DECEASED,
        }
    ),
    PatientStatus.SCREENING: frozenset(
        {
            PatientStatus.CANDIDATE,
            PatientStatus.NOT_CANDIDATE,
            PatientStatus.DISCONTINUED,
            PatientStatus.TRANSFERRED,
            PatientStatus.DECEASED,
        }
    ),
    PatientStatus.CANDIDATE: frozenset(
        {PatientStatus.IMPLANTED, PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED, PatientStatus.DECEASED}
    ),
    PatientStatus.NOT_CANDIDATE: frozenset({PatientStatus.EVALUATING, PatientStatus.DECEASED}),
    PatientStatus.IMPLANTED: frozenset(
        {PatientStatus.EXPLANTED, PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED, PatientStatus.DECEASED}
    ),
    PatientStatus.EXPLANTED: frozenset(
        {PatientStatus.IMPLANTED, PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED, PatientStatus.DECEASED}
    ),
    PatientStatus.DISCONTINUED: frozenset({PatientStatus.REFERRED, PatientStatus.DECEASED}),
    PatientStatus.TRANSFERRED: frozenset({PatientStatus.REFERRED, PatientStatus.IMPLANTED, PatientStatus.DECEASED}),
    PatientStatus.DECEASED: frozenset(),
}


TRANSITION_PAIRS: list[tuple[str, str]] = sorted(
    (str(a), str(b)) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets
)


class DueBasis(models.TextChoices):
    ALARM_MARGIN = "alarm_margin", "Alarm date minus safety margin"
    MAX_INTERVAL = "max_interval", "Maximum refill interval"
    MANUAL = "manual", "Set manually"
    NEEDS_ATTENTION = scheduling.NEEDS_ATTENTION, "No projection: needs attention"


# A patient's own details as staff edit them (site, status and schedule change through services).
PATIENT_DETAIL_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "guardian_name",
    "contact_phone",
    "contact_email",
    "consent_email",
    "consent_sms",
    "notes",
)


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
            models.UniqueConstraint(
                fields=["site", "mrn"],
                name="patient_mrn_unique_per_site",
                violation_error_message="A patient with this MRN is already registered at this site.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PatientStatus.values),
                name="patient_status_valid",
                violation_error_message="Choose a program status from the list.",
            ),
            models.CheckConstraint(
                condition=~Q(mrn=""), name="patient_mrn_not_blank", violation_error_message="Enter the MRN."
            ),
            models.CheckConstraint(
                condition=Q(referred_on__gte=F("date_of_birth")),
                name="patient_referred_after_birth",
                violation_error_message="The referral date cannot be before the date of birth.",
            ),
            models.CheckConstraint(
                condition=Q(status_changed_on__isnull=True) | Q(status_changed_on__gte=F("referred_on")),
                name="patient_status_not_before_referral",
                violation_error_message="The status date cannot be before the referral date.",
            ),
            models.CheckConstraint(
                condition=Q(empty_date__isnull=True) | Q(alarm_date__lte=F("empty_date")),
                name="patient_alarm_not_after_empty",
                violation_error_message="The projected alarm date cannot be after the projected empty date.",
            ),
        ]
        indexes = [
            # Worklist: refills due in a window, most urgent first, per site or program-wide.
            models.Index(fields=["next_refill_due"], name="patient_refill_due_idx"),
            models.Index(fields=["site", "next_refill_due"], name="patient_site_refill_due_idx"),
            models.Index(fields=["alarm_date"], name="patient_alarm_date_idx"),
            # The few patients with no projection: their worklist section walks them alone, not
            # every patient with a due date.
            models.Index(
                fields=["next_refill_due", "id"],
                condition=Q(refill_due_basis=DueBasis.NEEDS_ATTENTION),
                name="patient_needs_attention_idx",
            ),
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
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(ended_on__isnull=True),
                name="stay_one_open",
                violation_error_message="This patient already has an open stay at a site.",
            ),
            models.CheckConstraint(
                condition=Q(started_on__isnull=True) | Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="stay_ends_after_start",
                violation_error_message="A stay at a site cannot end before it starts.",
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
    # The date of the patient's next status change (by date, then id); empty on the latest. Kept by
    # database triggers (migration 0026), so "the status on a day" is one filter on each row, not a
    # comparison of every row with the patient's others.
    superseded_on = models.DateField(null=True, blank=True, editable=False)
    # The patient's primary indication (empty without one), copied by database triggers (migration
    # 0033) and never written by Python: the census counts statuses by it without the indications.
    primary_diagnosis = models.CharField(max_length=30, null=True, blank=True, editable=False)
    primary_gmfcs_level = models.SmallIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["changed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_status="", to_status__in=PatientStatus.values)
                | Q(*[Q(from_status=a, to_status=b) for a, b in TRANSITION_PAIRS], _connector=Q.OR),
                name="status_change_allowed_transition",
                violation_error_message="This program status cannot follow the current one.",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "changed_on"], name="status_change_patient_idx"),
            # The report's referrals in a period, and pump time's dates of death.
            models.Index(fields=["changed_on"], name="status_change_day_idx"),
            models.Index(
                fields=["patient", "changed_on"], condition=Q(to_status="deceased"), name="status_change_death_idx"
            ),
            # The report's census (each patient's status on a day) and referrals, read from the
            # index alone (PostgreSQL; elsewhere plain indexes): the current rows, the rows
            # superseded (after a past period's end), the registrations and re-referrals.
            models.Index(
                fields=["changed_on"],
                include=["patient", "to_status", "primary_diagnosis", "primary_gmfcs_level"],
                condition=Q(superseded_on__isnull=True),
                name="status_change_current_idx",
            ),
            models.Index(
                fields=["superseded_on"],
                include=["patient", "to_status", "changed_on", "primary_diagnosis", "primary_gmfcs_level"],
                condition=Q(superseded_on__isnull=False),
                name="status_change_superseded_idx",
            ),
            models.Index(
                fields=["changed_on"],
                include=["patient"],
                condition=Q(from_status="") | Q(to_status="referred"),
                name="status_change_referral_idx",
            ),
        ]

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
                fields=["patient"],
                condition=Q(is_primary=True),
                name="indication_one_primary_per_patient",
                violation_error_message="This patient already has a primary indication.",
            ),
            models.CheckConstraint(
                condition=Q(gmfcs_level__isnull=True) | Q(gmfcs_level__gte=1, gmfcs_level__lte=5),
                name="indication_gmfcs_1_to_5",
                violation_error_message="The GMFCS level must be between 1 and 5.",
            ),
            models.CheckConstraint(
                condition=~Q(icd10_code=""),
                name="indication_icd10_not_blank",
                violation_error_message="Enter the ICD-10 code.",
            ),
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
                condition=Q(test_dose_mcg__gt=0, test_dose_mcg__lte=1000),
                name="trial_test_dose_positive",
                violation_error_message="The test dose must be more than 0 and at most 1000 mcg.",
            ),
        ]
        # The report's trials in a period, counted from the index alone (PostgreSQL).
        indexes = [
            models.Index(fields=["performed_on"], include=["patient", "response"], name="trial_performed_cover_idx")
        ]

    def __str__(self) -> str:
        return f"Trial {self.performed_on} {self.test_dose_mcg} mcg: {self.response}"
