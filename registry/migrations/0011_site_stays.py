"""Where each event happened: ``SiteStay`` (a patient's dated stays at sites) and ``Refill.site``.

- Every existing patient gets one open stay at their current site. A patient whose audit history
  shows a change of site gets one stay per site, split at the date the change was recorded (the
  only date the registry has for moves made before this migration).
- Each existing refill gets the site of the stay its (UTC) date falls in.
- Triggers, PostgreSQL and SQLite alike: a new patient gets an open stay without a start; a change
  of ``Patient.site`` closes the open stay and opens one at the new site, both dated today
  (``services.move_patient`` then writes the date of the move); a refill written without a site
  gets the patient's current site. PostgreSQL's ``refill.site_id`` is then NOT NULL.
"""

import datetime as dt

import django.db.models.deletion
from django.db import migrations, models

PG_STAY = """
    CREATE OR REPLACE FUNCTION registry_patient_stay() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        UPDATE registry_sitestay SET ended_on = GREATEST(CURRENT_DATE, COALESCE(started_on, CURRENT_DATE))
          WHERE patient_id = NEW.id AND ended_on IS NULL;
        INSERT INTO registry_sitestay (patient_id, site_id, started_on, ended_on)
          VALUES (NEW.id, NEW.site_id, CURRENT_DATE, NULL);
      ELSE
        INSERT INTO registry_sitestay (patient_id, site_id, started_on, ended_on) VALUES (NEW.id, NEW.site_id, NULL, NULL);
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
"""
PG_REFILL = """
    CREATE OR REPLACE FUNCTION registry_refill_site() RETURNS trigger AS $$
    BEGIN
      IF NEW.site_id IS NULL THEN
        NEW.site_id := (SELECT p.site_id FROM registry_pump pu JOIN registry_patient p ON p.id = pu.patient_id
                        WHERE pu.id = NEW.pump_id);
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql
"""
POSTGRES_BACKFILL = """
    UPDATE registry_refill r SET site_id = s.site_id FROM registry_pump pu, registry_sitestay s
    WHERE pu.id = r.pump_id AND s.patient_id = pu.patient_id
      AND (s.started_on IS NULL OR s.started_on <= (r.performed_at AT TIME ZONE 'UTC')::date)
      AND (s.ended_on IS NULL OR (r.performed_at AT TIME ZONE 'UTC')::date < s.ended_on)
"""
POSTGRES = [
    PG_STAY,
    "CREATE TRIGGER registry_patient_stay_insert AFTER INSERT ON registry_patient"
    " FOR EACH ROW EXECUTE FUNCTION registry_patient_stay()",
    "CREATE TRIGGER registry_patient_stay_move AFTER UPDATE OF site_id ON registry_patient FOR EACH ROW"
    " WHEN (OLD.site_id IS DISTINCT FROM NEW.site_id) EXECUTE FUNCTION registry_patient_stay()",
    PG_REFILL,
    "CREATE TRIGGER registry_refill_site BEFORE INSERT ON registry_refill FOR EACH ROW EXECUTE FUNCTION registry_refill_site()",
    # The backfill queued deferred foreign-key checks; PostgreSQL alters no table with events pending.
    "SET CONSTRAINTS ALL IMMEDIATE",
    "ALTER TABLE registry_refill ALTER COLUMN site_id SET NOT NULL",
    "SET CONSTRAINTS ALL DEFERRED",
]
POSTGRES_REVERSE = [
    "ALTER TABLE registry_refill ALTER COLUMN site_id DROP NOT NULL",
    "DROP TRIGGER IF EXISTS registry_refill_site ON registry_refill",
    "DROP TRIGGER IF EXISTS registry_patient_stay_move ON registry_patient",
    "DROP TRIGGER IF EXISTS registry_patient_stay_insert ON registry_patient",
    "DROP FUNCTION IF EXISTS registry_refill_site()",
    "DROP FUNCTION IF EXISTS registry_patient_stay()",
]
SQLITE_BACKFILL = """
    UPDATE registry_refill SET site_id = (
      SELECT s.site_id FROM registry_sitestay s JOIN registry_pump pu ON pu.patient_id = s.patient_id
      WHERE pu.id = registry_refill.pump_id
        AND (s.started_on IS NULL OR s.started_on <= date(registry_refill.performed_at))
        AND (s.ended_on IS NULL OR date(registry_refill.performed_at) < s.ended_on))
"""
SQLITE = [
    """CREATE TRIGGER registry_patient_stay_insert AFTER INSERT ON registry_patient BEGIN
       INSERT INTO registry_sitestay (patient_id, site_id, started_on, ended_on) VALUES (NEW.id, NEW.site_id, NULL, NULL);
       END""",
    """CREATE TRIGGER registry_patient_stay_move AFTER UPDATE OF site_id ON registry_patient
       WHEN OLD.site_id IS NOT NEW.site_id BEGIN
       UPDATE registry_sitestay SET ended_on = max(date('now'), coalesce(started_on, date('now')))
         WHERE patient_id = NEW.id AND ended_on IS NULL;
       INSERT INTO registry_sitestay (patient_id, site_id, started_on, ended_on) VALUES (NEW.id, NEW.site_id, date('now'), NULL);
       END""",
    """CREATE TRIGGER registry_refill_site AFTER INSERT ON registry_refill WHEN NEW.site_id IS NULL BEGIN
       UPDATE registry_refill SET site_id = (SELECT p.site_id FROM registry_pump pu
         JOIN registry_patient p ON p.id = pu.patient_id WHERE pu.id = NEW.pump_id) WHERE id = NEW.id;
       END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS registry_refill_site",
    "DROP TRIGGER IF EXISTS registry_patient_stay_move",
    "DROP TRIGGER IF EXISTS registry_patient_stay_insert",
]


def _stays_from_history(apps, schema_editor):
    """One open stay per patient; patients whose audit history shows a change of site get one per site."""
    db = schema_editor.connection.alias
    Patient = apps.get_model("registry", "Patient")
    SiteStay = apps.get_model("registry", "SiteStay")
    History = apps.get_model("registry", "HistoricalPatient")
    schema_editor.execute(
        "INSERT INTO registry_sitestay (patient_id, site_id, started_on, ended_on)"
        " SELECT id, site_id, NULL, NULL FROM registry_patient",
        params=None,
    )
    moved = (
        History.objects.using(db)
        .values("id")
        .annotate(sites=models.Count("site_id", distinct=True))
        .filter(sites__gt=1)
        .values_list("id", flat=True)
    )
    for patient_id in moved.iterator():
        stays, last_site = [], None
        for site_id, when in (
            History.objects.using(db).filter(id=patient_id).order_by("history_date").values_list("site_id", "history_date")
        ):
            if site_id == last_site:
                continue
            day = when.astimezone(dt.UTC).date()
            if stays:
                stays[-1].ended_on = max(day, stays[-1].started_on or day)
            stays.append(SiteStay(patient_id=patient_id, site_id=site_id, started_on=day if stays else None))
            last_site = site_id
        current = Patient.objects.using(db).filter(pk=patient_id).values_list("site_id", flat=True).first()
        if current is None or stays[-1].site_id != current:
            continue  # the history does not end at the current site: keep the single stay
        SiteStay.objects.using(db).filter(patient_id=patient_id).delete()
        SiteStay.objects.using(db).bulk_create(stays)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"no site-stay triggers written for the {vendor} database")
    _stays_from_history(apps, schema_editor)
    schema_editor.execute(POSTGRES_BACKFILL if vendor == "postgresql" else SQLITE_BACKFILL, params=None)
    for sql in POSTGRES if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0010_follow_up_site'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalrefill',
            name='site',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.site'),
        ),
        migrations.AddField(
            model_name='refill',
            name='site',
            field=models.ForeignKey(editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.site'),
        ),
        migrations.CreateModel(
            name='SiteStay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_on', models.DateField(blank=True, help_text='Empty: from before the first record.', null=True)),
                ('ended_on', models.DateField(blank=True, help_text="Empty: the patient's current site.", null=True)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stays', to='registry.patient')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.site')),
            ],
            options={
                'ordering': ['patient', models.OrderBy(models.F('started_on'), nulls_first=True), 'id'],
                'indexes': [models.Index(fields=['site', 'patient'], name='stay_site_patient_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('ended_on__isnull', True)), fields=('patient',), name='stay_one_open'), models.CheckConstraint(condition=models.Q(('started_on__isnull', True), ('ended_on__isnull', True), ('ended_on__gte', models.F('started_on')), _connector='OR'), name='stay_ends_after_start')],
            },
        ),
        migrations.RunPython(create, drop),
    ]
