"""Serializers: the shape of every resource and the validation of its input.

They validate shape and scope only; every write is done by a ``registry.services`` function (the
viewsets call them), so the API, the dashboard and the admin apply the same rules and reschedule
the same way. Referenced objects (site, patient, pump, goal) are looked up among the records the
requesting user may see, so naming another site's record is a 400 field error.
"""

from __future__ import annotations

import copy
import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from registry.models import Goal, Patient, Pump, Site
from registry.roles import is_clinical, patients_for, sites_for

# Clinical dates outside this range are typing errors, and beyond them date arithmetic (time
# zones, margins of days) can overflow; refusing them here keeps every later step safe.
EARLIEST = dt.date(1900, 1, 1)


LATEST = dt.date(2199, 12, 31)


RANGE_MESSAGE = "Enter a date between 1900-01-01 and 2199-12-31."


class BoundedDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST <= day <= LATEST:
            raise serializers.ValidationError(RANGE_MESSAGE)
        return day


class AwareDateTimeField(serializers.DateTimeField):
    """A timestamp must carry its UTC offset: "10:00" alone is ambiguous across site zones."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise serializers.ValidationError("Give the time with its UTC offset, e.g. 2025-06-02T10:00:00+01:00.")
        result = super().to_internal_value(value)
        if not EARLIEST <= result.date() <= LATEST:
            raise serializers.ValidationError(RANGE_MESSAGE)
        return result


class RegistryModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: BoundedDateField,
        models.DateTimeField: AwareDateTimeField,
    }

    def get_fields(self):
        """The fields ModelSerializer derives from ``Meta`` and the model, derived once per class.

        DRF derives them again for every serializer instance: for a page of patients that was a
        fifth of the request, mostly in building labels from lazy verbose names. They
        depend on the class alone (none of ours reads ``context`` or ``instance`` here), so each
        instance gets a deep copy of the class's set, as a plain ``Serializer`` does with its
        declared fields.
        """
        cls = type(self)
        if "_derived_fields" not in cls.__dict__:
            cls._derived_fields = super().get_fields()
        return copy.deepcopy(cls._derived_fields)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key looked up among the records the requesting user may see."""

    def __init__(self, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return self.scope(user) if user is not None else self.queryset.none()

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            if int(data) > 2**62 or int(data) < 1:
                self.fail("does_not_exist", pk_value=data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


def scoped_sites(user):
    # Reporting users may read sites but never write a patient into one.
    return sites_for(user) if is_clinical(user) else Site.objects.none()


def scoped_pumps(user):
    return Pump.objects.filter(patient__in=patients_for(user)).select_related("patient__site")


def scoped_goals(user):
    return Goal.objects.filter(patient__in=patients_for(user)).select_related("patient__site")


def patient_field(**kwargs):
    return ScopedRelatedField(patients_for, queryset=Patient.objects.select_related("site"), **kwargs)


def pump_field(**kwargs):
    return ScopedRelatedField(scoped_pumps, queryset=Pump.objects.all(), **kwargs)
