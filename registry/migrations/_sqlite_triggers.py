"""Saving SQLite's triggers around a table rebuild, for migrations that alter a table SQLite cannot
alter in place (the loader skips this module: its name starts with an underscore).

Django rebuilds such a table, which drops the triggers on it and trips over the triggers that
name it. ``drop`` saves and drops every trigger whose SQL names one of the tables; ``restore``
creates them again from the very same SQL. PostgreSQL alters tables in place: both do nothing.
"""


class SavedTriggers:
    def __init__(self, *tables: str):
        self.naming = " OR ".join(f"sql LIKE '%{table}%'" for table in tables)
        self.saved: list[tuple[str, str]] = []

    def drop(self, apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        query = f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND ({self.naming})"  # noqa: S608
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(query)
            self.saved[:] = cursor.fetchall()
        for name, _ in self.saved:
            schema_editor.execute(f'DROP TRIGGER "{name}"', params=None)

    def restore(self, apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for _, sql in self.saved:
            schema_editor.execute(sql, params=None)
