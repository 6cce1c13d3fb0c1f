"""The Celery app: every ``CELERY_*`` Django setting configures it (config/settings.py).

Workers start with ``celery -A tasks worker``; beat uses django-celery-beat's database scheduler,
so staff change the periodic schedule in the admin ("Periodic tasks").
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("itb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tasks", "fhir_api"])
