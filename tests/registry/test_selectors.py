"""The SQL refill status agrees with the pure rule, per site time zone; the worklist is one query."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from registry import services
from registry.models import Patient
from registry.selectors import patient_refill_status, refill_worklist, with_refill_status
from tests.factories import SiteFactory, at, make_implanted

pytestmark = pytest.mark.django_db


def _program():
    """Three patients in London and one in Auckland, filled on different days."""
    london = SiteFactory(name="London", time_zone="Europe/London")
    auckland = SiteFactory(name="Auckland", time_zone="Pacific/Auckland")
    with time_machine.travel(dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC), tick=False):
        patients = []
        for site, day in [
            (london, dt.date(2026, 1, 5)),
            (london, dt.date(2026, 1, 8)),
            (auckland, dt.date(2026, 1, 5)),
        ]:
            patient, pump = make_implanted(site)
            services.record_refill(
                pump=pump,
                performed_at=at(day, tz=site.time_zone),
                volume_after_ml=D("40"),
                concentration_mcg_per_ml=D("2000"),
                daily_dose_mcg=D("400"),
            )
            patients.append(patient)
    return patients


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 6, 18, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 3, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 6, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 13, 11, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 13, 13, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 14, 12, tzinfo=dt.UTC),
    ],
)
def test_sql_status_matches_python_status(now):
    _program()
    with time_machine.travel(now, tick=False):
        for patient in with_refill_status(Patient.objects.select_related("site")):
            assert patient.refill_status == patient_refill_status(patient), (patient.site.name, now)


def test_auckland_reaches_critical_half_a_day_before_london():
    london_patient, _, auckland_patient = _program()
    with time_machine.travel(dt.datetime(2026, 7, 13, 13, tzinfo=dt.UTC), tick=False):  # 01:00 14 July Auckland
        rows = {p.pk: p.refill_status for p in with_refill_status(Patient.objects.all())}
    assert rows[auckland_patient.pk] == "critical"
    assert rows[london_patient.pk] == "overdue"


def test_worklist_orders_by_urgency_in_one_query(django_assert_max_num_queries):
    first, second, _ = _program()
    with time_machine.travel(dt.datetime(2026, 7, 14, 12, tzinfo=dt.UTC), tick=False):
        with django_assert_max_num_queries(2):  # sites' zones, then the worklist itself
            rows = list(refill_worklist(end=dt.date(2026, 7, 28)))
    assert [r.refill_status for r in rows] == ["critical", "critical", "overdue"]
    assert rows[-1].pk == second.pk


def test_worklist_kinds_reasons_and_constant_queries(django_assert_max_num_queries):
    from registry.selectors import worklist_page

    def worklist(**query):
        return worklist_page(**query, limit=1000).items

    first, second, third = _program()
    with time_machine.travel(dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC), tick=False):
        services.schedule_follow_up(patient=second, kind="clinic_review", due_date=dt.date(2026, 6, 20))
        services.schedule_follow_up(patient=third, kind="annual_review", due_date=dt.date(2026, 7, 8))
    with time_machine.travel(dt.datetime(2026, 7, 14, 12, tzinfo=dt.UTC), tick=False):
        with django_assert_max_num_queries(5):
            items = worklist(start=dt.date(2026, 7, 14), end=dt.date(2026, 7, 28))
    got = [(i.patient.pk, i.kind, i.status) for i in items]
    assert got[:3] == [
        (first.pk, "refill", "critical"),
        (third.pk, "refill", "critical"),
        (second.pk, "refill", "overdue"),
    ]
    # 20 June + 7 days of grace has passed: missed; 8 July is still within its grace: due.
    assert (second.pk, "follow_up", "missed") in got and (third.pk, "follow_up", "due") in got
    assert items[0].reason.startswith("Alarm date 14 Jul 2026")
    # Scoping: only the patients given.
    with time_machine.travel(dt.datetime(2026, 7, 14, 12, tzinfo=dt.UTC), tick=False):
        scoped = worklist(start=None, end=dt.date(2026, 7, 28), patients=Patient.objects.filter(pk=second.pk))
    assert {i.patient.pk for i in scoped} == {second.pk}


def test_worklist_battery_window():
    from tests.oracle import worklist

    site = SiteFactory(time_zone="Europe/London")
    with time_machine.travel(dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC), tick=False):
        patient, pump = make_implanted(site, implant_date=dt.date(2025, 6, 2))
        services.update_pump(pump=pump, eri_date=dt.date(2026, 9, 1))
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        assert [
            i.kind for i in worklist(start=None, end=dt.date(2026, 3, 1), kinds=("battery",))
        ] == []  # 184 days ahead
        assert [(i.kind, i.status) for i in worklist(start=None, end=dt.date(2026, 3, 5), kinds=("battery",))] == [
            ("battery", "due")
        ]
    with time_machine.travel(dt.datetime(2026, 9, 2, 12, tzinfo=dt.UTC), tick=False):
        assert [(i.kind, i.status) for i in worklist(start=None, end=dt.date(2026, 9, 2), kinds=("battery",))] == [
            ("battery", "overdue")
        ]


def test_refill_status_q_picks_the_same_patients_as_the_case():
    """The worklist's per-urgency conditions agree with the annotated status, zone by zone."""
    from devdata import synthetic
    from registry.selectors import refill_status_q, site_days

    with time_machine.travel(dt.datetime(2026, 6, 15, 23, 30, tzinfo=dt.UTC), tick=False):
        synthetic.generate(patients=400, seed=7, sites=4, batch=100)
        groups = site_days()
        annotated = with_refill_status(Patient.objects.all())
        seen = set()
        for status in ("critical", "overdue", "due", "upcoming"):
            expected = set(annotated.filter(refill_status=status).values_list("pk", flat=True))
            assert set(Patient.objects.filter(refill_status_q(status, groups)).values_list("pk", flat=True)) == expected
            assert expected, status
            seen |= expected
    assert len(groups) > 1  # the instant straddles midnight across the sites' zones
    assert seen == set(Patient.objects.filter(next_refill_due__isnull=False).values_list("pk", flat=True))


