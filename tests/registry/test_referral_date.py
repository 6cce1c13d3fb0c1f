"""A patient registered with a past referral date: the history dated back to it, in order."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry import services
from registry.models import Patient, StatusChange
from registry.services.schedule import site_today
from reporting import reports
from tests.factories import at

pytestmark = pytest.mark.django_db

D = dt.date
REFERRED = D(2018, 3, 5)
IMPLANT = D(2019, 1, 7)


def register(site, referred_on=REFERRED, **fields):
    fields.setdefault("mrn", "000123")
    return services.create_patient(
        site=site, given_name="Ada", family_name="Moss", date_of_birth=D(2008, 1, 9), referred_on=referred_on, **fields
    )


def walk_to_implant(patient, implant=IMPLANT):
    for status, on in (("evaluating", D(2018, 4, 2)), ("screening", D(2018, 9, 3)), ("candidate", D(2018, 11, 5))):
        services.change_status(patient=patient, to_status=status, on=on)
    return services.implant_pump(patient=patient, implant_date=implant, reservoir_volume_ml=Decimal("40"))


def test_referral_date_is_stored_and_dates_the_registration(site):
    patient = register(site)
    assert patient.referred_on == D(2018, 3, 5) and patient.status_changed_on == D(2018, 3, 5)
    registration = StatusChange.objects.get(patient=patient)
    assert (registration.from_status, registration.to_status, registration.changed_on) == (
        "",
        "referred",
        D(2018, 3, 5),
    )


def test_referral_date_defaults_to_today_at_the_site(site):
    patient = register(site, referred_on=None)
    assert patient.referred_on == site_today(site)


@pytest.mark.parametrize(
    "referred_on,message",
    [(D(2999, 1, 1), "cannot be in the future"), (D(2007, 12, 31), "before the date of birth")],
)
def test_implausible_referral_dates_are_refused(site, referred_on, message):
    with pytest.raises(ValidationError) as refused:
        register(site, referred_on=referred_on)
    assert message in refused.value.message_dict["referred_on"][0]
    assert not Patient.objects.exists()


def test_a_history_dated_back_to_the_referral_in_order(site):
    patient = register(site)
    pump = walk_to_implant(patient)
    services.record_refill(
        pump=pump,
        performed_at=at(D(2019, 1, 7)),
        volume_after_ml=Decimal("40"),
        concentration_mcg_per_ml=Decimal("500"),
        daily_dose_mcg=Decimal("100"),
    )
    services.record_dose_change(pump=pump, effective_at=at(D(2019, 2, 1)), daily_dose_mcg=Decimal("120"))
    services.record_screening_trial(
        patient=patient, performed_on=D(2018, 10, 1), test_dose_mcg=Decimal("50"), response="positive"
    )
    services.set_goal(patient=patient, category="comfort", description="Sleeps", set_on=D(2018, 3, 5))
    services.schedule_follow_up(patient=patient, kind="post_op", due_date=D(2019, 1, 21))
    services.record_complication(patient=patient, occurred_on=D(2019, 3, 1), kind="wound")
    history = list(StatusChange.objects.filter(patient=patient).values_list("to_status", "changed_on"))
    assert history == [
        ("referred", D(2018, 3, 5)),
        ("evaluating", D(2018, 4, 2)),
        ("screening", D(2018, 9, 3)),
        ("candidate", D(2018, 11, 5)),
        ("implanted", D(2019, 1, 7)),
    ]


def test_a_change_before_the_current_status_began_is_still_refused(site):
    patient = register(site)
    services.change_status(patient=patient, to_status="evaluating", on=D(2018, 6, 1))
    with pytest.raises(ValidationError) as refused:
        services.change_status(patient=patient, to_status="screening", on=D(2018, 5, 1))
    assert "before the current status began" in refused.value.message_dict["on"][0]


def test_an_implant_before_the_referral_is_refused_on_its_date(site):
    patient = register(site, status="candidate", status_on=D(2018, 3, 5))
    with pytest.raises(ValidationError) as refused:
        services.implant_pump(patient=patient, implant_date=D(2018, 3, 1), reservoir_volume_ml=Decimal("40"))
    assert "before the referral" in refused.value.message_dict["implant_date"][0]


def test_referral_date_is_fixed_after_registration(site):
    patient = register(site)
    with pytest.raises(ValidationError) as refused:
        services.update_patient(patient=patient, referred_on=D(2017, 1, 1))
    assert "set at registration" in refused.value.message_dict["referred_on"][0]


def test_the_database_refuses_a_status_dated_before_the_referral(site):
    patient = register(site)
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(status_changed_on=D(2018, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(referred_on=D(2000, 1, 1))


def test_reports_count_each_event_on_its_own_date(site):
    patient = register(site)
    pump = walk_to_implant(patient)
    for day in (D(2019, 1, 7), D(2019, 4, 1), D(2020, 2, 3)):
        services.record_refill(
            pump=pump,
            performed_at=at(day),
            volume_after_ml=Decimal("40"),
            concentration_mcg_per_ml=Decimal("500"),
            daily_dose_mcg=Decimal("100"),
        )
    activity = reports.summary(sites=None, start=D(2018, 1, 1), end=D(2020, 12, 31))["activity"]["by_year"]
    by_year = {row["year"]: row for row in activity}
    assert (by_year[2018]["referrals"], by_year[2018]["implants"]) == (1, 0)
    assert (by_year[2019]["referrals"], by_year[2019]["implants"]) == (0, 1)
    refills_2019 = reports.summary(sites=None, start=D(2019, 1, 1), end=D(2019, 12, 31))["refills"]
    assert (refills_2019["performed"], refills_2019["first"]) == (2, 1)
    census_2017 = reports.summary(sites=None, start=D(2017, 1, 1), end=D(2017, 12, 31))["census"]
    census_2018 = reports.summary(sites=None, start=D(2018, 1, 1), end=D(2018, 12, 31))["census"]
    assert census_2017["patients"] == 0
    assert census_2018["patients"] == 1 and census_2018["by_status"]["candidate"] == 1
