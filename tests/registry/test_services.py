"""Services against the database, with frozen time: the stored schedule follows every write."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from registry import services
from registry.models import DoseChange, Patient, Pump, Refill, StatusChange
from registry.selectors import patient_refill_status
from tests.factories import at, make_implanted, make_patient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def refill(pump, day, **kw):
    performed_at = kw.pop("performed_at", at(day))
    values = {"volume_after_ml": D("40"), "concentration_mcg_per_ml": D("2000"), "daily_dose_mcg": D("400")}
    values.update(kw)
    return services.record_refill(pump=pump, performed_at=performed_at, **values)


@time_machine.travel(NOW, tick=False)
def test_brief_example_is_stored_on_the_patient(site):
    patient, pump = make_implanted(site)
    refill(pump, dt.date(2026, 1, 5))
    patient.refresh_from_db()
    assert patient.alarm_date == dt.date(2026, 7, 14)
    assert patient.empty_date == dt.date(2026, 7, 24)
    assert patient.next_refill_due == dt.date(2026, 7, 3)
    assert patient.refill_due_basis == "max_interval"
    assert patient.battery_eri_date == dt.date(2032, 6, 2)
    assert patient_refill_status(patient) == "upcoming"


def test_status_follows_the_calendar_in_the_sites_zone(site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site)
        refill(pump, dt.date(2026, 1, 5))
    patient.refresh_from_db()
    # 2026-07-13 23:30 London is 22:30 UTC: still the 13th there, overdue not critical.
    with time_machine.travel(dt.datetime(2026, 7, 13, 22, 30, tzinfo=dt.UTC), tick=False):
        assert patient_refill_status(patient) == "overdue"
    with time_machine.travel(dt.datetime(2026, 7, 13, 23, 30, tzinfo=dt.UTC), tick=False):
        assert patient_refill_status(patient) == "critical"  # 00:30 on the 14th in London (BST)


def test_dose_change_between_refills_moves_the_stored_dates(site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site)
        first = refill(pump, dt.date(2026, 1, 5))
    with time_machine.travel(dt.datetime(2026, 2, 24, 12, tzinfo=dt.UTC), tick=False):
        services.record_dose_change(
            pump=pump, effective_at=first.performed_at + dt.timedelta(days=50), daily_dose_mcg=D("800")
        )
    patient.refresh_from_db()
    assert patient.alarm_date == dt.date(2026, 5, 5)
    assert patient.next_refill_due == dt.date(2026, 4, 28)
    # A later refill starts a new cycle: the earlier dose change no longer counts.
    with time_machine.travel(dt.datetime(2026, 4, 28, 12, tzinfo=dt.UTC), tick=False):
        second = refill(pump, dt.date(2026, 4, 28), daily_dose_mcg=D("800"), volume_after_ml=D("40"))
    patient.refresh_from_db()
    assert second.timeliness == "on_time"
    assert second.due_date_at_refill == dt.date(2026, 4, 28)
    assert patient.alarm_date == dt.date(2026, 4, 28) + dt.timedelta(days=95)  # 38 mL at 0.4 mL/day


@time_machine.travel(NOW, tick=False)
def test_programmer_alarm_date_earlier_than_projection_wins_and_is_flagged(site):
    patient, pump = make_implanted(site)
    refill(pump, dt.date(2026, 1, 5), programmer_alarm_date=dt.date(2026, 6, 1))
    patient.refresh_from_db()
    assert patient.projected_alarm_date == dt.date(2026, 7, 14)
    assert patient.alarm_date == dt.date(2026, 6, 1)
    assert patient.alarm_date_disagrees is True
    assert patient.next_refill_due == dt.date(2026, 5, 25)  # 2026-06-01 - 7, a Monday


@time_machine.travel(NOW, tick=False)
def test_site_holiday_and_margin_are_settings(site):
    site.safety_margin_days = 10
    site.max_refill_interval_days = 365
    site.save()
    site.closed_days.create(date=dt.date(2026, 7, 3), reason="Holiday")
    patient, pump = make_implanted(site)
    refill(pump, dt.date(2026, 1, 5))
    patient.refresh_from_db()
    assert patient.next_refill_due == dt.date(2026, 7, 3) - dt.timedelta(days=1)  # 07-04 Sat, 07-03 holiday


def test_pump_replacement_moves_the_schedule_to_the_new_pump(site):
    with time_machine.travel(NOW, tick=False):
        patient, old = make_implanted(site)
        refill(old, dt.date(2026, 1, 5))
    with time_machine.travel(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC), tick=False):
        new = services.replace_pump(
            pump=old, implant_date=dt.date(2026, 3, 2), reservoir_volume_ml=D("20"), eri_date=dt.date(2033, 1, 1)
        )
        patient.refresh_from_db()
        # Nothing known of the new pump's fill yet: due at once, needing attention, never absent.
        assert (patient.next_refill_due, patient.refill_due_basis) == (dt.date(2026, 3, 2), "needs_attention")
        assert "record its first fill" in patient.schedule_attention
        assert patient.battery_eri_date == dt.date(2033, 1, 1)
        first = refill(
            new,
            dt.date(2026, 3, 2),
            volume_after_ml=D("20"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("200"),
        )
    old.refresh_from_db()
    patient.refresh_from_db()
    assert old.explant_date == dt.date(2026, 3, 2) and new.replaces == old
    assert first.timeliness == "on_time"  # it closes the old pump's cycle
    assert patient.alarm_date == dt.date(2026, 4, 16)
    assert patient.status == "implanted"
    assert Pump.objects.filter(patient=patient, explant_date__isnull=True).get() == new


def test_explanted_pump_leaves_nothing_due(site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site)
        refill(pump, dt.date(2026, 1, 5))
    with time_machine.travel(dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC), tick=False):
        services.explant_pump(pump=pump, explant_date=dt.date(2026, 2, 1), reason="Infection")
    patient.refresh_from_db()
    assert patient.status == "explanted"
    assert (patient.next_refill_due, patient.alarm_date, patient.battery_eri_date) == (None, None, None)
    assert patient_refill_status(patient) == "none"


@time_machine.travel(NOW, tick=False)
def test_patient_not_implanted_has_nothing_due(site):
    patient = make_patient(site, status="candidate")
    assert patient.next_refill_due is None
    assert patient_refill_status(patient) == "none"


def test_status_change_to_deceased_clears_the_schedule(site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site)
        refill(pump, dt.date(2026, 1, 5))
        services.change_status(patient=patient, to_status="deceased", reason="")
    patient.refresh_from_db()
    assert patient.next_refill_due is None and patient.status == "deceased"


@time_machine.travel(NOW, tick=False)
def test_status_machine_history_and_refusals(site, coordinator):
    patient = make_patient(site, by=coordinator)
    for status in ["evaluating", "screening", "candidate"]:
        services.change_status(patient=patient, to_status=status, by=coordinator)
    with pytest.raises(ValidationError) as err:
        services.change_status(patient=patient, to_status="referred")
    assert "cannot move from candidate to referred" in str(err.value.message_dict["to_status"])
    with pytest.raises(ValidationError, match="Record the pump implant"):
        services.change_status(patient=patient, to_status="implanted")
    history = list(StatusChange.objects.filter(patient=patient).values_list("from_status", "to_status"))
    assert history == [
        ("", "referred"),
        ("referred", "evaluating"),
        ("evaluating", "screening"),
        ("screening", "candidate"),
    ]
    assert StatusChange.objects.filter(patient=patient, changed_by=coordinator).count() == 4
    assert patient.history.first().history_user == coordinator


@time_machine.travel(NOW, tick=False)
def test_status_change_cannot_be_dated_in_the_future_or_before_the_current_one(site):
    patient = make_patient(site, status_on=dt.date(2026, 1, 2))
    with pytest.raises(ValidationError, match="future"):
        services.change_status(patient=patient, to_status="evaluating", on=dt.date(2026, 1, 6))
    with pytest.raises(ValidationError, match="before the current status"):
        services.change_status(patient=patient, to_status="evaluating", on=dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"volume_after_ml": D("41")}, "volume_after_ml"),
        ({"volume_after_ml": D("0")}, "volume_after_ml"),
        ({"concentration_mcg_per_ml": D("0")}, "concentration_mcg_per_ml"),
        ({"concentration_mcg_per_ml": D("3001"), "confirmed": True}, "concentration_mcg_per_ml"),
        ({"concentration_mcg_per_ml": D("2500")}, "concentration_mcg_per_ml"),  # needs confirmation
        ({"daily_dose_mcg": D("1600")}, "daily_dose_mcg"),  # needs confirmation
        ({"daily_dose_mcg": D("-5")}, "daily_dose_mcg"),
        ({"performed_at": at(dt.date(2025, 6, 1))}, "performed_at"),  # before the implant
        ({"performed_at": at(dt.date(2026, 1, 9))}, "performed_at"),  # in the future
        ({"programmer_alarm_date": dt.date(2026, 1, 1)}, "programmer_alarm_date"),
        ({"manual_due_date": dt.date(2026, 1, 5)}, "manual_due_date"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_bad_refill_is_refused_with_a_field_message_and_nothing_saved(site, overrides, field):
    patient, pump = make_implanted(site)
    before = Patient.objects.values("next_refill_due", "alarm_date").get(pk=patient.pk)
    with pytest.raises(ValidationError) as err:
        refill(pump, dt.date(2026, 1, 5), **overrides)
    assert field in err.value.message_dict
    assert Refill.objects.count() == 0
    assert Patient.objects.values("next_refill_due", "alarm_date").get(pk=patient.pk) == before


@time_machine.travel(NOW, tick=False)
def test_confirmed_unusual_values_are_accepted(site):
    _, pump = make_implanted(site)
    r = refill(pump, dt.date(2026, 1, 5), concentration_mcg_per_ml=D("2500"), daily_dose_mcg=D("1600"), confirmed=True)
    assert r.pk


@time_machine.travel(NOW, tick=False)
def test_residual_discrepancy_is_flagged(site):
    _, pump = make_implanted(site)
    r = refill(pump, dt.date(2026, 1, 5), volume_removed_ml=D("1.0"), expected_residual_ml=D("6.5"))
    assert r.residual_discrepancy is True


@time_machine.travel(NOW, tick=False)
def test_second_active_pump_and_bad_pump_are_refused(site):
    patient, pump = make_implanted(site)
    with pytest.raises(ValidationError, match="already has an active pump"):
        services.implant_pump(patient=patient, implant_date=dt.date(2026, 1, 1), reservoir_volume_ml=D("40"))
    other = make_patient(site, status="candidate", status_on=dt.date(2025, 1, 1))
    with pytest.raises(ValidationError) as err:
        services.implant_pump(
            patient=other, implant_date=dt.date(2025, 6, 1), reservoir_volume_ml=D("20"), alarm_volume_ml=D("20")
        )
    assert "alarm_volume_ml" in err.value.message_dict
    other.refresh_from_db()
    assert other.status == "candidate" and not other.pumps.exists()


@time_machine.travel(NOW, tick=False)
def test_dose_change_bad_input(site):
    _, pump = make_implanted(site)
    with pytest.raises(ValidationError) as err:
        services.record_dose_change(pump=pump, effective_at=at(dt.date(2025, 5, 1)), daily_dose_mcg=D("100"))
    assert "effective_at" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.record_dose_change(pump=pump, effective_at=at(dt.date(2026, 1, 1)), daily_dose_mcg=D("0"))
    assert "daily_dose_mcg" in err.value.message_dict
    assert DoseChange.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_follow_ups_goals_and_complications(site):
    patient, pump = make_implanted(site)
    visit = services.schedule_follow_up(patient=patient, kind="clinic_review", due_date=dt.date(2025, 12, 1))
    assert services.mark_missed_follow_ups(site=site, today=dt.date(2025, 12, 8)) == 0
    assert services.mark_missed_follow_ups(site=site, today=dt.date(2025, 12, 9)) == 1
    visit.refresh_from_db()
    assert visit.status == "missed"
    goal = services.set_goal(
        patient=patient, category="comfort", description="Sit comfortably", set_on=dt.date(2025, 6, 1)
    )
    with pytest.raises(ValidationError) as err:
        services.review_goal(goal=goal, reviewed_on=dt.date(2025, 12, 1), score=3)
    assert "score" in err.value.message_dict
    with pytest.raises(ValidationError, match="before the goal was set"):
        services.review_goal(goal=goal, reviewed_on=dt.date(2025, 5, 1), score=0)
    services.review_goal(goal=goal, reviewed_on=dt.date(2025, 12, 1), score=1)
    with pytest.raises(ValidationError) as err:
        services.record_complication(
            patient=patient, occurred_on=dt.date(2025, 9, 1), kind="infection", resolved_on=dt.date(2025, 8, 1)
        )
    assert "resolved_on" in err.value.message_dict or "__all__" in err.value.message_dict
    services.record_complication(patient=patient, pump=pump, occurred_on=dt.date(2025, 9, 1), kind="infection")
    first = services.add_indication(patient=patient, diagnosis="cerebral_palsy", gmfcs_level=4)
    second = services.add_indication(patient=patient, diagnosis="dystonia_secondary", is_primary=True)
    first.refresh_from_db()
    assert (first.icd10_code, first.is_primary, second.is_primary) == ("G80.9", False, True)
    with pytest.raises(ValidationError) as err:
        services.add_indication(patient=patient, diagnosis="other", icd10_code="XYZ", is_primary=False)
    assert "icd10_code" in err.value.message_dict


@time_machine.travel(NOW, tick=False)
def test_mrn_unique_within_a_site_only(site, other_site):
    make_patient(site, mrn="A1")
    make_patient(other_site, mrn="A1")
    with pytest.raises(ValidationError) as err:
        make_patient(site, mrn="A1")
    assert "__all__" in err.value.message_dict or "mrn" in err.value.message_dict
    assert Patient.objects.filter(mrn="A1").count() == 2
