"""The refills' monthly rollup (``RefillMonth``) stays equal to the refills it counts through every
kind of write, and the report's refill figures, read from it, equal a count of the refills
themselves over any period, whatever days of its first and last months the period covers."""

import datetime as dt
from collections import Counter
from decimal import Decimal as D
from itertools import product

import pytest
import time_machine
from django.db.models import Count
from django.db.models.functions import TruncMonth

from registry import services
from registry.imports import import_program
from registry.models import Refill, RefillMonth
from reporting.reports.refills import _refill_figures
from reporting.reports.scope import Scope
from tests.factories import SiteFactory, at
from tests.imports.program_files import clean_sheets, write_xlsx
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def recounted() -> Counter:
    """The rollup computed again from the refills in force."""
    rows = (
        Refill.objects.filter(performed_on__isnull=False, site__isnull=False)
        .annotate(month=TruncMonth("performed_on"))
        .values_list("month", "site_id", "timeliness", "interval_days")
        .annotate(n=Count("*"))
        .order_by()
    )
    return Counter({(m, s, t, RefillMonth.NO_INTERVAL if i is None else i): n for m, s, t, i, n in rows})


def stored() -> Counter:
    return Counter({(r.month, r.site_id, r.timeliness, r.interval_days): r.refills for r in RefillMonth.objects.all()})


def test_the_rollup_follows_every_write_to_the_refills(program):
    assert stored() == recounted() != Counter()
    pump = program.ada.pumps.get(explant_date__isnull=True)
    with time_machine.travel(NOW, tick=False):
        # A refill recorded, one marked entered in error (the next one's interval is restated),
        # the patient moved (her refills from the move re-attributed), a fact changed in bulk.
        services.record_refill(
            pump=pump,
            performed_at=at(d(2026, 12, 20)),
            volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"),
            daily_dose_mcg=D("100"),
        )
        assert stored() == recounted()
        services.mark_refill_entered_in_error(
            refill=pump.refills.get(performed_at=at(d(2026, 7, 1), 15)), reason="Wrong pump"
        )
        assert stored() == recounted()
        services.move_patient(patient=program.ada, to_site=program.south, on=d(2026, 9, 1))
        assert Refill.objects.filter(pump=pump, site=program.south).exists()
        assert stored() == recounted()
    Refill.objects.filter(timeliness="on_time").update(timeliness="late")
    assert stored() == recounted()
    Refill.all_objects.filter(entered_in_error=True).delete()
    Refill.objects.filter(pump=pump).order_by("performed_at").first().delete()
    assert stored() == recounted()


def direct_figures(scope: Scope, start: dt.date, end: dt.date) -> tuple[Counter, Counter]:
    """The report's refill figures counted from the refills one by one."""
    by_site, intervals = Counter(), Counter()
    rows = Refill.objects.filter(performed_on__gte=start, performed_on__lte=end)
    if not scope.everywhere:
        rows = rows.filter(site_id__in=scope.site_ids)
    for site, kind, days in rows.values_list("site_id", "timeliness", "interval_days"):
        by_site[(site, kind)] += 1
        if days is not None:
            intervals[days] += 1
    return by_site, intervals


STARTS = [d(2025, 11, 15), d(2025, 12, 1), d(2025, 12, 2), d(2026, 2, 14), d(2026, 3, 1), d(2026, 3, 2), d(2026, 7, 1)]
ENDS = [d(2026, 3, 1), d(2026, 3, 15), d(2026, 6, 30), d(2026, 7, 1), d(2026, 7, 17), d(2026, 10, 1), d(2027, 1, 9)]


def test_the_refill_figures_equal_a_count_of_the_refills_over_any_period(program):
    with time_machine.travel(NOW, tick=False):
        services.move_patient(patient=program.ada, to_site=program.south, on=d(2026, 9, 1))
    for sites, start, end in product([None, [program.north.pk]], STARTS, ENDS):
        if start > end:
            continue
        scope = Scope.of(None if sites is None else type(program.north).objects.filter(pk__in=sites))
        assert _refill_figures(scope, start, end) == direct_figures(scope, start, end), (sites, start, end)


def test_the_rollup_counts_the_refills_an_import_writes_in_bulk(tmp_path):
    site = SiteFactory(name="Imported clinic", time_zone="Europe/London", date_order="dmy")
    with time_machine.travel(dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        assert import_program(write_xlsx(tmp_path / "program.xlsx", clean_sheets()), site, dry_run=False).written
    assert Refill.objects.exists()
    assert stored() == recounted()
