"""The data version also moves when a primary clinician's names change: the dashboard's cached
worklist shows each patient's clinician by name, and its filter lists them (``api/caching.py``).

Only a change of the names of a user who is some patient's primary clinician: a login writes
``last_login`` on every visit, and other users appear on no cached page. The version is raised as
migration 0009 does (at commit on PostgreSQL).
"""

from django.db import migrations

COLUMNS = "first_name, last_name, username"
SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"


def changed(differs: str) -> str:
    return " OR ".join(f"OLD.{c} {differs} NEW.{c}" for c in ("first_name", "last_name", "username"))


SHOWN = "EXISTS (SELECT 1 FROM registry_patient WHERE primary_clinician_id = NEW.id)"
STATEMENTS = {
    "postgresql": [
        f"""
        CREATE OR REPLACE FUNCTION registry_clinician_renamed() RETURNS trigger AS $$
        BEGIN
          IF {SHOWN} THEN
            INSERT INTO registry_dataversion_pending AS p (txid) VALUES (txid_current())
              ON CONFLICT (txid) DO UPDATE SET statements = p.statements + 1;
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,  # noqa: S608 - constants only
        f"""CREATE TRIGGER registry_clinician_renamed AFTER UPDATE OF {COLUMNS} ON auth_user FOR EACH ROW
            WHEN ({changed("IS DISTINCT FROM")})
            EXECUTE FUNCTION registry_clinician_renamed()""",
    ],
    "sqlite": [
        f"""CREATE TRIGGER registry_clinician_renamed AFTER UPDATE OF {COLUMNS} ON auth_user FOR EACH ROW
            WHEN ({changed("IS NOT")}) AND {SHOWN} BEGIN
              INSERT INTO registry_dataversion (id, value) VALUES (1, {SQLITE_NOW_MS})
                ON CONFLICT (id) DO UPDATE SET value = max(value + 1, {SQLITE_NOW_MS});
            END""",  # noqa: S608 - constants only
    ],
}
REVERSE = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS registry_clinician_renamed ON auth_user",
        "DROP FUNCTION IF EXISTS registry_clinician_renamed()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS registry_clinician_renamed"],
}


def create(apps, schema_editor):
    for statement in STATEMENTS[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    for statement in REVERSE[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0012_refill_performed_on_interval"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, drop)]
