"""A patient's referral date, and each site's day/month order for dates written as text.

Existing patients are given the date of their earliest status-history row (their registration),
so reports count them where they already did. The columns are added with plain ``ADD COLUMN``:
on SQLite, Django would rebuild the patient and site tables, which drops the triggers on them
(status guard, data version) and fails on the follow-up triggers that read the patient table.
So on SQLite the NOT NULL and the two CHECKs on the referral date are triggers, as in 0010.
"""

from django.db import migrations, models

REFERRED_ON = dict(
    help_text="The day the program received the referral; the patient's history starts here.",
    verbose_name="referred on",
)
DATE_ORDER = models.CharField(
    choices=[("dmy", "Day first (31/12/2025)"), ("mdy", "Month first (12/31/2025)")],
    default="dmy",
    help_text="How imported spreadsheets write dates as text; an ambiguous one is reported, never guessed.",
    max_length=3,
    verbose_name="day/month order",
)
REFERRED_AFTER_BIRTH = models.CheckConstraint(
    condition=models.Q(("referred_on__gte", models.F("date_of_birth"))), name="patient_referred_after_birth"
)
STATUS_NOT_BEFORE_REFERRAL = models.CheckConstraint(
    condition=models.Q(
        ("status_changed_on__isnull", True), ("status_changed_on__gte", models.F("referred_on")), _connector="OR"
    ),
    name="patient_status_not_before_referral",
)

COMMON = [
    "ALTER TABLE registry_site ADD COLUMN date_order varchar(3) NOT NULL DEFAULT 'dmy'",
    "ALTER TABLE registry_patient ADD COLUMN referred_on date NULL",
    "ALTER TABLE registry_historicalpatient ADD COLUMN referred_on date NULL",
    """
    UPDATE registry_patient SET referred_on = COALESCE(
      (SELECT MIN(sc.changed_on) FROM registry_statuschange sc WHERE sc.patient_id = registry_patient.id),
      status_changed_on, date_of_birth)
    """,
    """
    UPDATE registry_historicalpatient SET referred_on = COALESCE(
      (SELECT p.referred_on FROM registry_patient p WHERE p.id = registry_historicalpatient.id),
      status_changed_on, date_of_birth)
    """,
]
POSTGRES = [
    *COMMON,
    "SET CONSTRAINTS ALL IMMEDIATE",
    "ALTER TABLE registry_patient ALTER COLUMN referred_on SET NOT NULL",
    "ALTER TABLE registry_historicalpatient ALTER COLUMN referred_on SET NOT NULL",
    """ALTER TABLE registry_patient ADD CONSTRAINT patient_referred_after_birth
       CHECK (referred_on >= date_of_birth)""",
    """ALTER TABLE registry_patient ADD CONSTRAINT patient_status_not_before_referral
       CHECK (status_changed_on IS NULL OR status_changed_on >= referred_on)""",
    "SET CONSTRAINTS ALL DEFERRED",
]
_SQLITE_GUARD = """
    BEGIN
      SELECT RAISE(ABORT, 'NOT NULL constraint failed: registry_patient.referred_on') WHERE NEW.referred_on IS NULL;
      SELECT RAISE(ABORT, 'CHECK constraint failed: patient_referred_after_birth')
        WHERE NEW.referred_on < NEW.date_of_birth;
      SELECT RAISE(ABORT, 'CHECK constraint failed: patient_status_not_before_referral')
        WHERE NEW.status_changed_on IS NOT NULL AND NEW.status_changed_on < NEW.referred_on;
    END
"""
SQLITE = [
    *COMMON,
    f"CREATE TRIGGER registry_patient_referral_insert BEFORE INSERT ON registry_patient FOR EACH ROW {_SQLITE_GUARD}",
    f"""CREATE TRIGGER registry_patient_referral_update
        BEFORE UPDATE OF referred_on, date_of_birth, status_changed_on ON registry_patient FOR EACH ROW {_SQLITE_GUARD}""",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no referral-date columns written for the {vendor} database")
    for sql in statements:
        schema_editor.execute(sql, params=None)


REVERSE = [
    "DROP TRIGGER IF EXISTS registry_patient_referral_insert",
    "DROP TRIGGER IF EXISTS registry_patient_referral_update",
    "ALTER TABLE registry_patient DROP CONSTRAINT IF EXISTS patient_referred_after_birth",
    "ALTER TABLE registry_patient DROP CONSTRAINT IF EXISTS patient_status_not_before_referral",
    "ALTER TABLE registry_historicalpatient DROP COLUMN referred_on",
    "ALTER TABLE registry_patient DROP COLUMN referred_on",
    "ALTER TABLE registry_site DROP COLUMN date_order",
]


def drop(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for sql in REVERSE:
        if ("TRIGGER" in sql and postgres) or ("CONSTRAINT" in sql and not postgres):
            continue
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0013_data_version_user_names")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[
                migrations.AddField(model_name="site", name="date_order", field=DATE_ORDER),
                migrations.AddField(model_name="patient", name="referred_on", field=models.DateField(**REFERRED_ON)),
                migrations.AddField(
                    model_name="historicalpatient", name="referred_on", field=models.DateField(**REFERRED_ON)
                ),
                migrations.AddConstraint(model_name="patient", constraint=REFERRED_AFTER_BIRTH),
                migrations.AddConstraint(model_name="patient", constraint=STATUS_NOT_BEFORE_REFERRAL),
            ],
        )
    ]
