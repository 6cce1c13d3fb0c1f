"""``DataVersion``: a counter the database raises when what the cached pages show changes.

The API's patient list and worklist are cached under it (``api/caching.py``). They read sites,
closed days, patients, pumps and follow-ups; a statement that writes any of them raises it,
whoever runs it: services, admin, the sweep, the generator's COPY, a DBA's SQL.

- PostgreSQL: a statement-level trigger on each table records the transaction in
  ``registry_dataversion_pending`` (with a count of its writing statements, so that a
  transaction reading its own writes, as a test does, sees its own key change). A deferred
  constraint trigger on that table raises the counter once, at commit: the counter's row is
  locked only while committing, so two writers never deadlock on it, and a reader never sees the
  new number before the rows it stands for.
- SQLite: row-level triggers raise it at once (SQLite has one writer at a time anyway), to at
  least the clock's milliseconds: a number a rolled-back transaction used is not reached again
  by other data.

A missing row (a flushed table) restarts at the clock's milliseconds, above any count reached
before, so a number is never reused and a cached page never outlives a reset.
"""

from django.db import migrations, models

TABLES = ["registry_site", "registry_closedday", "registry_patient", "registry_pump", "registry_followup"]

PG_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

POSTGRES = [
    f"INSERT INTO registry_dataversion (id, value) VALUES (1, {PG_NOW_MS})",
    """
    CREATE TABLE registry_dataversion_pending (
      txid bigint PRIMARY KEY,
      statements bigint NOT NULL DEFAULT 1
    )
    """,
    """
    CREATE OR REPLACE FUNCTION registry_data_changed() RETURNS trigger AS $$
    BEGIN
      INSERT INTO registry_dataversion_pending AS p (txid) VALUES (txid_current())
        ON CONFLICT (txid) DO UPDATE SET statements = p.statements + 1;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE OR REPLACE FUNCTION registry_data_version_raise() RETURNS trigger AS $$
    BEGIN
      DELETE FROM registry_dataversion_pending WHERE txid = NEW.txid;
      INSERT INTO registry_dataversion (id, value) VALUES (1, {PG_NOW_MS})
        ON CONFLICT (id) DO UPDATE SET value = registry_dataversion.value + 1;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE CONSTRAINT TRIGGER registry_data_version_raise AFTER INSERT ON registry_dataversion_pending
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registry_data_version_raise()
    """,
] + [
    f"""CREATE TRIGGER registry_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION registry_data_changed()"""
    for table in TABLES
]

POSTGRES_REVERSE = [f"DROP TRIGGER IF EXISTS registry_data_changed ON {table}" for table in TABLES] + [
    "DROP TABLE IF EXISTS registry_dataversion_pending",
    "DROP FUNCTION IF EXISTS registry_data_version_raise()",
    "DROP FUNCTION IF EXISTS registry_data_changed()",
]

SQLITE = [f"INSERT INTO registry_dataversion (id, value) VALUES (1, {SQLITE_NOW_MS})"] + [
    f"""CREATE TRIGGER registry_data_changed_{table}_{op.lower()} AFTER {op} ON {table} BEGIN
          INSERT INTO registry_dataversion (id, value) VALUES (1, {SQLITE_NOW_MS})
            ON CONFLICT (id) DO UPDATE SET value = max(value + 1, {SQLITE_NOW_MS});
        END"""
    for table in TABLES
    for op in ("INSERT", "UPDATE", "DELETE")
]

SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS registry_data_changed_{table}_{op}"
    for table in TABLES
    for op in ("insert", "update", "delete")
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no data-version triggers written for the {vendor} database")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_follow_up_open_patient_idx")]

    operations = [
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="data_version_singleton")],
            },
        ),
        migrations.RunPython(create, drop),
    ]
