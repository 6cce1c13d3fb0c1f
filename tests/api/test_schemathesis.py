"""Property-based fuzzing of the whole OpenAPI document.

Schemathesis generates requests from ``/api/v1/schema/`` for every operation and sends them to the
Django WSGI app with an administrator's token and a coordinator's token, in a database holding two
sites' worth of records. Every response must not be a server error and must match the documented
status codes, content types and schemas. Half the cases that name a record point at one that
exists (a random id would only ever find 404s), the coordinator's included ones of another site.
"""

import contextlib
import datetime as dt
import json
import os
import random
import time
from decimal import Decimal

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from registry import models, services
from tests.factories import SiteFactory, UserFactory, at, make_implanted, make_patient


class Timings:
    """Cases sent and seconds spent, for the summary line printed after the module."""

    def __init__(self):
        self.cases: dict[str, int] = {}
        self.seconds = 0.0

    @contextlib.contextmanager
    def measure(self, label: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
            self.cases[label] = self.cases.get(label, 0) + 1


TIMINGS = Timings()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Fuzzed examples per operation, on top of schemathesis' deterministic coverage phase (boundary
# and invalid values of every parameter). Sized to keep the module a modest share of CI;
# API_FUZZ_SCALE=5 (for instance) runs a deeper, slower search.
SCALE = int(os.environ.get("API_FUZZ_SCALE", "1"))
READ_EXAMPLES = 60 * SCALE
WRITE_EXAMPLES = 30 * SCALE


def _raw_schema() -> dict:
    """The same document ``/api/v1/schema/`` serves, built without a request."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


schema = schemathesis.openapi.from_dict(_raw_schema())
schema.app = get_wsgi_application()

RESOURCE_MODELS = {
    "sites": models.Site,
    "patients": models.Patient,
    "indications": models.Indication,
    "screening-trials": models.ScreeningTrial,
    "pumps": models.Pump,
    "refills": models.Refill,
    "dose-changes": models.DoseChange,
    "follow-ups": models.FollowUp,
    "goals": models.Goal,
    "goal-reviews": models.GoalReview,
    "complications": models.Complication,
    "reminders": models.Reminder,
}


def _records_of(site, *, family_name: str) -> None:
    patient, pump = make_implanted(site, implant_date=dt.date(2025, 6, 2), family_name=family_name)
    refill = services.record_refill(
        pump=pump,
        performed_at=at(dt.date(2025, 6, 2), 11, tz=site.time_zone),
        volume_after_ml=Decimal("20"),
        concentration_mcg_per_ml=Decimal("500"),
        daily_dose_mcg=Decimal("100"),
    )
    services.record_dose_change(pump=pump, effective_at=at(dt.date(2025, 6, 20), tz=site.time_zone), daily_dose_mcg=120)
    services.add_indication(patient=patient, diagnosis="cerebral_palsy", gmfcs_level=4)
    services.record_screening_trial(
        patient=patient, performed_on=dt.date(2025, 4, 1), test_dose_mcg=50, response="positive"
    )
    services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2025, 9, 1))
    goal = services.set_goal(
        patient=patient, category="comfort", description="Sits comfortably", set_on=dt.date(2025, 5, 1)
    )
    services.review_goal(goal=goal, reviewed_on=dt.date(2025, 8, 1), score=0)
    services.record_complication(patient=patient, occurred_on=dt.date(2025, 7, 1), kind="wound", pump=pump)
    models.Reminder.objects.create(
        kind="refill_due",
        patient=patient,
        site=site,
        target_type="refill",
        target_id=refill.pk,
        due_date=dt.date(2025, 8, 22),
        lead_days=7,
        recipient="nurse@clinic.test",
        channel="email",
        status="sent",
    )
    make_patient(site, status="candidate", family_name=family_name + "-candidate")


@pytest.fixture
def _keep_the_test_connection():
    """Serve requests through the real WSGI handler without closing the test's DB connection.

    Django closes "old" connections at each request's start and end; inside the test transaction
    that would close the connection (PostgreSQL) and lose the test's data. Django's own test
    client disconnects the same handlers for the same reason.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, _keep_the_test_connection):
    """Two sites of records, and the tokens of an administrator and of the first site's coordinator."""
    home, other = SiteFactory(), SiteFactory(time_zone="America/New_York")
    _records_of(home, family_name="Home")
    _records_of(other, family_name="Other")
    admin = UserFactory(is_superuser=True, is_staff=True, role="administrator")
    coordinator = UserFactory(role="coordinator", role__sites=[home])
    ids = {name: list(model.objects.values_list("pk", flat=True)) for name, model in RESOURCE_MODELS.items()}
    tokens = [Token.objects.create(user=u).key for u in (admin, coordinator)]
    return ids, tokens


def _point_at_existing(case, ids: dict) -> random.Random:
    """Deterministically (per generated case) replace half the random ids by existing ones."""
    rng = random.Random(repr((case.body, case.query, case.path_parameters, case.operation.label)))
    if case.path_parameters and "id" in case.path_parameters:
        resource = case.path.split("/")[3]
        if ids.get(resource) and rng.random() < 0.5:
            case.path_parameters["id"] = rng.choice(ids[resource])
    return rng


def _call_as_either_role(case, world) -> None:
    """Each case goes out with the administrator's or the coordinator's token (half each)."""
    ids, tokens = world
    rng = _point_at_existing(case, ids)
    token = tokens[rng.random() < 0.5]
    with TIMINGS.measure(case.operation.label):
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(hypothesis.HealthCheck),
}


@schema.include(method="GET").parametrize()
@hypothesis.settings(max_examples=READ_EXAMPLES, **SETTINGS)
def test_reads_conform_to_the_schema(case, world):
    _call_as_either_role(case, world)


@schema.exclude(method="GET").parametrize()
@hypothesis.settings(max_examples=WRITE_EXAMPLES, **SETTINGS)
def test_writes_conform_to_the_schema(case, world):
    _call_as_either_role(case, world)
