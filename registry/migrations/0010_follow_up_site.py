"""``FollowUp.site``: the patient's site, copied onto each visit and kept by triggers.

One clinic's worklist read its open visits by date across every site and looked up each visit's
patient to keep its own (10 ms of its 11 ms of SQL at 100,000 patients over 40 sites); with the
site on the visit it reads them from ``follow_up_open_site_idx`` alone.

- PostgreSQL: a BEFORE INSERT / UPDATE OF patient_id, site_id row trigger sets the visit's site
  from its patient, whatever the writer sent; the column is then NOT NULL.
- SQLite: BEFORE triggers cannot assign NEW, so AFTER triggers correct the row (and the column
  stays nullable: the NOT NULL check would run before them).
- Both: when a patient's site changes, an AFTER UPDATE trigger moves their visits with them.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRES = [
    "UPDATE registry_followup f SET site_id = p.site_id FROM registry_patient p WHERE p.id = f.patient_id",
    """
    CREATE OR REPLACE FUNCTION registry_followup_site() RETURNS trigger AS $$
    BEGIN
      NEW.site_id := (SELECT site_id FROM registry_patient WHERE id = NEW.patient_id);
      RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    """CREATE TRIGGER registry_followup_site BEFORE INSERT OR UPDATE OF patient_id, site_id ON registry_followup
       FOR EACH ROW EXECUTE FUNCTION registry_followup_site()""",
    """
    CREATE OR REPLACE FUNCTION registry_patient_moves_visits() RETURNS trigger AS $$
    BEGIN
      UPDATE registry_followup SET site_id = NEW.site_id WHERE patient_id = NEW.id;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """CREATE TRIGGER registry_patient_moves_visits AFTER UPDATE OF site_id ON registry_patient
       FOR EACH ROW WHEN (OLD.site_id IS DISTINCT FROM NEW.site_id) EXECUTE FUNCTION registry_patient_moves_visits()""",
    # The backfill queued deferred foreign-key checks; PostgreSQL alters no table with events pending.
    "SET CONSTRAINTS ALL IMMEDIATE",
    "ALTER TABLE registry_followup ALTER COLUMN site_id SET NOT NULL",
    "SET CONSTRAINTS ALL DEFERRED",
]

POSTGRES_REVERSE = [
    "ALTER TABLE registry_followup ALTER COLUMN site_id DROP NOT NULL",
    "DROP TRIGGER IF EXISTS registry_patient_moves_visits ON registry_patient",
    "DROP TRIGGER IF EXISTS registry_followup_site ON registry_followup",
    "DROP FUNCTION IF EXISTS registry_patient_moves_visits()",
    "DROP FUNCTION IF EXISTS registry_followup_site()",
]

_SQLITE_SET = (
    "UPDATE registry_followup SET site_id = (SELECT site_id FROM registry_patient WHERE id = NEW.patient_id)"
    " WHERE id = NEW.id;"
)
SQLITE = [
    "UPDATE registry_followup SET site_id = (SELECT site_id FROM registry_patient p WHERE p.id = patient_id)",
    f"CREATE TRIGGER registry_followup_site_insert AFTER INSERT ON registry_followup BEGIN {_SQLITE_SET} END",
    f"""CREATE TRIGGER registry_followup_site_update AFTER UPDATE OF patient_id, site_id ON registry_followup
        BEGIN {_SQLITE_SET} END""",
    """CREATE TRIGGER registry_patient_moves_visits AFTER UPDATE OF site_id ON registry_patient
       WHEN OLD.site_id IS NOT NEW.site_id
       BEGIN UPDATE registry_followup SET site_id = NEW.site_id WHERE patient_id = NEW.id; END""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS registry_followup_site_insert",
    "DROP TRIGGER IF EXISTS registry_followup_site_update",
    "DROP TRIGGER IF EXISTS registry_patient_moves_visits",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no follow-up site triggers written for the {vendor} database")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_data_version")]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.AddField(
            model_name="historicalfollowup",
            name="site",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(
                condition=models.Q(("status__in", ["scheduled", "missed"]), ("superseded", False)),
                fields=["site", "due_date", "status"],
                name="follow_up_open_site_idx",
            ),
        ),
    ]
