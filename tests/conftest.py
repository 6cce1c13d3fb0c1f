import os
import socket
from urllib.parse import urlparse

import pytest

from tests.factories import SiteFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("CI") in {"1", "true"}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, env_var: str, default_port: int) -> str:
    """The service's URL; under CI a missing or unreachable service fails the test, never skips it."""
    url = os.environ.get(env_var, "")
    if url and _reachable(url, default_port):
        return url
    reason = f"{name} is not reachable ({env_var}={url or 'unset'})"
    if REQUIRE_SERVICES:
        pytest.fail(reason + "; under CI every service-backed test must run", pytrace=False)
    pytest.skip(reason + "; set it, or run bash .ci/run")


@pytest.fixture
def redis_url():
    return require_service("Redis", "REDIS_URL", 6379)


@pytest.fixture
def postgres(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        msg = "this test needs PostgreSQL (DATABASE_URL=postgres://...)"
        if REQUIRE_SERVICES:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@pytest.fixture
def site(db):
    return SiteFactory()


@pytest.fixture
def other_site(db):
    return SiteFactory(name="Other clinic", time_zone="America/New_York")


@pytest.fixture
def coordinator(site):
    return UserFactory(username="coord", role="coordinator", role__sites=[site])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, role="administrator")


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Each test starts with no cached pages: its rolled-back data may reuse a data version."""
    from api.caching import forget_pages

    forget_pages()


@pytest.fixture(autouse=True)
def _second_factor_with_force_login(monkeypatch):
    """``force_login`` as someone who needs two factors also passes the second one, as if they had
    typed their authenticator's code. Only force_login: a log-in through the real form still
    meets the check, which tests/security/test_two_factor.py walks."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.two_factor import REQUIRED_KEY

    login = Client.force_login

    def force_login(self, user, backend=None):
        login(self, user, backend)
        session = self.session
        if session.get(REQUIRED_KEY):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            device = device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)
