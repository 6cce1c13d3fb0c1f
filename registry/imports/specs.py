"""The program spreadsheet: one sheet (or CSV file) per record type, each column with its label.

Labels are what a coordinator reads and writes; ``field`` is the keyword the row's service takes.
Rows are keyed by the patient's MRN (the site is chosen for the whole file) and, for refills and
dose changes, the pump's serial number; goal reviews name their goal by a reference the Goals
sheet gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.models import FollowUp, Goal, Indication, Patient, PatientStatus

TEXT, MRN, DATE, TIME = "text", "mrn", "date", "time"
DECIMAL, INTEGER, YES_NO, CHOICE = "decimal", "integer", "yes/no", "choice"


@dataclass(frozen=True)
class Column:
    label: str
    field: str
    kind: str = TEXT
    required: bool = False
    help: str = ""
    example: object = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Sheet:
    name: str
    help: str
    columns: tuple[Column, ...]
    # Service error keys that mean one of this sheet's columns (service key -> field).
    aliases: dict[str, str] = field(default_factory=dict)

    def column(self, field_name: str) -> Column | None:
        name = self.aliases.get(field_name, field_name)
        return next((c for c in self.columns if c.field == name), None)


def _choices(model_choices) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in model_choices)


def _mrn() -> Column:
    return Column("MRN", "mrn", MRN, True, "The patient's medical record number, as on the Patients sheet.", "0012345")


def _serial() -> Column:
    return Column(
        "Pump serial", "pump_serial", TEXT, True, "The serial number of the pump, as on the Pumps sheet.", "NGP123456H"
    )


PATIENTS = Sheet(
    "Patients",
    "One row per patient of the program.",
    (
        Column(
            "MRN",
            "mrn",
            MRN,
            True,
            "Medical record number; leading zeros are kept (format the column as text).",
            "0012345",
        ),
        Column("Given name", "given_name", TEXT, True, "", "Amira"),
        Column("Family name", "family_name", TEXT, True, "", "Haddad"),
        Column("Date of birth", "date_of_birth", DATE, True, "", "2009-04-17"),
        Column(
            "Sex",
            "sex",
            CHOICE,
            False,
            "Female, Male, Other or Unknown (default).",
            "Female",
            _choices(Patient.Sex.choices),
        ),
        Column(
            "Referred on",
            "referred_on",
            DATE,
            True,
            "The day the program received the referral: the history starts here.",
            "2020-11-02",
        ),
        Column("Guardian", "guardian_name", TEXT, False, "Parent or guardian, for a child.", "Samir Haddad"),
        Column("Contact phone", "contact_phone", TEXT, False, "", "+44 7700 900123"),
        Column("Contact e-mail", "contact_email", TEXT, False, "", "family@example.org"),
        Column(
            "E-mail reminders", "consent_email", YES_NO, False, "Yes if the family agreed to e-mail reminders.", "No"
        ),
        Column("SMS reminders", "consent_sms", YES_NO, False, "Yes if the family agreed to SMS reminders.", "No"),
        Column("Notes", "notes", TEXT),
    ),
    aliases={"status_on": "referred_on"},
)

STATUS_CHANGES = Sheet(
    "Status changes",
    "The patient's program status history after the referral, one change per row. Optional: a "
    "patient with no change here before their first implant is registered as a candidate on the "
    "referral date; an implant or explant on the Pumps sheet records its own change.",
    (
        _mrn(),
        Column("Date", "on", DATE, True, "", "2021-03-15"),
        Column("New status", "to_status", CHOICE, True, "", "Implanted", _choices(PatientStatus.choices)),
        Column("Reason", "reason", TEXT),
    ),
)

INDICATIONS = Sheet(
    "Indications",
    "Diagnoses treated with intrathecal baclofen; the first (or the one marked primary) is primary.",
    (
        _mrn(),
        Column("Diagnosis", "diagnosis", CHOICE, True, "", "Cerebral palsy", _choices(Indication.Diagnosis.choices)),
        Column("ICD-10 code", "icd10_code", TEXT, False, "Default: the diagnosis' usual code.", "G80.0"),
        Column("Tone type", "tone_type", CHOICE, False, "", "Spastic", _choices(Indication.ToneType.choices)),
        Column(
            "Distribution",
            "distribution",
            CHOICE,
            False,
            "",
            "Quadriplegia / tetraplegia",
            _choices(Indication.Distribution.choices),
        ),
        Column("GMFCS level", "gmfcs_level", INTEGER, False, "1 to 5.", 4),
        Column("Primary", "is_primary", YES_NO, False, "", "Yes"),
        Column("Notes", "notes", TEXT),
    ),
)

PUMPS = Sheet(
    "Pumps",
    "Every pump the patient has had. A replacement names the serial of the pump it replaced; the "
    "old pump is explanted on the replacement's implant date.",
    (
        _mrn(),
        Column("Serial number", "serial_number", TEXT, True, "", "NGP123456H"),
        Column("Implant date", "implant_date", DATE, True, "", "2021-03-15"),
        Column("Manufacturer", "manufacturer", TEXT, False, "Default: Medtronic.", "Medtronic"),
        Column("Model", "model", TEXT, False, "Default: SynchroMed II 8637.", "SynchroMed II 8637"),
        Column("Reservoir (mL)", "reservoir_volume_ml", DECIMAL, True, "", 40),
        Column("Alarm volume (mL)", "alarm_volume_ml", DECIMAL, False, "Default: the site's alarm volume.", 2),
        Column("Catheter tip level", "catheter_tip_level", TEXT, False, "", "T10"),
        Column("ERI date", "eri_date", DATE, False, "The battery's documented elective replacement date.", ""),
        Column("Replaces serial", "replaces_serial", TEXT, False, "The serial of the pump this one replaced.", ""),
        Column("Explant date", "explant_date", DATE, False, "Only for a pump removed without a replacement.", ""),
        Column("Explant reason", "explant_reason", TEXT, False, "", ""),
    ),
    aliases={"patient": "implant_date", "pump": "serial_number"},
)

_CONFIRM = Column(
    "Confirmed unusual",
    "confirmed",
    YES_NO,
    False,
    "Yes when an unusual concentration or dose was checked against the record.",
    "No",
)

REFILLS = Sheet(
    "Refills",
    "Every refill of every pump.",
    (
        _mrn(),
        _serial(),
        Column("Date", "performed_on", DATE, True, "", "2026-10-20"),
        Column("Time", "performed_time", TIME, False, "Local time; default 12:00.", "10:30"),
        Column(
            "Volume after (mL)", "volume_after_ml", DECIMAL, True, "The volume in the reservoir after the refill.", 40
        ),
        Column("Concentration (mcg/mL)", "concentration_mcg_per_ml", DECIMAL, True, "", 500),
        Column("Daily dose (mcg/day)", "daily_dose_mcg", DECIMAL, True, "", 150),
        Column("Volume removed (mL)", "volume_removed_ml", DECIMAL, False, "Residual withdrawn; default 0.", 4.5),
        Column("Expected residual (mL)", "expected_residual_ml", DECIMAL, False, "", 4),
        Column("Programmer alarm date", "programmer_alarm_date", DATE, False, "", ""),
        _CONFIRM,
        Column("Notes", "notes", TEXT),
    ),
    aliases={"performed_at": "performed_on", "pump": "pump_serial"},
)

DOSE_CHANGES = Sheet(
    "Dose changes",
    "Documented daily dose changes between refills.",
    (
        _mrn(),
        _serial(),
        Column("Date", "effective_on", DATE, True, "", "2026-11-03"),
        Column("Time", "effective_time", TIME, False, "Local time; default 12:00.", "14:00"),
        Column("Daily dose (mcg/day)", "daily_dose_mcg", DECIMAL, True, "", 175),
        _CONFIRM,
        Column("Notes", "notes", TEXT),
    ),
    aliases={"effective_at": "effective_on", "pump": "pump_serial"},
)

FOLLOW_UPS = Sheet(
    "Follow-ups",
    "Past and booked visits.",
    (
        _mrn(),
        Column("Kind", "kind", CHOICE, True, "", "Clinic review", _choices(FollowUp.Kind.choices)),
        Column("Due date", "due_date", DATE, True, "", "2027-01-11"),
        Column(
            "Status", "status", CHOICE, False, "Default: scheduled.", "Scheduled", _choices(FollowUp.Status.choices)
        ),
        Column("Completed on", "completed_on", DATE, False, "For a completed visit.", ""),
        Column("Notes", "outcome_notes", TEXT),
    ),
)

GOALS = Sheet(
    "Goals",
    "Treatment goals (Goal Attainment Scaling). The reference names the goal on the Goal reviews sheet.",
    (
        _mrn(),
        Column("Goal reference", "ref", TEXT, True, "Any short name, unique for the patient.", "G1"),
        Column("Category", "category", CHOICE, True, "", "Ease of caregiving", _choices(Goal.Category.choices)),
        Column("Description", "description", TEXT, True, "", "Dressing without pain"),
        Column("Set on", "set_on", DATE, True, "", "2021-01-20"),
        Column("Baseline score", "baseline_score", INTEGER, False, "-2 to +2; default -1.", -1),
        Column("Expected outcome", "expected_outcome", TEXT),
        Column("Weight", "weight", INTEGER, False, "Default 1.", 1),
    ),
)

GOAL_REVIEWS = Sheet(
    "Goal reviews",
    "Scores of the goals at each review.",
    (
        _mrn(),
        Column("Goal reference", "ref", TEXT, True, "As on the Goals sheet.", "G1"),
        Column("Reviewed on", "reviewed_on", DATE, True, "", "2022-01-24"),
        Column("Score", "score", INTEGER, True, "-2 to +2.", 0),
        Column("Notes", "notes", TEXT),
    ),
)

SHEETS: tuple[Sheet, ...] = (
    PATIENTS,
    STATUS_CHANGES,
    INDICATIONS,
    PUMPS,
    REFILLS,
    DOSE_CHANGES,
    FOLLOW_UPS,
    GOALS,
    GOAL_REVIEWS,
)
BY_NAME = {s.name.casefold(): s for s in SHEETS}


def sheet_named(name: str) -> Sheet | None:
    """The sheet a tab or CSV file name means ("Dose changes", "dose_changes.csv", "DOSE-CHANGES")."""
    return _BY_KEY.get(_key(name.rsplit("/", 1)[-1].removesuffix(".csv")))


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").split()).casefold()


_BY_KEY = {_key(s.name): s for s in SHEETS}
