"""Database triggers for the invariants a CHECK constraint cannot express (they read another row).

- A patient's status changes only along an allowed transition (the pairs below are frozen here:
  a change to ``registry.models.ALLOWED_TRANSITIONS`` needs a new migration, which
  ``tests/registry/test_constraints.py`` checks).
- A refill's volume after refill is not above its pump's reservoir, and a refill or a dose change
  is not before its pump's implant date. PostgreSQL compares in the site's own time zone; SQLite
  has no time zones and allows the widest offset (14 hours), the services checking exactly.
- A pump's reservoir cannot shrink below, nor its implant date move after, its recorded refills.
"""

from django.db import migrations

PAIRS = [
    ("candidate", "deceased"),
    ("candidate", "discontinued"),
    ("candidate", "implanted"),
    ("candidate", "transferred"),
    ("discontinued", "deceased"),
    ("discontinued", "referred"),
    ("evaluating", "deceased"),
    ("evaluating", "discontinued"),
    ("evaluating", "not_candidate"),
    ("evaluating", "screening"),
    ("evaluating", "transferred"),
    ("explanted", "deceased"),
    ("explanted", "discontinued"),
    ("explanted", "implanted"),
    ("explanted", "transferred"),
    ("implanted", "deceased"),
    ("implanted", "discontinued"),
    ("implanted", "explanted"),
    ("implanted", "transferred"),
    ("not_candidate", "deceased"),
    ("not_candidate", "evaluating"),
    ("referred", "deceased"),
    ("referred", "discontinued"),
    ("referred", "evaluating"),
    ("referred", "transferred"),
    ("screening", "candidate"),
    ("screening", "deceased"),
    ("screening", "discontinued"),
    ("screening", "not_candidate"),
    ("screening", "transferred"),
    ("transferred", "deceased"),
    ("transferred", "implanted"),
    ("transferred", "referred"),
]
_PAIR_LIST = ", ".join(f"'{a}>{b}'" for a, b in PAIRS)

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION registry_patient_status_guard() RETURNS trigger AS $$
    BEGIN
      IF NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({_PAIR_LIST}) THEN
        RAISE EXCEPTION 'patient status transition % -> % is not allowed', OLD.status, NEW.status
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_patient_status_guard BEFORE UPDATE OF status ON registry_patient
      FOR EACH ROW EXECUTE FUNCTION registry_patient_status_guard();
    """,
    """
    CREATE OR REPLACE FUNCTION registry_refill_guard() RETURNS trigger AS $$
    DECLARE p RECORD;
    BEGIN
      SELECT pu.reservoir_volume_ml, pu.implant_date, s.time_zone INTO p
        FROM registry_pump pu JOIN registry_patient pa ON pa.id = pu.patient_id
        JOIN registry_site s ON s.id = pa.site_id WHERE pu.id = NEW.pump_id;
      IF NEW.volume_after_ml > p.reservoir_volume_ml THEN
        RAISE EXCEPTION 'refill volume % mL is above the pump reservoir of % mL',
          NEW.volume_after_ml, p.reservoir_volume_ml USING ERRCODE = 'check_violation';
      END IF;
      IF (NEW.performed_at AT TIME ZONE p.time_zone)::date < p.implant_date THEN
        RAISE EXCEPTION 'refill before the pump implant date %', p.implant_date USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_refill_guard BEFORE INSERT OR UPDATE ON registry_refill
      FOR EACH ROW EXECUTE FUNCTION registry_refill_guard();
    """,
    """
    CREATE OR REPLACE FUNCTION registry_dose_change_guard() RETURNS trigger AS $$
    DECLARE p RECORD;
    BEGIN
      SELECT pu.implant_date, s.time_zone INTO p
        FROM registry_pump pu JOIN registry_patient pa ON pa.id = pu.patient_id
        JOIN registry_site s ON s.id = pa.site_id WHERE pu.id = NEW.pump_id;
      IF (NEW.effective_at AT TIME ZONE p.time_zone)::date < p.implant_date THEN
        RAISE EXCEPTION 'dose change before the pump implant date %', p.implant_date
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_dose_change_guard BEFORE INSERT OR UPDATE ON registry_dosechange
      FOR EACH ROW EXECUTE FUNCTION registry_dose_change_guard();
    """,
    """
    CREATE OR REPLACE FUNCTION registry_pump_guard() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM registry_refill r WHERE r.pump_id = NEW.id
                 AND r.volume_after_ml > NEW.reservoir_volume_ml) THEN
        RAISE EXCEPTION 'a recorded refill is larger than the new reservoir volume' USING ERRCODE = 'check_violation';
      END IF;
      IF NEW.implant_date > OLD.implant_date AND EXISTS (
           SELECT 1 FROM registry_refill r WHERE r.pump_id = NEW.id
           AND r.performed_at < NEW.implant_date::timestamp AT TIME ZONE 'UTC' - interval '14 hours') THEN
        RAISE EXCEPTION 'a recorded refill is before the new implant date' USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER registry_pump_guard BEFORE UPDATE OF reservoir_volume_ml, implant_date ON registry_pump
      FOR EACH ROW EXECUTE FUNCTION registry_pump_guard();
    """,
]
POSTGRES_REVERSE = """
    DROP TRIGGER IF EXISTS registry_patient_status_guard ON registry_patient;
    DROP FUNCTION IF EXISTS registry_patient_status_guard();
    DROP TRIGGER IF EXISTS registry_refill_guard ON registry_refill;
    DROP FUNCTION IF EXISTS registry_refill_guard();
    DROP TRIGGER IF EXISTS registry_dose_change_guard ON registry_dosechange;
    DROP FUNCTION IF EXISTS registry_dose_change_guard();
    DROP TRIGGER IF EXISTS registry_pump_guard ON registry_pump;
    DROP FUNCTION IF EXISTS registry_pump_guard();
