"""The reminder sweep every 5 minutes, stored in django-celery-beat's tables so staff can change it."""

from django.db import migrations


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Reminder sweep (find what is due, deliver it)",
        defaults={"task": "reminders.sweep", "interval": every_5_minutes},
    )


def drop(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task="reminders.sweep").delete()


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_periodic_tasks")]
    operations = [migrations.RunPython(create, drop)]
