"""factory_boy factories. Clinical records are made through the services, as users make them."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from registry import models, services


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Site

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "Europe/London"
    phone = "+44 20 7946 0000"
    escalation_email = factory.Sequence(lambda n: f"escalation{n}@clinic.test")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.test")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            profile = models.StaffProfile.objects.create(user=self, role=extracted)
            profile.sites.set(kwargs.get("sites", []))
        self.save()


_mrn = iter(range(100000, 10**9))


def make_patient(site, *, status="referred", dob=dt.date(2010, 3, 1), by=None, status_on=None, **fields):
    fields.setdefault("mrn", f"MRN{next(_mrn)}")
    fields.setdefault("given_name", "Alex")
    fields.setdefault("family_name", "Example")
    return services.create_patient(site=site, date_of_birth=dob, status=status, status_on=status_on, by=by, **fields)


def make_implanted(site, *, implant_date=dt.date(2025, 6, 2), reservoir=Decimal("40"), alarm=Decimal("2"), **fields):
    patient = make_patient(site, status="candidate", status_on=implant_date - dt.timedelta(days=30), **fields)
    pump = services.implant_pump(
        patient=patient, implant_date=implant_date, reservoir_volume_ml=reservoir, alarm_volume_ml=alarm
    )
    patient.refresh_from_db()
    return patient, pump


def at(day: dt.date, hour: int = 10, minute: int = 0, tz: str = "Europe/London") -> dt.datetime:
    import zoneinfo

    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz))


def refill_form_data(**overrides) -> dict:
    """The dashboard refill form's fields for a plain refill (a full 40 mL pump at 2000 mcg/mL)."""
    data = {
        "performed_at": "2026-03-10T09:30",
        "volume_removed_ml": "3.5",
        "expected_residual_ml": "3.0",
        "volume_after_ml": "40",
        "concentration_mcg_per_ml": "2000",
        "daily_dose_mcg": "400",
        "action": "save",
    }
    return {**data, **overrides}
