"""The Celery wiring end to end: a real worker on Redis, writing to the test PostgreSQL database."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.cache import cache

from registry import services
from registry.models import Patient, Site
from tasks.tasks import refresh_schedules
from tests.factories import at, make_implanted

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_recomputes_schedules_after_a_settings_change(site, celery_worker_process):
    with time_machine.travel(dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC), tick=False):
        patient, pump = make_implanted(site)
        services.record_refill(
            pump=pump,
            performed_at=at(dt.date(2026, 1, 5)),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("2000"),
            daily_dose_mcg=D("400"),
        )
    patient.refresh_from_db()
    assert patient.next_refill_due == dt.date(2026, 7, 3)
    # A settings change written around the services: only the worker's recompute can catch it.
    Site.objects.filter(pk=site.pk).update(max_refill_interval_days=365, safety_margin_days=14)
    result = refresh_schedules.delay()
    assert result.get(timeout=60) >= 1
    assert Patient.objects.get(pk=patient.pk).next_refill_due == dt.date(2026, 6, 30)  # 07-14 - 14, a Tuesday


def test_cache_is_the_real_redis(redis_url, settings):
    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"  # a shared cache only
    cache.set("itb-probe", "ok", 10)
    assert cache.get("itb-probe") == "ok"
