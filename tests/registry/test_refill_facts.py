"""Each refill's local date and interval, stored when it is recorded (the reports count them)."""

import datetime as dt
import importlib
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps
from django.db import connection

from registry import services
from registry.models import Refill
from tests.factories import SiteFactory, at, make_implanted

pytestmark = pytest.mark.django_db
fill_migration = importlib.import_module("registry.migrations.0012_refill_performed_on_interval")


def refill(pump, performed_at, **kw):
    values = {"volume_after_ml": D("20"), "concentration_mcg_per_ml": D("500"), "daily_dose_mcg": D("200")}
    return services.record_refill(pump=pump, performed_at=performed_at, **{**values, **kw})


@pytest.fixture
def auckland():
    return SiteFactory(name="Auckland", time_zone="Pacific/Auckland")


def test_local_date_and_interval_are_stored_with_the_refill(auckland):
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), tick=False):
        patient, pump = make_implanted(auckland, implant_date=dt.date(2026, 1, 5))
        # 20:00 UTC on 2 March is 09:00 on 3 March in Auckland: the refill's date is the 3rd.
        first = refill(pump, dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC))
        second = refill(pump, at(dt.date(2026, 4, 14), 10, tz="Pacific/Auckland"))
    assert (first.performed_on, first.interval_days) == (dt.date(2026, 3, 3), None)
    assert (second.performed_on, second.interval_days) == (dt.date(2026, 4, 14), 42)
    stored = Refill.objects.filter(pump=pump).order_by("performed_at").values_list("performed_on", "interval_days")
    assert list(stored) == [(dt.date(2026, 3, 3), None), (dt.date(2026, 4, 14), 42)]


def test_interval_runs_across_a_pump_replacement(site):
    with time_machine.travel(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC), tick=False):
        patient, old = make_implanted(site, implant_date=dt.date(2025, 6, 2))
        refill(old, at(dt.date(2026, 1, 5)))
        new = services.replace_pump(pump=old, implant_date=dt.date(2026, 3, 2), reservoir_volume_ml=D("20"))
        first_in_new = refill(new, at(dt.date(2026, 3, 2), 11))
    assert first_in_new.interval_days == 56  # 5 January to 2 March: the chain goes on


def test_a_refill_recorded_late_moves_the_next_ones_interval(site):
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), tick=False):
        patient, pump = make_implanted(site, implant_date=dt.date(2026, 1, 5))
        refill(pump, at(dt.date(2026, 2, 1)))
        later = refill(pump, at(dt.date(2026, 4, 1)))
        between = refill(pump, at(dt.date(2026, 3, 1)), confirmed=True)  # before the latest: confirmed
    later.refresh_from_db()
    assert (between.interval_days, later.interval_days) == (28, 31)


def test_the_migration_fills_earlier_rows_as_recording_does(auckland, site):
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), tick=False):
        _, pump = make_implanted(auckland, implant_date=dt.date(2025, 6, 2))
        refill(pump, dt.datetime(2026, 1, 4, 20, tzinfo=dt.UTC))
        refill(pump, dt.datetime(2026, 2, 20, 10, tzinfo=dt.UTC))
        new = services.replace_pump(pump=pump, implant_date=dt.date(2026, 3, 2), reservoir_volume_ml=D("20"))
        refill(new, at(dt.date(2026, 3, 2), 11, tz="Pacific/Auckland"))
        _, other = make_implanted(site, implant_date=dt.date(2025, 6, 2))
        refill(other, at(dt.date(2026, 1, 5)))
        refill(other, at(dt.date(2026, 3, 5)))
    columns = ("id", "performed_on", "interval_days")
    recorded = list(Refill.objects.order_by("id").values_list(*columns))
    assert [r[2] for r in recorded] == [None, 46, 10, None, 59]
    Refill.objects.update(performed_on=None, interval_days=None)
    # The migration's own code on today's models (SQLite's schema editor cannot open inside a test).
    editor = SimpleNamespace(connection=connection, execute=lambda sql: connection.cursor().execute(sql))
    fill_migration.fill(apps, editor)
    assert list(Refill.objects.order_by("id").values_list(*columns)) == recorded


def test_a_move_dates_the_refills_it_reattributes_in_the_new_sites_zone(auckland):
    new_york = SiteFactory(name="New York", time_zone="America/New_York")
    with time_machine.travel(dt.datetime(2026, 3, 10, tzinfo=dt.UTC), tick=False):
        patient, pump = make_implanted(auckland, implant_date=dt.date(2026, 1, 5))
        refill(pump, dt.datetime(2026, 1, 20, 1, tzinfo=dt.UTC))  # 20 January in Auckland and New York
        moved = refill(pump, dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC))  # 3 March in Auckland
        assert (moved.performed_on, moved.interval_days) == (dt.date(2026, 3, 3), 42)
        services.move_patient(patient=patient, to_site=new_york, on=dt.date(2026, 3, 1))
    moved.refresh_from_db()
    assert moved.site == new_york
    assert (moved.performed_on, moved.interval_days) == (dt.date(2026, 3, 2), 41)  # 2 March in New York
