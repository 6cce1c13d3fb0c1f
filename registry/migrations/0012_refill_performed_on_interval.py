"""Each refill's local date and interval stored (the reports count them); earlier rows filled here."""

import zoneinfo

from django.conf import settings
from django.db import migrations, models

# Each refill's local date in the zone of the site where it was done, and the days since the
# patient's previous refill when that one was on the same pump or on the pump this one replaced.
FILL_POSTGRESQL = """
UPDATE registry_refill r
   SET performed_on = x.day,
       interval_days = CASE WHEN x.prev_pump = x.pump_id OR x.prev_pump = x.replaces_id THEN x.day - x.prev_day END
  FROM (SELECT r.id, r.pump_id, pu.replaces_id, (r.performed_at AT TIME ZONE s.time_zone)::date AS day,
               lag((r.performed_at AT TIME ZONE s.time_zone)::date) OVER w AS prev_day,
               lag(r.pump_id) OVER w AS prev_pump
          FROM registry_refill r JOIN registry_pump pu ON pu.id = r.pump_id
          JOIN registry_site s ON s.id = r.site_id
        WINDOW w AS (PARTITION BY pu.patient_id ORDER BY r.performed_at, r.id)) x
 WHERE x.id = r.id
"""


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FILL_POSTGRESQL)
        return
    Refill = apps.get_model("registry", "Refill")
    rows = Refill.objects.select_related("pump", "site", "pump__patient__site").order_by(
        "pump__patient_id", "performed_at", "id"
    )
    previous, changed = None, []
    for refill in rows.iterator(chunk_size=2000):
        refill.performed_on = refill.performed_at.astimezone(
            zoneinfo.ZoneInfo(refill.pump.patient.site.time_zone)
        ).date()
        same_patient = previous is not None and previous.pump.patient_id == refill.pump.patient_id
        chained = same_patient and previous.pump_id in (refill.pump_id, refill.pump.replaces_id)
        refill.interval_days = (refill.performed_on - previous.performed_on).days if chained else None
        changed.append(refill)
        previous = refill
    Refill.objects.bulk_update(changed, ["performed_on", "interval_days"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0011_site_stays"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalrefill",
            name="interval_days",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefill",
            name="performed_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="refill",
            name="interval_days",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="refill",
            name="performed_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="refill",
            index=models.Index(
                fields=["performed_on"], include=("site", "timeliness", "interval_days"), name="refill_performed_on_idx"
            ),
        ),
    ]
