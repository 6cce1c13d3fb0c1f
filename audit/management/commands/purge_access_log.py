"""``manage.py purge_access_log``: delete access-log rows older than ACCESS_LOG_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from audit.models import PatientAccess


class Command(BaseCommand):
    help = "Delete access-log rows older than ACCESS_LOG_RETENTION_DAYS (the only way rows leave the log)."

    def handle(self, *args, **options):
        count = PatientAccess.objects.purge()
        self.stdout.write(f"{count} access-log rows older than {settings.ACCESS_LOG_RETENTION_DAYS} days deleted.")
