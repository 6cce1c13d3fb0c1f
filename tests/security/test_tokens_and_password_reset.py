"""API tokens (DRF's authtoken wrapped by accounts/tokens.py): they expire, and a password change or
a deactivation revokes them. A forgotten password is reset by an e-mailed link."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.security.conftest import token_client

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery staple"


def _obtain(username="coord", password=RIGHT):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_a_token_expires_after_its_lifetime_and_the_endpoint_issues_a_new_one(coordinator, settings):
    settings.API_TOKEN_LIFETIME_HOURS = 12
    first = _obtain().json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.get("/api/v1/patients/").status_code == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=12, minutes=1)):
        expired = client.get("/api/v1/patients/")
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]
        second = _obtain().json()["token"]
        assert second != first
        client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
        assert client.get("/api/v1/patients/").status_code == 200


def test_the_same_token_is_returned_while_it_is_valid(coordinator):
    assert _obtain().json()["token"] == _obtain().json()["token"]


def test_a_password_change_revokes_the_token(coordinator):
    client = token_client(coordinator)
    assert client.get("/api/v1/patients/").status_code == 200
    coordinator.set_password("a new and different passphrase")
    coordinator.save()
    assert client.get("/api/v1/patients/").status_code == 401
    assert not Token.objects.filter(user=coordinator).exists()


def test_deactivating_the_account_revokes_the_token(coordinator):
    client = token_client(coordinator)
    coordinator.is_active = False
    coordinator.save()
    assert not Token.objects.filter(user=coordinator).exists()
    assert client.get("/api/v1/patients/").status_code == 401


def test_logging_in_or_editing_the_name_keeps_the_token(client, coordinator):
    api = token_client(coordinator)
    client.post("/accounts/login/", {"username": "coord", "password": RIGHT})
    coordinator.first_name = "Renamed"
    coordinator.save()
    assert api.get("/api/v1/patients/").status_code == 200


def test_a_forgotten_password_is_reset_by_an_emailed_link(client, coordinator, settings):
    settings.SITE_URL = "https://itb.example.org"
    settings.ALLOWED_HOSTS = ["testserver", "evil.test"]  # even a Host the app answers does not make the link
    api = token_client(coordinator)
    assert 'href="/accounts/password-reset/"' in client.get("/accounts/login/").content.decode()
    sent = client.post("/accounts/password-reset/", {"email": "coord@clinic.test"}, HTTP_HOST="evil.test")
    assert sent.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["coord@clinic.test"] and "reset" in message.subject.lower()
    link = re.search(r"https://itb\.example\.org(/accounts/password-reset/\S+/)", message.body).group(1)
    assert "evil.test" not in message.body
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase 42", "new_password2": "a brand new passphrase 42"},
    )
    assert done.status_code == 302
    assert api.get("/api/v1/patients/").status_code == 401  # the old token went with the old password
    assert (
        client.post("/accounts/login/", {"username": "coord", "password": "a brand new passphrase 42"}).status_code
        == 302
    )
    # The link works once.
    assert "no longer works" in client.get(link, follow=True).content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, coordinator):
    response = client.post("/accounts/password-reset/", {"email": "stranger@example.org"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []
