"""The admin a coordinator uses on day one: search, filters, inlines, history (writes: test_admin_records.py)."""

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from registry.models import Patient
from tests.factories import at, make_implanted

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


@time_machine.travel(NOW, tick=False)
def test_search_filters_inlines_and_history(client, admin_user, site):
    from registry import services

    patient, pump = make_implanted(site, mrn="RCH777", family_name="Okafor")
    services.record_refill(
        pump=pump,
        performed_at=at(dt.date(2026, 1, 5)),
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
        by=admin_user,
    )
    client.force_login(admin_user)
    changelist = reverse("admin:registry_patient_changelist")
    assert "RCH777" in client.get(changelist, {"q": "RCH777"}).content.decode()
    assert "RCH777" in client.get(changelist, {"q": "okafor"}).content.decode()
    assert "RCH777" not in client.get(changelist, {"q": "nobody"}).content.decode()
    page = client.get(changelist, {"site__id__exact": site.pk, "status__exact": "implanted"})
    assert page.status_code == 200 and "RCH777" in page.content.decode()
    change = client.get(reverse("admin:registry_patient_change", args=[patient.pk]))
    assert change.status_code == 200
    body = change.content.decode()
    assert "Pumps" in body and "Goals" in body and "Indications" in body
    pump_page = client.get(reverse("admin:registry_pump_change", args=[pump.pk])).content.decode()
    assert "Refills" in pump_page
    history = client.get(reverse("admin:registry_refill_history", args=[pump.refills.get().pk]))
    assert history.status_code == 200 and admin_user.username in history.content.decode()


def test_admin_requires_login(client):
    response = client.get(reverse("admin:registry_patient_changelist"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_seed_demo_is_deterministic_and_safe_to_run_twice(db):
    call_command("seed_demo")
    first = sorted(Patient.objects.values_list("mrn", "given_name", "status", "next_refill_due"))
    call_command("seed_demo")
    assert sorted(Patient.objects.values_list("mrn", "given_name", "status", "next_refill_due")) == first
    assert len(first) >= 60
    statuses = {s for _, _, s, _ in first}
    assert statuses == {c for c, _ in Patient._meta.get_field("status").choices}
    from registry.selectors import with_refill_status

    refill_statuses = [p.refill_status for p in with_refill_status(Patient.objects.all())]
    assert refill_statuses.count("critical") == 1
    assert refill_statuses.count("overdue") >= 3 and refill_statuses.count("due") >= 3


def test_production_settings_pass_check_deploy(tmp_path):
    env = dict(
        os.environ,
        DEBUG="false",
        SECRET_KEY="x" * 20 + "-production-secret-key-" + "y" * 30,
        ALLOWED_HOSTS="itb.example.org",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
