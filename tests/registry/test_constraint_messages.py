"""A broken database rule reaches a person as a sentence, never as the constraint's name."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import BaseConstraint

from registry import services
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


def test_every_constraint_has_a_message_in_words():
    for model in apps.get_app_config("registry").get_models():
        for constraint in model._meta.constraints:
            message = constraint.get_violation_error_message()
            assert message != BaseConstraint.default_violation_error_message % {"name": constraint.name}, (
                f"{model.__name__}.{constraint.name} has no message in words"
            )
            assert constraint.name not in message


def test_a_pump_serial_already_registered_is_refused_in_words(site):
    pump = {"reservoir_volume_ml": D("40"), "alarm_volume_ml": D("2"), "manufacturer": "Medtronic"}
    first, second = (make_patient(site, status="candidate", status_on=dt.date(2025, 5, 1)) for _ in range(2))
    services.implant_pump(patient=first, implant_date=dt.date(2025, 6, 2), serial_number="SN-100", **pump)
    with pytest.raises(ValidationError) as refused:
        services.implant_pump(patient=second, implant_date=dt.date(2025, 6, 2), serial_number="SN-100", **pump)
    text = " ".join(refused.value.messages)
    assert "A pump with this manufacturer and serial number is already registered." in text
    assert "pump_serial_unique_per_manufacturer" not in text
