"""Triggers that keep ``registry_refillmonth`` equal to the refills it counts (the loader skips this
module: its name starts with an underscore).

A refill is counted when it is not entered in error and has a local date and a site, under the key (site,
first day of its local month, timeliness, interval in days or -1 without one). Every insert,
change and removal of refills adds the counts of the new rows' keys and takes away those of the
old rows' keys, in the statement that wrote them:

- PostgreSQL: statement-level triggers with transition tables, one upsert per statement (a bulk
  COPY costs one grouped INSERT); a change that moves no refill between keys writes nothing.
- SQLite: row-level triggers, a key's row made if missing, then its count changed.

Keys whose count falls to 0 stay, counting nothing.
"""

TABLE = "registry_refillmonth"
KEY = "month, site_id, timeliness, interval_days"
COUNTED = "NOT entered_in_error AND performed_on IS NOT NULL AND site_id IS NOT NULL"


def _pg_keyed(rows: str, sign: int) -> str:
    return f"""SELECT date_trunc('month', performed_on)::date AS month, site_id, timeliness,
                      COALESCE(interval_days, -1) AS interval_days, {sign} AS n
                 FROM {rows} WHERE {COUNTED}"""


def _pg_function(name: str, members: list[str]) -> str:
    keyed = " UNION ALL ".join(members)
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO {TABLE} ({KEY}, refills)
          SELECT {KEY}, SUM(n) FROM ({keyed}) keyed
           GROUP BY {KEY} HAVING SUM(n) <> 0 ORDER BY {KEY}
          ON CONFLICT ({KEY}) DO UPDATE SET refills = {TABLE}.refills + EXCLUDED.refills;
          RETURN NULL;
        END $$;
    """


POSTGRES = [
    _pg_function("registry_refill_month_insert", [_pg_keyed("new_rows", 1)]),
    _pg_function("registry_refill_month_update", [_pg_keyed("old_rows", -1), _pg_keyed("new_rows", 1)]),
    _pg_function("registry_refill_month_delete", [_pg_keyed("old_rows", -1)]),
    "CREATE TRIGGER registry_refill_month_insert AFTER INSERT ON registry_refill"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_refill_month_insert()",
    "CREATE TRIGGER registry_refill_month_update AFTER UPDATE ON registry_refill"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION registry_refill_month_update()",
    "CREATE TRIGGER registry_refill_month_delete AFTER DELETE ON registry_refill"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_refill_month_delete()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS registry_refill_month_insert ON registry_refill",
    "DROP TRIGGER IF EXISTS registry_refill_month_update ON registry_refill",
    "DROP TRIGGER IF EXISTS registry_refill_month_delete ON registry_refill",
    "DROP FUNCTION IF EXISTS registry_refill_month_insert()",
    "DROP FUNCTION IF EXISTS registry_refill_month_update()",
    "DROP FUNCTION IF EXISTS registry_refill_month_delete()",
]


def _sqlite_is_key(row: str) -> str:
    return f"""month = date({row}.performed_on, 'start of month') AND site_id = {row}.site_id
               AND timeliness = {row}.timeliness AND interval_days = COALESCE({row}.interval_days, -1)"""


def _sqlite_counted(row: str) -> str:
    # A refill written without its site is counted when SQLite's own trigger fills the site in
    # (migration 0011: an UPDATE, which these triggers see), in whichever order the triggers fire.
    return f"NOT {row}.entered_in_error AND {row}.performed_on IS NOT NULL AND {row}.site_id IS NOT NULL"


def _sqlite_add(row: str) -> str:
    return f"""INSERT INTO {TABLE} ({KEY}, refills)
               SELECT date({row}.performed_on, 'start of month'), {row}.site_id, {row}.timeliness,
                      COALESCE({row}.interval_days, -1), 0
                WHERE {_sqlite_counted(row)} AND NOT EXISTS (SELECT 1 FROM {TABLE} WHERE {_sqlite_is_key(row)});
               UPDATE {TABLE} SET refills = refills + 1 WHERE {_sqlite_counted(row)} AND {_sqlite_is_key(row)};"""


def _sqlite_take(row: str) -> str:
    return f"""UPDATE {TABLE} SET refills = refills - 1 WHERE {_sqlite_counted(row)} AND {_sqlite_is_key(row)};"""


SQLITE = [
    f"CREATE TRIGGER registry_refill_month_insert AFTER INSERT ON registry_refill BEGIN {_sqlite_add('NEW')} END",
    "CREATE TRIGGER registry_refill_month_update AFTER UPDATE ON registry_refill"
    f" BEGIN {_sqlite_take('OLD')} {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER registry_refill_month_delete AFTER DELETE ON registry_refill BEGIN {_sqlite_take('OLD')} END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS registry_refill_month_insert",
    "DROP TRIGGER IF EXISTS registry_refill_month_update",
    "DROP TRIGGER IF EXISTS registry_refill_month_delete",
]

# The refills already recorded, counted once when the triggers are created.
_FILL = {
    "postgresql": f"""INSERT INTO {TABLE} ({KEY}, refills)
        SELECT date_trunc('month', performed_on)::date, site_id, timeliness, COALESCE(interval_days, -1), COUNT(*)
          FROM registry_refill WHERE {COUNTED} GROUP BY 1, 2, 3, 4""",
    "sqlite": f"""INSERT INTO {TABLE} ({KEY}, refills)
        SELECT date(performed_on, 'start of month'), site_id, timeliness, COALESCE(interval_days, -1), COUNT(*)
          FROM registry_refill WHERE {COUNTED} GROUP BY 1, 2, 3, 4""",
}


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in _FILL:
        raise RuntimeError(f"no refill rollup triggers written for the {vendor} database")
    if vendor == "postgresql":
        # No refill is written between the count and the triggers.
        schema_editor.execute("LOCK TABLE registry_refill IN SHARE MODE", params=None)
    for sql in [_FILL[vendor], *(POSTGRES if vendor == "postgresql" else SQLITE)]:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql, params=None)
    schema_editor.execute(f"DELETE FROM {TABLE}", params=None)
