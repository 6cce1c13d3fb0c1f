"""A new user's first session, as in README's "API" section: token, patient, pump, refill,
schedule read back, worklist shows the patient on the right date. JSON over plain HTTP only."""

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client

from tests.factories import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


class Curl:
    """What curl does: JSON in, JSON out, the token in a header."""

    def __init__(self):
        self.client, self.headers = Client(), {}

    def __call__(self, method: str, path: str, body: dict | None = None):
        response = getattr(self.client, method)(
            path, json.dumps(body) if body is not None else None, content_type="application/json", headers=self.headers
        )
        return response.status_code, response.json() if response.content else None


@time_machine.travel(dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC), tick=False)
def test_first_session(db):
    site = SiteFactory(name="Northern Children's", time_zone="Europe/London")
    UserFactory(username="nurse", password="itb-demo-2026", role="coordinator", role__sites=[site])
    curl = Curl()

    status, body = curl("post", "/api/v1/auth/token/", {"username": "nurse", "password": "itb-demo-2026"})
    assert status == 200
    curl.headers = {"Authorization": f"Token {body['token']}"}

    status, sites = curl("get", "/api/v1/sites/")
    assert [s["name"] for s in sites["results"]] == ["Northern Children's"]

    status, patient = curl(
        "post",
        "/api/v1/patients/",
        {"site": site.pk, "mrn": "NC-001", "given_name": "Ava", "family_name": "Jones", "date_of_birth": "2014-02-11"},
    )
    assert status == 201, patient
    pid = patient["id"]
    for to_status in ("evaluating", "screening", "candidate"):
        assert curl("post", f"/api/v1/patients/{pid}/status/", {"to_status": to_status})[0] == 200

    status, pump = curl(
        "post",
        "/api/v1/pumps/",
        {"patient": pid, "implant_date": "2025-06-02", "reservoir_volume_ml": "20", "alarm_volume_ml": "2"},
    )
    assert status == 201, pump

    status, refill = curl(
        "post",
        "/api/v1/refills/",
        {
            "pump": pump["id"],
            "performed_at": "2025-06-02T09:00:00+01:00",
            "volume_after_ml": "20",
            "concentration_mcg_per_ml": "500",
            "daily_dose_mcg": "100",
        },
    )
    assert status == 201, refill

    # 18 mL above the alarm volume at 0.2 mL/day: alarm on 2025-08-31 (day 90); due 7 days before,
    # 2025-08-24, a Sunday, moved earlier to Friday 2025-08-22 (closed weekends).
    status, patient = curl("get", f"/api/v1/patients/{pid}/")
    assert patient["status"] == "implanted"
    assert patient["schedule"] == {
        "next_refill_due": "2025-08-22",
        "alarm_date": "2025-08-31",
        "empty_date": "2025-09-10",
        "refill_status": "upcoming",
        "refill_due_basis": "alarm_margin",
        "schedule_attention": "",
        "alarm_date_disagrees": False,
        "last_refill_at": "2025-06-02T08:00:00Z",
        "battery_eri_date": "2032-06-02",
    }

    status, work = curl("get", "/api/v1/worklist/?start=2025-08-01&end=2025-08-31&kind=refill")
    assert status == 200
    assert [(w["patient"], w["due_date"], w["status"]) for w in work["results"]] == [(pid, "2025-08-22", "upcoming")]
    assert curl("get", "/api/v1/worklist/?start=2025-06-02&end=2025-08-21&kind=refill")[1]["results"] == []
