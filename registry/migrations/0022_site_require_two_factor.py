"""Sites may require a second factor of their staff.

SQLite rebuilds the site table to add the column, which drops the triggers on it (the data
version's); every trigger naming the table is saved and dropped first and created again, from the
very same SQL, last (as 0018 does). PostgreSQL adds the column in place and keeps its triggers.
"""

from django.db import migrations, models

_SAVED: list[tuple[str, str]] = []
_NAMING = "sql LIKE '%registry_site%'"


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND ({_NAMING})")  # noqa: S608
        _SAVED[:] = cursor.fetchall()
    for name, _ in _SAVED:
        schema_editor.execute(f'DROP TRIGGER "{name}"', params=None)


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for _, sql in _SAVED:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0021_site_names_on_one_line'),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_sqlite_triggers),
        migrations.AddField(
            model_name='site',
            name='require_two_factor',
            field=models.BooleanField(default=False, help_text='Staff of this site log in with a second factor (an authenticator app). Administrators always do.'),
        ),
        migrations.RunPython(restore_sqlite_triggers, drop_sqlite_triggers),
    ]
