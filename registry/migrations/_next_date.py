"""Triggers that store, on each dated row, the date of the next row of its group (the loader skips
this module: its name starts with an underscore).

``NextDate(table, group, day, column)`` keeps ``column`` equal to the ``day`` of the next row of
the same ``group`` ordered by ``day`` then id (empty on the latest), through every insert, change
and removal:

- PostgreSQL: statement-level triggers with transition tables (a bulk COPY costs one UPDATE per
  statement), recomputing every row of the groups touched with ``lead()`` and writing only the
  rows whose date changes; their own UPDATE fires them once more and stops on an empty change.
- SQLite: row-level triggers; ``UPDATE OF`` leaves out the stored date itself, and SQLite does not
  fire triggers recursively by default.

A stale model instance saved from Python writes its old date back; the UPDATE trigger then
recomputes the group, so the stored date is always the database's own answer.
"""


class NextDate:
    def __init__(self, table: str, group: str, day: str, column: str):
        self.table, self.group, self.day, self.column = table, group, day, column
        self.name = f"{table}_{column}"

    def _lead(self, where: str = "") -> str:
        t, g, d = self.table, self.group, self.day
        return f"""SELECT id, lead({d}) OVER (PARTITION BY {g} ORDER BY {d}, id) AS s FROM {t} {where}"""

    def _pg_refresh(self, groups: str) -> str:
        t, g, c = self.table, self.group, self.column
        return f"""
          UPDATE {t} t SET {c} = x.s FROM ({self._lead(f"WHERE {g} IN (SELECT {g} FROM ({groups}) g)")}) x
           WHERE t.id = x.id AND t.{c} IS DISTINCT FROM x.s;
        """

    def postgres(self) -> str:
        t, g, d, c, name = self.table, self.group, self.day, self.column, self.name
        # An UPDATE changes a group's order only where a row's group or date changed, or where the
        # stored date itself was written (a stale instance saved from Python).
        updated = f"""
            SELECT x.{g} FROM changed n JOIN old_rows o ON o.id = n.id, LATERAL (VALUES (n.{g}), (o.{g})) AS x({g})
             WHERE (n.{g}, n.{d}, n.{c}) IS DISTINCT FROM (o.{g}, o.{d}, o.{c})
        """
        return f"""
        CREATE OR REPLACE FUNCTION {name}_rows() RETURNS trigger AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
          {self._pg_refresh(f"SELECT {g} FROM changed")}
          RETURN NULL;
        END $$ LANGUAGE plpgsql;
        CREATE OR REPLACE FUNCTION {name}_update() RETURNS trigger AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM changed) THEN RETURN NULL; END IF;
          {self._pg_refresh(updated)}
          RETURN NULL;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER {name}_insert AFTER INSERT ON {t}
          REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {name}_rows();
        CREATE TRIGGER {name}_delete AFTER DELETE ON {t}
          REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {name}_rows();
        CREATE TRIGGER {name}_update AFTER UPDATE ON {t}
          REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {name}_update();
        """

    def postgres_reverse(self) -> str:
        t, name = self.table, self.name
        return f"""
        DROP TRIGGER IF EXISTS {name}_insert ON {t};
        DROP TRIGGER IF EXISTS {name}_delete ON {t};
        DROP TRIGGER IF EXISTS {name}_update ON {t};
        DROP FUNCTION IF EXISTS {name}_rows();
        DROP FUNCTION IF EXISTS {name}_update();
        """

    def _next(self) -> str:
        # No table alias for the outer row: SQLite allows none in an UPDATE inside a trigger.
        t, g, d = self.table, self.group, self.day
        return f"""(SELECT n.{d} FROM {t} n WHERE n.{g} = {t}.{g}
                      AND (n.{d} > {t}.{d} OR (n.{d} = {t}.{d} AND n.id > {t}.id))
                    ORDER BY n.{d}, n.id LIMIT 1)"""

    def _sqlite_refresh(self, row: str) -> str:
        return f"UPDATE {self.table} SET {self.column} = {self._next()} WHERE {self.group} = {row}.{self.group};"

    def sqlite(self) -> list[str]:
        t, g, d, name = self.table, self.group, self.day, self.name
        return [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {t} BEGIN {self._sqlite_refresh('NEW')} END",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {t} BEGIN {self._sqlite_refresh('OLD')} END",
            f"""CREATE TRIGGER {name}_update AFTER UPDATE OF {g}, {d} ON {t}
                BEGIN {self._sqlite_refresh("OLD")} {self._sqlite_refresh("NEW")} END""",
        ]

    def sqlite_reverse(self) -> list[str]:
        return [f"DROP TRIGGER IF EXISTS {self.name}_{op}" for op in ("insert", "delete", "update")]

    def backfill(self, vendor: str) -> str:
        """Every existing row, once, before the triggers exist."""
        if vendor == "postgresql":
            return f"UPDATE {self.table} t SET {self.column} = x.s FROM ({self._lead()}) x WHERE t.id = x.id AND x.s IS NOT NULL"
        return f"UPDATE {self.table} SET {self.column} = {self._next()}"

    def create(self, apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in ("postgresql", "sqlite"):
            raise RuntimeError(f"no next-date triggers written for the {vendor} database")
        schema_editor.execute(self.backfill(vendor), params=None)
        for sql in [self.postgres()] if vendor == "postgresql" else self.sqlite():
            schema_editor.execute(sql, params=None)

    def drop(self, apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.postgres_reverse(), params=None)
        else:
            for sql in self.sqlite_reverse():
                schema_editor.execute(sql, params=None)
