"""Fixtures of the API tests: one user per role, each with a token client, and two sites."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.caching import forget_keys
from registry import services
from tests.factories import UserFactory, at, make_implanted, make_patient


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Throttle counters live in the cache; fresh counters per test keep the token tests exact.

    Only the throttle's keys go: a whole-cache clear would empty other test workers' pages too.
    """

    forget_keys("throttle_*")
    yield
    forget_keys("throttle_*")


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def clinician(site):
    return UserFactory(username="doc", role="clinician", role__sites=[site])


@pytest.fixture
def reporter(site):
    return UserFactory(username="stats", role="reporting", role__sites=[site])


@pytest.fixture
def nobody(db):
    """Logged in, but with no staff profile: no role in the registry."""
    return UserFactory(username="nobody")


@pytest.fixture
def api(coordinator):
    return token_client(coordinator)


@pytest.fixture
def admin_api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def implanted(site):
    """An implanted patient at ``site`` with one refill: a full schedule to read back."""
    patient, pump = make_implanted(site, implant_date=dt.date(2025, 6, 2))
    refill = services.record_refill(
        pump=pump,
        performed_at=at(dt.date(2025, 6, 2), 11),
        volume_after_ml=Decimal("20"),
        concentration_mcg_per_ml=Decimal("500"),
        daily_dose_mcg=Decimal("100"),
    )
    patient.refresh_from_db()
    return patient, pump, refill


@pytest.fixture
def elsewhere(other_site):
    """The same kinds of records at a site the coordinator does not work for."""
    patient, pump = make_implanted(other_site, implant_date=dt.date(2025, 6, 2), family_name="Elsewhere")
    refill = services.record_refill(
        pump=pump,
        performed_at=at(dt.date(2025, 6, 3), 11, tz="America/New_York"),
        volume_after_ml=Decimal("20"),
        concentration_mcg_per_ml=Decimal("500"),
        daily_dose_mcg=Decimal("100"),
    )
    patient.refresh_from_db()
    return patient, pump, refill


__all__ = ["make_patient", "token_client"]


def pytest_terminal_summary(terminalreporter):
    """After a run that fuzzed the API, say how many cases went out and how long they took."""
    import sys

    module = sys.modules.get("tests.api.test_schemathesis")
    timings = getattr(module, "TIMINGS", None)
    if timings and timings.cases:
        counts = timings.cases.values()
        terminalreporter.write_line(
            f"schemathesis: {sum(counts)} cases over {len(counts)} operations "
            f"(min {min(counts)}, max {max(counts)} per operation), {timings.seconds:.1f}s inside requests"
        )
