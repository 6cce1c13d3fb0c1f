"""A database trigger refuses any UPDATE of the access log, whoever sends it (docs/triggers.md)."""

from django.db import migrations

POSTGRES = """
CREATE FUNCTION audit_patientaccess_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The access log is append-only: its rows are never changed.';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_patientaccess_no_update BEFORE UPDATE ON audit_patientaccess
    FOR EACH ROW EXECUTE FUNCTION audit_patientaccess_append_only();
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS audit_patientaccess_no_update ON audit_patientaccess;
DROP FUNCTION IF EXISTS audit_patientaccess_append_only();
"""
SQLITE = """
CREATE TRIGGER audit_patientaccess_no_update BEFORE UPDATE ON audit_patientaccess
BEGIN
    SELECT RAISE(ABORT, 'The access log is append-only: its rows are never changed.');
END;
"""
SQLITE_REVERSE = "DROP TRIGGER IF EXISTS audit_patientaccess_no_update;"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_access_log")]
    operations = [migrations.RunPython(forwards, backwards)]
