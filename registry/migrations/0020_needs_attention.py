"""A schedule that cannot be projected needs attention: its reason, and the patients it applies to now.

The column is added with plain ``ADD COLUMN``: on SQLite, Django would rebuild the patient table,
which drops the triggers on it (status guard, site stays, data version). Implanted patients whose
active pump has no refill yet had no due date and were missing from the worklist: they get the
needs-attention schedule ``recompute_schedule`` now stores (the pump's implant date, the reason).
"""

from django.db import migrations, models

REASON = "No fill recorded for the pump implanted {:%d %b %Y}: record its first fill"


def flag_pumps_without_fill(apps, schema_editor):
    Patient = apps.get_model("registry", "Patient")
    Pump = apps.get_model("registry", "Pump")
    Refill = apps.get_model("registry", "Refill")
    pumps = Pump.objects.filter(explant_date__isnull=True, patient__status="implanted").exclude(
        pk__in=Refill.objects.filter(entered_in_error=False).values("pump_id")
    )
    for pump in pumps.iterator():
        Patient.objects.filter(pk=pump.patient_id).update(
            next_refill_due=pump.implant_date,
            refill_due_basis="needs_attention",
            schedule_attention=REASON.format(pump.implant_date),
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0019_site_dose_confirm_below")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE registry_patient ADD COLUMN schedule_attention varchar(200) NOT NULL DEFAULT ''",
                    "ALTER TABLE registry_patient DROP COLUMN schedule_attention",
                )
            ],
            state_operations=[
                migrations.AddField(
                    model_name="patient",
                    name="schedule_attention",
                    field=models.CharField(blank=True, editable=False, max_length=200),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="patient",
            name="refill_due_basis",
            field=models.CharField(
                blank=True,
                choices=[
                    ("alarm_margin", "Alarm date minus safety margin"),
                    ("max_interval", "Maximum refill interval"),
                    ("manual", "Set manually"),
                    ("needs_attention", "No projection: needs attention"),
                ],
                editable=False,
                max_length=20,
            ),
        ),
        migrations.RunPython(flag_pumps_without_fill, migrations.RunPython.noop),
    ]
