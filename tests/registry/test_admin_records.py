"""The admin reads clinical records and their history; it writes them only through services (actions),
so the stored schedule never disagrees with the records. Sites and users stay editable."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from registry import services
from registry.models import FollowUp, Patient, Pump, Refill, Site
from tests.factories import at, make_implanted, make_patient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def refill(pump, day, volume="40"):
    return services.record_refill(
        pump=pump,
        performed_at=at(day),
        volume_after_ml=D(volume),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )


@pytest.fixture
def records(site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site)
        refill(pump, dt.date(2025, 9, 1))
        latest = refill(pump, dt.date(2026, 1, 5), volume="20")
        change = services.record_dose_change(
            pump=pump, effective_at=at(dt.date(2026, 1, 5), 11), daily_dose_mcg=D("300")
        )
        visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2026, 2, 3))
        problem = services.record_complication(
            patient=patient, pump=pump, occurred_on=dt.date(2025, 9, 2), kind="wound"
        )
        patient.refresh_from_db()
        yield {
            "patient": patient,
            "pump": pump,
            "refill": latest,
            "dosechange": change,
            "followup": visit,
            "complication": problem,
        }


@pytest.mark.parametrize("name", ["patient", "pump", "refill", "dosechange", "followup", "complication"])
def test_clinical_records_are_read_with_their_history_never_written(client, admin_user, records, name):
    obj = records[name]
    client.force_login(admin_user)
    change = client.get(reverse(f"admin:registry_{name}_change", args=[obj.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert client.get(reverse(f"admin:registry_{name}_history", args=[obj.pk])).status_code == 200
    assert client.get(reverse(f"admin:registry_{name}_add")).status_code == 403
    assert client.post(reverse(f"admin:registry_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_deleting_the_latest_refill_is_refused_and_the_schedule_stays_on_it(client, admin_user, records):
    patient, latest = records["patient"], records["refill"]
    client.force_login(admin_user)
    response = client.post(reverse("admin:registry_refill_delete", args=[latest.pk]), {"post": "yes"})
    assert response.status_code == 403
    changelist = reverse("admin:registry_refill_changelist")
    bulk = client.post(changelist, {"action": "delete_selected", "_selected_action": [latest.pk], "post": "yes"})
    assert Refill.objects.filter(pk=latest.pk).exists(), bulk.status_code
    stored = Patient.objects.get(pk=patient.pk)
    assert stored.last_refill_at == latest.performed_at
    assert stored.next_refill_due == services.recompute_schedule(stored)["next_refill_due"]


def test_an_edit_or_a_revert_through_the_history_is_refused(client, admin_user, records):
    latest = records["refill"]
    client.force_login(admin_user)
    local = latest.performed_at.astimezone(latest.site.zone)
    data = {
        "pump": latest.pump_id,
        "performed_at_0": local.date().isoformat(),
        "performed_at_1": local.strftime("%H:%M:%S"),
        "volume_removed_ml": "0",
        "volume_after_ml": "2",
        "concentration_mcg_per_ml": "2000",
        "daily_dose_mcg": "0.5",
        "notes": "",
    }
    assert client.post(reverse("admin:registry_refill_change", args=[latest.pk]), data).status_code == 403
    version = latest.history.earliest().history_id
    revert = reverse("admin:registry_refill_simple_history", args=[latest.pk, version])
    assert client.post(revert, data).status_code == 403
    latest.refresh_from_db()
    assert latest.volume_after_ml == D("20") and latest.daily_dose_mcg == D("400")


def test_a_pump_cannot_be_added_inline_to_a_candidate(client, admin_user, site):
    patient = make_patient(site, status="candidate", status_on=dt.date(2025, 6, 1))
    client.force_login(admin_user)
    page = client.get(reverse("admin:registry_patient_change", args=[patient.pk])).content.decode()
    assert "pumps-empty" not in page
    response = client.post(
        reverse("admin:registry_patient_change", args=[patient.pk]),
        {
            "pumps-TOTAL_FORMS": "1",
            "pumps-INITIAL_FORMS": "0",
            "pumps-0-implant_date": "2025-06-02",
            "pumps-0-reservoir_volume_ml": "40",
            "pumps-0-alarm_volume_ml": "2",
        },
    )
    assert response.status_code == 403 and not Pump.objects.exists()


def test_a_date_of_birth_cannot_be_moved_past_the_implant_in_the_admin(client, admin_user, records):
    patient = records["patient"]
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:registry_patient_change", args=[patient.pk]),
        {"date_of_birth": "2025-12-01", "referred_on": "2025-12-01", "mrn": patient.mrn},
    )
    assert response.status_code == 403
    assert Patient.objects.get(pk=patient.pk).date_of_birth == dt.date(2010, 3, 1)


def test_follow_ups_are_cancelled_through_the_service_as_an_action(client, admin_user, records):
    patient, open_visit = records["patient"], records["followup"]
    with time_machine.travel(NOW, tick=False):
        done = services.schedule_follow_up(patient=patient, kind="titration", due_date=dt.date(2026, 1, 6))
        services.complete_follow_up(follow_up=done, completed_on=dt.date(2026, 1, 5))
        client.force_login(admin_user)
        response = client.post(
            reverse("admin:registry_followup_changelist"),
            {"action": "cancel_follow_ups", "_selected_action": [open_visit.pk, done.pk]},
            follow=True,
        )
    html = response.content.decode()
    assert "1 follow-up cancelled" in html and "A completed follow-up cannot be cancelled" in html
    assert FollowUp.objects.get(pk=open_visit.pk).status == "cancelled"
    assert FollowUp.objects.get(pk=done.pk).status == "completed"


def test_sites_stay_editable_and_their_dose_bounds_are_checked(client, admin_user, site):
    client.force_login(admin_user)
    page = client.get(reverse("admin:registry_site_change", args=[site.pk]))
    assert 'name="dose_confirm_below_mcg"' in page.content.decode()
    data = {
        "name": site.name,
        "time_zone": "Europe/London",
        "safety_margin_days": "7",
        "max_refill_interval_days": "180",
        "refill_lead_days": "[14, 7, 2, 0]",
        "follow_up_lead_days": "[7, 1]",
        "follow_up_grace_days": "7",
        "battery_lead_days": "[180, 90]",
        "battery_life_years": "7",
        "closed_weekdays": "[5, 6]",
        "default_alarm_volume_ml": "2",
        "residual_tolerance_ml": "2",
        "alarm_disagreement_days": "1",
        "concentration_confirm_min": "50",
        "concentration_confirm_max": "2000",
        "dose_confirm_above_mcg": "1500",
        "dose_confirm_below_mcg": "1600",
        "date_order": "dmy",
        "closed_days-TOTAL_FORMS": "0",
        "closed_days-INITIAL_FORMS": "0",
    }
    url = reverse("admin:registry_site_change", args=[site.pk])
    refused = client.post(url, data)
    assert refused.status_code == 200 and "must be below the upper one" in refused.content.decode()
    assert client.post(url, {**data, "dose_confirm_below_mcg": "10"}).status_code == 302
    assert Site.objects.get(pk=site.pk).dose_confirm_below_mcg == D("10")
