"""Fixtures of the security tests: fast password hashing, fresh throttle counters, a reminder maker."""

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.caching import forget_keys
from registry.models import Reminder


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    forget_keys("throttle_*")
    yield
    forget_keys("throttle_*")


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def make_reminder(patient, *, user=None, channel=Reminder.Channel.INBOX, status=Reminder.Status.SENT, recipient=None):
    return Reminder.objects.create(
        kind=Reminder.Kind.REFILL_DUE,
        patient=patient,
        site=patient.site,
        target_type="pump",
        target_id=patient.pk,
        due_date=dt.date(2026, 12, 8),
        lead_days=7,
        recipient=recipient or (f"user:{user.pk}" if user else "someone@clinic.test"),
        recipient_user=user if channel == Reminder.Channel.INBOX else None,
        channel=channel,
        status=status,
    )
