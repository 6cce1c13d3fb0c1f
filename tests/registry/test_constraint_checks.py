"""CHECK constraints read in Python before a save give the database's own answer, without its queries."""

import datetime as dt
import itertools
from decimal import Decimal as D

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Pump, Refill
from registry.services.base import validated_save
from registry.services.constraints import _check_holds
from tests.factories import at, make_implanted

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def _terms(condition: models.Q):
    for child in condition.children:
        if isinstance(child, models.Q):
            yield from _terms(child)
        else:
            yield child


def _candidates(model, condition: models.Q) -> dict[str, list]:
    """For each field the condition reads: NULL, its constants and their neighbours, a few plain values."""
    values: dict[str, set] = {}

    def add(name, value):
        values.setdefault(name, set()).add(value)

    for key, value in _terms(condition):
        name = key.split("__")[0]
        field = model._meta.get_field("id" if name == "pk" else name)
        add(name, None)
        constants = [value] if not isinstance(value, list | tuple) else list(value)
        if isinstance(value, models.F):
            constants = []
            add(value.name, None)
        for constant in constants:
            if isinstance(constant, bool) or constant is None:
                continue
            add(name, constant)
            if isinstance(constant, int | D):
                add(name, constant - 1)
                add(name, constant + 1)
        if isinstance(field, models.DateField | models.DateTimeField) or isinstance(value, models.F):
            for other in (name, getattr(value, "name", name)):
                other_field = model._meta.get_field(other)
                base = dt.date(2025, 3, 1)
                days = [base - dt.timedelta(days=1), base, base + dt.timedelta(days=1)]
                if isinstance(other_field, models.DateTimeField):
                    days = [dt.datetime.combine(d, dt.time(9), tzinfo=dt.UTC) for d in days]
                elif not isinstance(other_field, models.DateField):
                    days = [D("1"), D("2"), D("3")]
                for day in days:
                    add(other, day)
        if isinstance(field, models.CharField):
            for choice in [c[0] for c in field.choices or []][:3] + ["", "x"]:
                add(name, choice)
        if isinstance(field, models.BooleanField):
            add(name, True)
            add(name, False)
    return {name: sorted(v, key=repr) for name, v in values.items()}


def _check_constraints():
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                yield model, constraint


def test_every_check_constraint_reads_in_python_as_the_database_reads_it():
    outcomes: dict[str, set] = {}
    for model, constraint in _check_constraints():
        candidates = _candidates(model, constraint.condition)
        names = list(candidates)
        for combination in itertools.islice(itertools.product(*candidates.values()), 400):
            instance = model()
            for name, value in zip(names, combination, strict=True):
                setattr(instance, model._meta.get_field("id" if name == "pk" else name).attname, value)
            in_python = _check_holds(constraint, instance, set())
            if in_python is None:
                continue
            against = instance._get_field_expression_map(meta=model._meta, exclude=set())
            in_database = models.Q(constraint.condition).check(against)
            assert in_python == in_database, (constraint.name, dict(zip(names, combination, strict=True)))
            outcomes.setdefault(constraint.name, set()).add(in_database)
    registry = {c.name for model, c in _check_constraints() if model._meta.app_label == "registry"}
    # Each one seen both passing and refusing, so each comparison could have failed.
    assert {name for name in registry if outcomes.get(name) != {True, False}} == set()


def test_the_registry_constraints_are_all_read_in_python():
    unread = [
        c.name
        for model, c in _check_constraints()
        if model._meta.app_label == "registry" and _check_holds(c, model(), set()) is None
    ]
    assert unread == []


def _errors(check) -> dict:
    try:
        check()
    except ValidationError as error:
        return error.message_dict
    return {}


def test_a_refill_is_checked_without_a_query_per_constraint_and_refused_as_full_clean_refuses(site):
    with time_machine.travel(NOW, tick=False):
        _, pump = make_implanted(site)
        values = {"pump": pump, "volume_after_ml": D("20"), "concentration_mcg_per_ml": D("500")}
        with CaptureQueriesContext(connection) as queries:
            services.record_refill(performed_at=at(dt.date(2025, 12, 1)), daily_dose_mcg=D("100"), **values)
        # One query per conditional UNIQUE constraint (it must look at other rows), none per CHECK.
        checks = [q["sql"] for q in queries.captured_queries if '"_check"' in q["sql"]]
        assert checks and all("EXISTS" in sql for sql in checks)
    bad = [
        Refill(pump=pump, performed_at=at(dt.date(2025, 12, 2)), volume_after_ml=D("0"), daily_dose_mcg=D("0")),
        Refill(pump=pump, performed_at=at(dt.date(2025, 12, 1)), volume_after_ml=D("20"), daily_dose_mcg=D("100")),
        Refill(
            pump=pump,
            performed_at=at(dt.date(2025, 12, 3)),
            volume_after_ml=D("20"),
            volume_removed_ml=D("-1"),
            expected_residual_ml=D("-2"),
            concentration_mcg_per_ml=D("0"),
            daily_dose_mcg=D("100"),
        ),
        Pump(
            patient=pump.patient, implant_date=dt.date(2025, 6, 2), reservoir_volume_ml=D("20"), alarm_volume_ml=D("20")
        ),
        Pump(
            patient=pump.patient,
            serial_number="X1",
            implant_date=dt.date(2025, 6, 2),
            explant_date=dt.date(2025, 6, 1),
            eri_date=dt.date(2025, 6, 2),
            reservoir_volume_ml=D("20"),
            alarm_volume_ml=D("2"),
        ),
    ]
    for record in bad:
        record.concentration_mcg_per_ml = getattr(record, "concentration_mcg_per_ml", None) or D("500")
        expected = _errors(record.full_clean)
        assert expected, record
        assert _errors(lambda record=record: validated_save(record)) == expected
        assert record.pk is None
