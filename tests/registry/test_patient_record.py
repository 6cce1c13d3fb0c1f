"""``patient_record``: one patient as the app reads one, in one statement, the same records the ORM reads."""

import datetime as dt
from decimal import Decimal as D

import pytest

from registry import services
from registry.models import Indication, Patient, Pump, Refill
from registry.roles import patients_for
from registry.selectors import RECENT_REFILLS, patient_record, patient_reservoir_curve
from tests.factories import at, make_implanted, make_patient

pytestmark = pytest.mark.django_db


def _fields(record) -> dict:
    """Every column's value and its repr (a Decimal's places, a datetime's zone)."""
    values = ((f.attname, getattr(record, f.attname)) for f in record._meta.concrete_fields)
    return {name: (value, repr(value)) for name, value in values}


def _refill(pump, day, volume="20.5"):
    return services.record_refill(
        pump=pump,
        performed_at=at(day, 11, 30),
        volume_after_ml=D(volume),
        concentration_mcg_per_ml=D("500"),
        daily_dose_mcg=D("100.25"),
        volume_removed_ml=D("1.75"),
        expected_residual_ml=D("2"),
        notes="Checked the site.",
    )


@pytest.fixture
def replaced(site):
    """A patient with an explanted pump and its replacement, refilled more often than the page shows."""
    patient, first = make_implanted(site, implant_date=dt.date(2025, 1, 6))
    services.add_indication(patient=patient, diagnosis="stroke")
    services.add_indication(patient=patient, diagnosis="cerebral_palsy", gmfcs_level=4)
    _refill(first, dt.date(2025, 1, 6))
    pump = services.replace_pump(pump=first, implant_date=dt.date(2025, 2, 3), serial_number="SN-2")
    day = dt.date(2025, 2, 3)
    for n in range(RECENT_REFILLS + 2):
        _refill(pump, day + dt.timedelta(days=14 * n), volume=f"{20 + n}.5")
    services.mark_refill_entered_in_error(
        refill=Refill.objects.filter(pump=pump).latest("performed_at"), reason="Wrong patient"
    )
    return Patient.objects.get(pk=patient.pk), pump


def test_the_records_are_those_the_orm_reads(replaced, django_assert_num_queries):
    patient, pump = replaced
    with django_assert_num_queries(1):
        record = patient_record(Patient.objects.all(), patient.pk)
        pumps, indications = list(record.pumps.all()), list(record.indications.all())
        assert record.site.name and record.primary_clinician is None
        assert record.active_pump == pump
        assert all(p.patient is record for p in pumps) and all(i.patient is record for i in indications)
        assert all(r.pump is record.active_pump for r in record.recent_refills)

    assert _fields(record) == _fields(patient)
    assert [_fields(p) for p in pumps] == [_fields(p) for p in Pump.objects.filter(patient=patient)]
    assert [_fields(i) for i in indications] == [_fields(i) for i in Indication.objects.filter(patient=patient)]
    # The active pump's refills in force, newest first: not the first pump's, not the one in error.
    expected = Refill.objects.filter(pump=pump).order_by("-performed_at", "-id")[:RECENT_REFILLS]
    assert [_fields(r) for r in record.recent_refills] == [_fields(r) for r in expected]
    assert len(record.recent_refills) == RECENT_REFILLS
    assert not any(r.entered_in_error for r in record.recent_refills)


def test_a_patient_without_pump_or_indication_has_empty_records(site, django_assert_num_queries):
    patient = make_patient(site)
    with django_assert_num_queries(1):
        record = patient_record(Patient.objects.all(), patient.pk)
        assert (list(record.pumps.all()), list(record.indications.all()), record.recent_refills) == ([], [], [])
        assert record.active_pump is None


def test_another_sites_patient_is_not_read(replaced, other_site, coordinator):
    patient, _ = replaced
    elsewhere = make_patient(other_site)
    assert patient_record(patients_for(coordinator), patient.pk).pk == patient.pk
    with pytest.raises(Patient.DoesNotExist):
        patient_record(patients_for(coordinator), elsewhere.pk)


def test_the_reservoir_curve_starts_at_the_latest_refill_read(replaced, django_assert_num_queries):
    patient, pump = replaced
    record = patient_record(Patient.objects.all(), patient.pk)
    with django_assert_num_queries(1):  # the cycle's dose changes only
        curve = patient_reservoir_curve(record)
    assert curve.refill == Refill.objects.filter(pump=pump).latest("performed_at")
    assert curve.refill.volume_after_ml == D("30.50")
