"""The nightly access-log purge, stored in django-celery-beat's tables so staff can change it."""

from django.db import migrations


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name="Purge the access log past its retention (nightly)",
        defaults={"task": "audit.purge_access_log", "crontab": nightly},
    )


def drop(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task="audit.purge_access_log").delete()


class Migration(migrations.Migration):
    dependencies = [("tasks", "0002_reminder_sweep")]
    operations = [migrations.RunPython(create, drop)]
