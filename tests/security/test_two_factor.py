"""Two-factor authentication (django-otp, TOTP with recovery codes): required for administrators on
the dashboard, the admin and the token endpoint; optional, or required per site, for other staff."""

import datetime as dt
import re

import pytest
import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from registry.models import Site
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery staple"


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def later(seconds=5):
    """After django-otp's throttle delay that follows a wrong code (1 s, doubling)."""
    return time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))


def _log_in(client, username, url="/accounts/login/"):
    return client.post(url, {"username": username, "password": RIGHT})


def test_an_administrator_without_an_authenticator_is_sent_to_set_one_up_and_gets_recovery_codes(client, admin_user):
    _log_in(client, "root")
    page = client.get("/", follow=True)
    assert page.redirect_chain[-1][0].startswith("/accounts/two-factor/setup/")
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html  # the QR code
    assert client.get("/patients/").status_code == 302  # nothing else until it is set up
    assert client.get("/api/v1/patients/").status_code == 403
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    wrong = client.post("/accounts/two-factor/setup/", {"code": "000000", "next": "/patients/"})
    assert "not right" in wrong.content.decode()
    with later():
        done = client.post("/accounts/two-factor/setup/", {"code": code_of(device), "next": "/patients/"})
    codes = re.findall(r"<li><code>([^<]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert StaticToken.objects.filter(device__user=admin_user).count() == 10
    assert client.get("/patients/").status_code == 200


def test_an_administrator_logs_in_with_the_code_of_the_app(client, admin_user):
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    _log_in(client, "root")
    page = client.get("/patients/", follow=True)
    assert page.redirect_chain[-1][0] == "/accounts/two-factor/?next=%2Fpatients%2F"
    assert client.get("/admin/").status_code == 302
    wrong = client.post("/accounts/two-factor/", {"code": "123456", "next": "/patients/"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    with later():
        ok = client.post("/accounts/two-factor/", {"code": code_of(device), "next": "/patients/"})
    assert ok.status_code == 302 and ok["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_needs_the_second_factor_too(client, admin_user):
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    _log_in(client, "root", url="/admin/login/")
    response = client.get("/admin/registry/patient/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/")


def test_a_recovery_code_works_once(client, admin_user):
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    from accounts.two_factor import new_recovery_codes

    codes = new_recovery_codes(admin_user)
    _log_in(client, "root")
    assert client.post("/accounts/two-factor/", {"code": codes[0]}).status_code == 302
    client.logout()
    _log_in(client, "root")
    again = client.post("/accounts/two-factor/", {"code": codes[0]})
    assert again.status_code == 200 and "used already" in again.content.decode()


def test_someone_with_only_the_password_cannot_replace_the_authenticator(client, admin_user):
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    _log_in(client, "root")
    response = client.get("/accounts/two-factor/setup/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/?")


def test_the_token_endpoint_asks_an_administrator_for_the_code(admin_user):
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    api = APIClient()
    without = api.post("/api/v1/auth/token/", {"username": "root", "password": RIGHT}, format="json")
    assert without.status_code == 400 and "authenticator" in without.json()["otp"][0]
    with_code = api.post(
        "/api/v1/auth/token/", {"username": "root", "password": RIGHT, "otp": code_of(device)}, format="json"
    )
    assert with_code.status_code == 200 and with_code.json()["token"]


def test_a_coordinator_needs_no_second_factor_unless_their_site_asks(client, site, coordinator):
    _log_in(client, "coord")
    assert client.get("/patients/").status_code == 200
    client.logout()
    Site.objects.filter(pk=site.pk).update(require_two_factor=True)
    _log_in(client, "coord")
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/setup/")


def test_a_site_that_starts_requiring_it_applies_on_the_next_request_not_the_next_log_in(client, site, coordinator):
    _log_in(client, "coord")
    assert client.get("/patients/").status_code == 200
    site.require_two_factor = True
    site.save()
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/setup/")
    assert client.get("/api/v1/patients/").status_code == 403
    site.require_two_factor = False
    site.save()
    assert client.get("/patients/").status_code == 200


def test_a_session_pays_no_query_for_the_rule_while_the_settings_stay(client, site, coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _log_in(client, "coord")
    client.get("/patients/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/patients/")
    assert not [q for q in queries.captured_queries if "require_two_factor" in q["sql"]]


def test_a_coordinator_may_turn_it_on_for_themselves(client, site):
    UserFactory(username="keen", role="coordinator", role__sites=[site])
    _log_in(client, "keen")
    assert client.get("/accounts/two-factor/setup/").status_code == 200


def test_the_authenticator_throttles_guessing(client, admin_user):
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    _log_in(client, "root")
    client.post("/accounts/two-factor/", {"code": "000000"})
    device = TOTPDevice.objects.get(user=admin_user)
    assert device.throttling_failure_count == 1
    # Even the right code is refused while the device is throttled (1 s, doubling with each failure).
    assert client.post("/accounts/two-factor/", {"code": code_of(device)}).status_code == 200
    with later():
        client.post("/accounts/two-factor/", {"code": "000001"})
    assert TOTPDevice.objects.get(user=admin_user).throttling_failure_count == 2