"""

SQLITE = [
    f"""
    CREATE TRIGGER registry_patient_status_guard BEFORE UPDATE OF status ON registry_patient
    FOR EACH ROW WHEN NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({_PAIR_LIST})
    BEGIN SELECT RAISE(ABORT, 'patient status transition is not allowed'); END;
    """,
    """
    CREATE TRIGGER registry_refill_guard_insert BEFORE INSERT ON registry_refill FOR EACH ROW
    BEGIN
      SELECT RAISE(ABORT, 'refill volume is above the pump reservoir')
        WHERE NEW.volume_after_ml > (SELECT reservoir_volume_ml FROM registry_pump WHERE id = NEW.pump_id);
      SELECT RAISE(ABORT, 'refill before the pump implant date')
        WHERE date(NEW.performed_at, '+14 hours') < (SELECT implant_date FROM registry_pump WHERE id = NEW.pump_id);
    END;
    """,
    """
    CREATE TRIGGER registry_refill_guard_update BEFORE UPDATE ON registry_refill FOR EACH ROW
    BEGIN
      SELECT RAISE(ABORT, 'refill volume is above the pump reservoir')
        WHERE NEW.volume_after_ml > (SELECT reservoir_volume_ml FROM registry_pump WHERE id = NEW.pump_id);
      SELECT RAISE(ABORT, 'refill before the pump implant date')
        WHERE date(NEW.performed_at, '+14 hours') < (SELECT implant_date FROM registry_pump WHERE id = NEW.pump_id);
    END;
    """,
    """
    CREATE TRIGGER registry_dose_change_guard_insert BEFORE INSERT ON registry_dosechange FOR EACH ROW
    BEGIN
      SELECT RAISE(ABORT, 'dose change before the pump implant date')
        WHERE date(NEW.effective_at, '+14 hours') < (SELECT implant_date FROM registry_pump WHERE id = NEW.pump_id);
    END;
    """,
    """
    CREATE TRIGGER registry_pump_guard BEFORE UPDATE OF reservoir_volume_ml, implant_date ON registry_pump
    FOR EACH ROW BEGIN
      SELECT RAISE(ABORT, 'a recorded refill is larger than the new reservoir volume')
        WHERE EXISTS (SELECT 1 FROM registry_refill r WHERE r.pump_id = NEW.id
                      AND r.volume_after_ml > NEW.reservoir_volume_ml);
      SELECT RAISE(ABORT, 'a recorded refill is before the new implant date')
        WHERE EXISTS (SELECT 1 FROM registry_refill r WHERE r.pump_id = NEW.id
                      AND date(r.performed_at, '+14 hours') < NEW.implant_date);
    END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS registry_patient_status_guard",
    "DROP TRIGGER IF EXISTS registry_refill_guard_insert",
    "DROP TRIGGER IF EXISTS registry_refill_guard_update",
    "DROP TRIGGER IF EXISTS registry_dose_change_guard_insert",
    "DROP TRIGGER IF EXISTS registry_pump_guard",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no integrity triggers written for the {vendor} database")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    else:
        for sql in SQLITE_REVERSE:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
