"""``StatusChange.superseded_on``, kept by triggers, and the indexes of the report's periods.

A status change is superseded on the date of the patient's next status change (by date, then id;
empty on the latest). The census's "status on the period's last day" compared every status change
with its patient's others (an anti-join over the whole history); with the date stored, it is the
one row per patient dated on or before the day and not superseded by then, read in one pass.

- PostgreSQL: statement-level triggers with transition tables (a bulk COPY costs one UPDATE per
  statement), recomputing every row of the patients touched with ``lead()`` and writing only the
  rows whose date changes; their own UPDATE fires them once more and stops on an empty change.
- SQLite: row-level triggers; ``UPDATE OF`` leaves out the stored date itself, and SQLite does not
  fire triggers recursively by default.

A stale model instance saved from Python writes its old date back; the UPDATE trigger then
recomputes the patient, so the stored date is always the database's own answer.
"""

from django.conf import settings
from django.db import migrations, models

NEXT = """(SELECT n.changed_on FROM registry_statuschange n
            WHERE n.patient_id = {c}.patient_id
              AND (n.changed_on > {c}.changed_on OR (n.changed_on = {c}.changed_on AND n.id > {c}.id))
            ORDER BY n.changed_on, n.id LIMIT 1)"""


def _pg_refresh(patients: str) -> str:
    """Recompute the date of every status change of the patients in ``patients``."""
    return f"""
      UPDATE registry_statuschange t SET superseded_on = x.s
        FROM (SELECT c.id, lead(c.changed_on) OVER (PARTITION BY c.patient_id ORDER BY c.changed_on, c.id) AS s
                FROM registry_statuschange c
               WHERE c.patient_id IN (SELECT patient_id FROM ({patients}) g)) x
       WHERE t.id = x.id AND t.superseded_on IS DISTINCT FROM x.s;
    """


# An UPDATE changes a patient's order only where a row's patient or date changed, or where the
# stored date itself was written (a stale instance saved from Python).
UPDATED_PATIENTS = """
    SELECT g.patient_id FROM changed n JOIN old_rows o ON o.id = n.id,
           LATERAL (VALUES (n.patient_id), (o.patient_id)) AS g(patient_id)
     WHERE (n.patient_id, n.changed_on, n.superseded_on) IS DISTINCT FROM (o.patient_id, o.changed_on, o.superseded_on)
"""

POSTGRES = f"""
    CREATE OR REPLACE FUNCTION registry_statuschange_supersede_rows() RETURNS trigger AS $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
      {_pg_refresh("SELECT patient_id FROM changed")}
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE OR REPLACE FUNCTION registry_statuschange_supersede_update() RETURNS trigger AS $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
      {_pg_refresh(UPDATED_PATIENTS)}
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_statuschange_supersede_insert AFTER INSERT ON registry_statuschange
      REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION registry_statuschange_supersede_rows();
    CREATE TRIGGER registry_statuschange_supersede_delete AFTER DELETE ON registry_statuschange
      REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION registry_statuschange_supersede_rows();
    CREATE TRIGGER registry_statuschange_supersede_update AFTER UPDATE ON registry_statuschange
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION registry_statuschange_supersede_update();
"""
POSTGRES_REVERSE = """
    DROP TRIGGER IF EXISTS registry_statuschange_supersede_insert ON registry_statuschange;
    DROP TRIGGER IF EXISTS registry_statuschange_supersede_delete ON registry_statuschange;
    DROP TRIGGER IF EXISTS registry_statuschange_supersede_update ON registry_statuschange;
    DROP FUNCTION IF EXISTS registry_statuschange_supersede_rows();
    DROP FUNCTION IF EXISTS registry_statuschange_supersede_update();
"""


def _sqlite_refresh(row: str) -> str:
    # No table alias: SQLite does not allow one in an UPDATE inside a trigger.
    return f"""
      UPDATE registry_statuschange SET superseded_on = {NEXT.format(c="registry_statuschange")}
       WHERE patient_id = {row}.patient_id;
    """


SQLITE = [
    f"""CREATE TRIGGER registry_statuschange_supersede_insert AFTER INSERT ON registry_statuschange
        BEGIN {_sqlite_refresh("NEW")} END""",
    f"""CREATE TRIGGER registry_statuschange_supersede_delete AFTER DELETE ON registry_statuschange
        BEGIN {_sqlite_refresh("OLD")} END""",
    f"""CREATE TRIGGER registry_statuschange_supersede_update
        AFTER UPDATE OF patient_id, changed_on ON registry_statuschange
        BEGIN {_sqlite_refresh("OLD")} {_sqlite_refresh("NEW")} END""",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS registry_statuschange_supersede_{op}" for op in ("insert", "delete", "update")
]
# Every existing row, once, before the triggers exist.
BACKFILL = {
    "postgresql": """
      UPDATE registry_statuschange t SET superseded_on = x.s
        FROM (SELECT id, lead(changed_on) OVER (PARTITION BY patient_id ORDER BY changed_on, id) AS s
                FROM registry_statuschange) x
       WHERE t.id = x.id AND x.s IS NOT NULL
    """,
    "sqlite": f"UPDATE registry_statuschange SET superseded_on = {NEXT.format(c='registry_statuschange')}",
}


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in BACKFILL:
        raise RuntimeError(f"no status-change triggers written for the {vendor} database")
    schema_editor.execute(BACKFILL[vendor], params=None)
    for sql in [POSTGRES] if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    else:
        for sql in SQLITE_REVERSE:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0025_constraint_messages_in_words"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="statuschange",
            name="superseded_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(
                fields=["due_date"], include=("patient", "status", "completed_on"), name="follow_up_due_cover_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="statuschange",
            index=models.Index(fields=["changed_on"], name="status_change_day_idx"),
        ),
        migrations.AddIndex(
            model_name="statuschange",
            index=models.Index(
                condition=models.Q(("to_status", "deceased")),
                fields=["patient", "changed_on"],
                name="status_change_death_idx",
            ),
        ),
    ]