def test_a_page_built_once_still_reads_todays_data_and_moves_with_the_day(django_assert_max_num_queries):
    """The page's statements are kept once built: the data and the sites' days are not in them."""
    from registry.selectors import worklist_page

    first, second, third = _program()
    window = {"start": dt.date(2026, 7, 14), "end": dt.date(2026, 7, 28), "count_limit": 10}
    with time_machine.travel(dt.datetime(2026, 7, 14, 12, tzinfo=dt.UTC), tick=False):
        before = worklist_page(**window)
        services.schedule_follow_up(patient=second, kind="clinic_review", due_date=dt.date(2026, 7, 20))
        with django_assert_max_num_queries(5):
            after = worklist_page(**window)
    added = {(i.patient.pk, i.kind, i.status) for i in after.items} - {
        (i.patient.pk, i.kind, i.status) for i in before.items
    }
    assert added == {(second.pk, "follow_up", "due")}
    assert after.total == before.total + 1
    # A fortnight later the same window is read at another day: the visit's grace has passed.
    with time_machine.travel(dt.datetime(2026, 7, 28, 12, tzinfo=dt.UTC), tick=False):
        later = worklist_page(**window)
    assert (second.pk, "follow_up", "missed") in [(i.patient.pk, i.kind, i.status) for i in later.items]


def test_worklist_rows_load_as_the_orm_loads_them():
    """The worklist builds its rows' instances without ``__init__``: the same loaded and deferred
    fields as ``from_db``, and no init signal it would skip."""
    from django.db.models import signals

    from registry.models import Site
    from registry.selectors.rows import loaded as _loaded
    from registry.selectors.worklist import _PATIENT_COLUMNS, _SITE_COLUMNS

    patient, _ = make_implanted(SiteFactory())
    for model, names, pk in [(Patient, _PATIENT_COLUMNS, patient.pk), (Site, _SITE_COLUMNS, patient.site_id)]:
        assert not signals.pre_init.has_listeners(model) and not signals.post_init.has_listeners(model)
        values = model.objects.filter(pk=pk).values_list(*names).get()
        ours, orms = _loaded(model, names, values), model.from_db("default", names, values)
        assert ours.get_deferred_fields() == orms.get_deferred_fields() != set()
        assert [getattr(ours, n) for n in names] == [getattr(orms, n) for n in names]
        assert (ours._state.adding, ours._state.db, ours.pk) == (False, "default", pk)
    deferred = _loaded(Patient, _PATIENT_COLUMNS, Patient.objects.values_list(*_PATIENT_COLUMNS).get(pk=patient.pk))
    name = sorted(deferred.get_deferred_fields())[0]
    assert getattr(deferred, name) == getattr(patient, name)  # a deferred field loads on access, as with only()


def test_every_sites_day_kept_per_version_moves_at_each_sites_midnight():
    """Every site's day is kept per data version and second: the next second past a site's
    midnight is its next day, with no write in between."""
    from registry.selectors import data_version, sites_today

    tokyo = SiteFactory(time_zone="Asia/Tokyo")
    kathmandu = SiteFactory(time_zone="Asia/Kathmandu")  # UTC+05:45
    version = data_version()

    def days(instant):
        rows = sites_today(instant, version=version)
        return {day.site_id: day.today for day in rows if day.site_id in (tokyo.pk, kathmandu.pk)}

    before = dt.datetime(2026, 7, 14, 18, 14, 59, 999999, tzinfo=dt.UTC)  # 23:59:59.999999 in Kathmandu
    assert days(before) == {tokyo.pk: dt.date(2026, 7, 15), kathmandu.pk: dt.date(2026, 7, 14)}
    assert days(before.replace(microsecond=0)) == days(before)  # the same second: the same days
    after = dt.datetime(2026, 7, 14, 18, 15, tzinfo=dt.UTC)
    assert days(after) == {tokyo.pk: dt.date(2026, 7, 15), kathmandu.pk: dt.date(2026, 7, 15)}
    assert days(before) == {tokyo.pk: dt.date(2026, 7, 15), kathmandu.pk: dt.date(2026, 7, 14)}
