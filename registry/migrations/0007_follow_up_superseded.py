"""``FollowUp.superseded``, kept by triggers, and the worklist's partial index of open visits.

A visit is superseded when the same patient has a later visit of the same kind that is not
cancelled: rebooking is how a coordinator closes a missed visit. The worklist used to test that
for every open visit at read time (an anti-join over all follow-ups: 0.7 s at 100,000 patients);
the triggers store the answer whenever a visit is added, changed or removed, so the worklist
reads open visits from ``follow_up_open_idx`` alone.

- PostgreSQL: statement-level triggers with transition tables, so a bulk COPY (the synthetic
  generator) costs one set-based UPDATE per statement, not one per row. They only write rows whose
  flag changes, and stop on an empty change set (their own UPDATE fires them once more).
- SQLite: row-level triggers (SQLite has no statement-level ones); ``UPDATE OF`` leaves out the
  flag itself, and SQLite does not fire triggers recursively by default.

A stale model instance saved from Python writes its old flag back; the UPDATE trigger then
recomputes the group, so the stored flag is always the database's own answer.
"""

from django.db import migrations, models


def _later(f: str) -> str:
    """SQL: the visit ``f`` has a later, not cancelled visit of the same kind."""
    return f"""EXISTS (SELECT 1 FROM registry_followup l WHERE l.patient_id = {f}.patient_id AND l.kind = {f}.kind
                       AND l.due_date > {f}.due_date AND l.status <> 'cancelled')"""


def _pg_refresh(groups: str) -> str:
    """Recompute the flag of every visit in ``groups`` (patient, kind), through the patient-kind index."""
    return f"""
      UPDATE registry_followup t SET superseded = x.s
        FROM (SELECT f.id, {_later("f")} AS s
                FROM (SELECT DISTINCT patient_id, kind FROM ({groups}) g0) g
                JOIN registry_followup f ON f.patient_id = g.patient_id AND f.kind = g.kind) x
       WHERE t.id = x.id AND t.superseded IS DISTINCT FROM x.s;
    """


# An UPDATE changes a group only where a row's patient, kind, date or cancelled-ness changed, or
# where the flag itself was written (a stale instance saved from Python). Marking visits missed,
# completing them or editing notes touches no group: the sweep marks thousands missed at once.
UPDATED_GROUPS = """
    SELECT g.patient_id, g.kind FROM changed n JOIN old_rows o ON o.id = n.id,
           LATERAL (VALUES (n.patient_id, n.kind), (o.patient_id, o.kind)) AS g(patient_id, kind)
     WHERE (n.patient_id, n.kind, n.due_date, n.status = 'cancelled', n.superseded)
           IS DISTINCT FROM (o.patient_id, o.kind, o.due_date, o.status = 'cancelled', o.superseded)
"""


POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION registry_followup_supersede_rows() RETURNS trigger AS $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
      {_pg_refresh("SELECT patient_id, kind FROM changed")}
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE OR REPLACE FUNCTION registry_followup_supersede_update() RETURNS trigger AS $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
      {_pg_refresh(UPDATED_GROUPS)}
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_followup_supersede_insert AFTER INSERT ON registry_followup
      REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION registry_followup_supersede_rows();
    CREATE TRIGGER registry_followup_supersede_delete AFTER DELETE ON registry_followup
      REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION registry_followup_supersede_rows();
    CREATE TRIGGER registry_followup_supersede_update AFTER UPDATE ON registry_followup
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION registry_followup_supersede_update();
    """
]
POSTGRES_REVERSE = """
    DROP TRIGGER IF EXISTS registry_followup_supersede_insert ON registry_followup;
    DROP TRIGGER IF EXISTS registry_followup_supersede_delete ON registry_followup;
    DROP TRIGGER IF EXISTS registry_followup_supersede_update ON registry_followup;
    DROP FUNCTION IF EXISTS registry_followup_supersede_rows();
    DROP FUNCTION IF EXISTS registry_followup_supersede_update();
"""


def _sqlite_refresh(row: str) -> str:
    # No table alias: SQLite does not allow one in an UPDATE inside a trigger.
    return f"""
      UPDATE registry_followup SET superseded = {_later("registry_followup")}
       WHERE patient_id = {row}.patient_id AND kind = {row}.kind;
    """


SQLITE = [
    f"""CREATE TRIGGER registry_followup_supersede_insert AFTER INSERT ON registry_followup
        BEGIN {_sqlite_refresh("NEW")} END""",
    f"""CREATE TRIGGER registry_followup_supersede_delete AFTER DELETE ON registry_followup
        BEGIN {_sqlite_refresh("OLD")} END""",
    f"""CREATE TRIGGER registry_followup_supersede_update
        AFTER UPDATE OF patient_id, kind, due_date, status ON registry_followup
        BEGIN {_sqlite_refresh("OLD")} {_sqlite_refresh("NEW")} END""",
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS registry_followup_supersede_{op}" for op in ("insert", "delete", "update")]
# Every existing row, once, before the triggers exist (only the rows that become true are written).
BACKFILL = f"UPDATE registry_followup SET superseded = true WHERE {_later('registry_followup')}"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no follow-up triggers written for the {vendor} database")
    schema_editor.execute(BACKFILL, params=None)
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    else:
        for sql in SQLITE_REVERSE:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_perf_refill_performed_at")]

    operations = [
        migrations.AddField(
            model_name="followup", name="superseded", field=models.BooleanField(default=False, editable=False)
        ),
        migrations.AddField(
            model_name="historicalfollowup",
            name="superseded",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(
                condition=models.Q(("status__in", ["scheduled", "missed"]), ("superseded", False)),
                fields=["due_date", "status"],
                name="follow_up_open_idx",
            ),
        ),
    ]
