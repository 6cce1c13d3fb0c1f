"""The hourly clean-up of expired bulk exports, stored in django-celery-beat's tables (editable in the admin)."""

from django.db import migrations


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name="FHIR bulk exports: delete files past their retention",
        defaults={"task": "fhir.expire_exports", "interval": hourly},
    )


def drop(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task="fhir.expire_exports").delete()


class Migration(migrations.Migration):
    dependencies = [("fhir_api", "0001_bulk_export"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(create, drop)]
