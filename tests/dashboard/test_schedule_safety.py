"""Scheduling and worklist safety rules, through the dashboard (docs/hazard-log.md names each one)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _post(client, name, patient, data):
    response = client.post(reverse(name, args=[patient.pk]), data)
    assert response.status_code == 302, response.content.decode()


@pytest.fixture
def same_minute(client, coordinator, program):
    """A refill at 09:30 and, in the same minute, the dose doubled (both through the dashboard)."""
    patient = program["overdue"]
    client.force_login(coordinator)
    refill = {
        "performed_at": "2026-03-10T09:30",
        "volume_removed_ml": "1",
        "volume_after_ml": "40",
        "concentration_mcg_per_ml": "2000",
        "daily_dose_mcg": "400",
        "action": "save",
    }
    _post(client, "refill_create", patient, refill)
    _post(client, "dose_change_create", patient, {"effective_at": "2026-03-10T09:30", "daily_dose_mcg": "800"})
    patient.refresh_from_db()
    return patient


def test_the_due_date_follows_a_dose_change_in_the_refills_minute(same_minute):
    # 38 mL above the alarm volume at 0.4 mL/day: 95 days, Sat 13 Jun; due 7 days before, moved
    # off the weekend to Fri 5 Jun.
    assert (same_minute.alarm_date, same_minute.next_refill_due) == (dt.date(2026, 6, 13), dt.date(2026, 6, 5))


def test_the_refill_form_offers_the_dose_set_in_the_refills_minute(client, same_minute):
    response = client.get(reverse("refill_create", args=[same_minute.pk]))
    assert response.context["form"].initial["daily_dose_mcg"] == D("800")


def test_the_reservoir_chart_draws_the_dose_set_in_the_refills_minute(client, same_minute):
    curve = client.get(reverse("patient", args=[same_minute.pk])).context["curve"]
    empty_at, volume = curve.points[-1]
    assert volume == 0
    # 40 mL at 0.4 mL/day: 100 days after the refill.
    assert empty_at.astimezone(same_minute.site.zone).date() == dt.date(2026, 6, 18) == same_minute.empty_date


def _rows(client, kind):
    """(patient id, reason) of the worklist page's rows of ``kind``."""
    import re

    html = client.get(reverse("worklist"), {"kind": kind}).content.decode()
    return re.findall(r'data-patient="(\d+)">.*?</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>', html, re.S)


def test_the_earlier_of_two_booked_post_op_checks_is_on_the_worklist(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    for due in ("2026-03-17", "2026-04-21"):
        _post(client, "follow_up_create", patient, {"kind": "post_op", "due_date": due, "scheduled_at": f"{due}T09:30"})
    assert (str(patient.pk), "Post-operative check due") in _rows(client, "follow_up")


@pytest.mark.parametrize("to_status", ["deceased", "transferred"])
def test_a_patient_who_left_the_program_leaves_the_worklist(client, coordinator, program, to_status):
    client.force_login(coordinator)
    patient = program["missed"]  # a missed clinic review
    services_visit = {"kind": "titration", "due_date": "2026-03-20"}
    _post(client, "follow_up_create", patient, services_visit)
    assert {r for r in _rows(client, "follow_up") if r[0] == str(patient.pk)} == {
        (str(patient.pk), "Clinic review missed (due 25 Feb 2026)"),
        (str(patient.pk), "Titration due"),
    }
    _post(client, "status_change", patient, {"to_status": to_status, "on": "2026-03-09", "reason": "recorded"})
    assert [r for r in _rows(client, "") if r[0] == str(patient.pk)] == []


def test_a_replaced_pump_without_its_first_fill_needs_attention_on_the_worklist(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    assert (str(patient.pk), f"Refill due {patient.next_refill_due:%d %b %Y}") in _rows(client, "refill")
    _post(client, "pump_replace", patient, {"implant_date": "2026-03-10", "reason": "battery end"})
    html = client.get(reverse("worklist")).content.decode()
    section = html.split('id="refill-needs_attention"')[1].split("</section>")[0]
    assert f'data-patient="{patient.pk}"' in section
    assert "No fill recorded for the pump implanted 10 Mar 2026: record its first fill" in section
    page = client.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "Needs attention" in page and 'id="schedule-attention"' in page


def test_a_dose_change_when_nothing_is_due_answers_without_an_error(client, coordinator, program):
    client.force_login(coordinator)
    patient = program["due"]
    _post(client, "status_change", patient, {"to_status": "discontinued", "on": "2026-03-09", "reason": "recorded"})
    response = client.post(
        reverse("dose_change_create", args=[patient.pk]), {"effective_at": "2026-03-10T09:00", "daily_dose_mcg": "300"}
    )
    assert response.status_code in (200, 302)  # recorded, or refused beside the field: never a server error
