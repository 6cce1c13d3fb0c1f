"""The dose-change guard on SQLite also fires on UPDATE, as it always has on PostgreSQL."""

from django.db import migrations

SQLITE_UPDATE_GUARD = """
CREATE TRIGGER registry_dose_change_guard_update BEFORE UPDATE ON registry_dosechange FOR EACH ROW
BEGIN
  SELECT RAISE(ABORT, 'dose change before the pump implant date')
    WHERE date(NEW.effective_at, '+14 hours') < (SELECT implant_date FROM registry_pump WHERE id = NEW.pump_id);
END;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_UPDATE_GUARD, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS registry_dose_change_guard_update", params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0015_program_import")]
    operations = [migrations.RunPython(create, drop)]
