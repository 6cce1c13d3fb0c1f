"""A patient's stays at sites (``SiteStay``) and the move service: history stays where it happened."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from registry import services
from registry.models import Patient, Refill, SiteStay
from tests.factories import at, make_implanted, make_patient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)


def stays(patient):
    return list(
        SiteStay.objects.filter(patient=patient).order_by("id").values_list("site_id", "started_on", "ended_on")
    )


def test_every_new_patient_has_one_open_stay_even_when_bulk_created(site):
    patient = make_patient(site)
    assert stays(patient) == [(site.pk, None, None)]
    bulk = Patient.objects.bulk_create(
        [
            Patient(
                site=site,
                mrn="BULK1",
                given_name="A",
                family_name="B",
                date_of_birth=dt.date(2000, 1, 1),
                referred_on=dt.date(2025, 1, 1),
            )
        ]
    )
    assert stays(bulk[0]) == [(site.pk, None, None)]


def test_move_dates_the_stays_and_keeps_earlier_refills_at_the_old_site(site, other_site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site, implant_date=dt.date(2026, 1, 5))
        kept = services.record_refill(
            pump=pump,
            performed_at=at(dt.date(2026, 3, 1)),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
        later = services.record_refill(
            pump=pump,
            performed_at=at(dt.date(2026, 8, 1)),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
        services.move_patient(patient=patient, to_site=other_site, on=dt.date(2026, 7, 1))
    assert stays(patient) == [(site.pk, None, dt.date(2026, 7, 1)), (other_site.pk, dt.date(2026, 7, 1), None)]
    assert Refill.objects.get(pk=kept.pk).site_id == site.pk
    # Recorded before the move was, but done after it: it belongs to the new site.
    assert Refill.objects.get(pk=later.pk).site_id == other_site.pk
    assert services.site_on(patient, dt.date(2026, 6, 30)) == site.pk
    assert services.site_on(patient, dt.date(2026, 7, 1)) == other_site.pk


def test_a_refill_recorded_after_the_move_but_done_before_counts_at_the_old_site(site, other_site):
    with time_machine.travel(NOW, tick=False):
        patient, pump = make_implanted(site, implant_date=dt.date(2026, 1, 5))
        services.move_patient(patient=patient, to_site=other_site, on=dt.date(2026, 7, 1))
        pump.refresh_from_db()
        refill = services.record_refill(
            pump=pump,
            performed_at=at(dt.date(2026, 6, 20)),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
    assert refill.site_id == site.pk


def test_a_move_is_refused_in_the_future_before_the_last_move_or_to_the_same_site(site, other_site):
    with time_machine.travel(NOW, tick=False):
        patient = make_patient(site)
        with pytest.raises(ValidationError, match="already cared for"):
            services.move_patient(patient=patient, to_site=site)
        with pytest.raises(ValidationError, match="future"):
            services.move_patient(patient=patient, to_site=other_site, on=dt.date(2026, 12, 1))
        services.move_patient(patient=patient, to_site=other_site, on=dt.date(2026, 5, 1))
        with pytest.raises(ValidationError, match="previous move"):
            services.move_patient(patient=patient, to_site=site, on=dt.date(2026, 4, 1))
    assert Patient.objects.get(pk=patient.pk).site_id == other_site.pk


def test_a_direct_change_of_site_still_keeps_one_open_stay(site, other_site):
    patient = make_patient(site)
    Patient.objects.filter(pk=patient.pk).update(site=other_site)
    rows = stays(patient)
    assert [r[0] for r in rows] == [site.pk, other_site.pk]
    assert rows[0][2] is not None and rows[1][2] is None


def test_a_bulk_refill_without_a_site_gets_the_patients_site(site):
    patient, pump = make_implanted(site, implant_date=dt.date(2025, 1, 5))
    Refill.objects.bulk_create(
        [
            Refill(
                pump=pump,
                performed_at=at(dt.date(2025, 3, 1)),
                volume_after_ml=D("40"),
                concentration_mcg_per_ml=D("500"),
                daily_dose_mcg=D("100"),
            )
        ]
    )
    assert set(Refill.objects.filter(pump=pump).values_list("site_id", flat=True)) == {site.pk}
