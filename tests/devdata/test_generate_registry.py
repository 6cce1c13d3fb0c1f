"""The synthetic registry keeps every rule the services keep, and the reads stay constant-query.

The generator writes in bulk (COPY on PostgreSQL, bulk_create on SQLite) instead of going through
the services, so these tests hold it to the services' results: the stored schedule of every
patient equals ``recompute_schedule``, each refill's timeliness equals what ``record_refill``
would keep, every row passes model validation. No timings here: the bench measures those.
"""

import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devdata import synthetic
from registry import scheduling, selectors
from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    Pump,
    Refill,
    Reminder,
    ScreeningTrial,
    Site,
    StatusChange,
)
from registry.services import recompute_schedule
from registry.services.schedule import EMPTY_SCHEDULE, schedule_for_refill, site_rules
from tests import oracle

pytestmark = pytest.mark.django_db
SCHEDULE_FIELDS = list(EMPTY_SCHEDULE)


def _generate(patients=200, seed=7, sites=3, now=None):
    return synthetic.generate(patients=patients, seed=seed, sites=sites, batch=80, now=now)


def _fingerprint():
    return [
        (p.mrn, p.status, p.date_of_birth, p.next_refill_due, p.battery_eri_date, p.site.time_zone)
        for p in Patient.objects.select_related("site").order_by("mrn")
    ] + [Refill.objects.count(), DoseChange.objects.count(), FollowUp.objects.count()]


def test_command_builds_a_program_with_realistic_shapes(capsys):
    call_command("generate_registry", patients=200, seed=7, sites=4, quiet=True)

    assert Patient.objects.count() == 200
    assert Site.objects.count() == 4
    assert len(set(Site.objects.values_list("time_zone", flat=True))) == 4
    statuses = Counter(Patient.objects.values_list("status", flat=True))
    assert 0.6 < statuses["implanted"] / 200 < 0.8
    assert len(statuses) >= 6
    implanted = Patient.objects.filter(status="implanted")
    assert not implanted.filter(pumps__explant_date__isnull=True).exclude(next_refill_due__isnull=False).exists()
    assert Refill.objects.count() > 10 * implanted.count()
    assert Pump.objects.filter(replaces__isnull=False).exists()
    assert DoseChange.objects.exists() and GoalReview.objects.exists() and Complication.objects.exists()
    assert Indication.objects.filter(is_primary=True).count() == 200
    assert Reminder.objects.count() == 0
    today_status = Counter(p.refill_status for p in selectors.with_refill_status(implanted))
    assert today_status["due"] > 0 and today_status["upcoming"] > 0
    assert FollowUp.objects.filter(status="scheduled", due_date__lt=timezone.now().date()).exists()
    assert "Generated 200 patients" in capsys.readouterr().out


def test_stored_schedule_equals_recompute_schedule_for_every_patient():
    _generate()
    stored = {p.pk: {f: getattr(p, f) for f in SCHEDULE_FIELDS} for p in Patient.objects.all()}
    assert sum(1 for s in stored.values() if s["next_refill_due"]) > 100

    for patient in Patient.objects.select_related("site"):
        assert recompute_schedule(patient) == stored[patient.pk], patient.mrn


def test_refill_timeliness_is_what_record_refill_would_keep():
    _generate(patients=60)
    checked = 0
    for pump in Pump.objects.select_related("patient__site"):
        rules = site_rules(pump.patient.site)
        refills = list(pump.refills.order_by("performed_at"))
        for previous, refill in zip(refills, refills[1:], strict=False):
            closed = schedule_for_refill(previous, pump, rules)
            performed_on = refill.performed_at.astimezone(rules.zone).date()
            assert refill.due_date_at_refill == closed.next_refill_due
            assert refill.timeliness == scheduling.refill_timeliness(
                performed_on, due_date=closed.next_refill_due, alarm_date=closed.alarm_date
            )
            checked += 1
    assert checked > 200


def test_the_stored_next_dates_equal_a_recompute_after_bulk_writes():
    _generate(patients=80)
    _generate(patients=40)  # a second run: new batches beside the rows already there
    for model, group, day in ((StatusChange, "patient_id", "changed_on"), (GoalReview, "goal_id", "reviewed_on")):
        rows: dict = {}
        for pk, key, on, stored in model.objects.values_list("pk", group, day, "superseded_on"):
            rows.setdefault(key, []).append((on, pk, stored))
        superseded = 0
        for group_rows in rows.values():
            group_rows.sort()
            for (_, pk, stored), following in zip(group_rows, [*group_rows[1:], None], strict=True):
                assert stored == (following[0] if following else None), (model.__name__, pk)
                superseded += following is not None
        assert superseded > 50, model.__name__


def test_every_generated_row_passes_model_validation():
    _generate(patients=15)
    for model in (Patient, StatusChange, Indication, ScreeningTrial, Pump, FollowUp, Goal, GoalReview, Complication):
        for obj in model.objects.all():
            obj.full_clean()
    for model in (Refill, DoseChange):
        for obj in model.objects.select_related("pump__patient__site")[:100]:
            obj.full_clean()


def test_the_same_seed_gives_the_same_program_and_another_seed_another():
    now = timezone.now()
    _generate(patients=80, seed=11, now=now)
    first = _fingerprint()

    synthetic.clear_registry()
    assert Patient.objects.count() == 0 and Site.objects.count() == 0
    _generate(patients=80, seed=11, now=now)
    assert _fingerprint() == first

    synthetic.clear_registry()
    _generate(patients=80, seed=12, now=now)
    assert _fingerprint() != first


def test_running_again_adds_patients_with_new_mrns():
    _generate(patients=30)
    _generate(patients=30)
    assert Patient.objects.count() == 60
    assert Patient.objects.values("mrn").distinct().count() == 60
    assert Site.objects.count() == 3


def test_status_history_walks_the_state_machine_to_the_stored_status():
    _generate(patients=80)
    for patient in Patient.objects.prefetch_related("status_changes"):
        changes = list(patient.status_changes.all())
        assert changes[0].from_status == "" and changes[0].to_status == "referred"
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.changed_on >= before.changed_on
        assert changes[-1].to_status == patient.status
        assert changes[-1].changed_on == patient.status_changed_on


def _worklist_queries(today):
    items = oracle.worklist(start=today, end=today + dt.timedelta(days=14))
    with CaptureQueriesContext(connection) as paged:
        selectors.worklist_page(start=today, end=today + dt.timedelta(days=14), offset=10, limit=50)
    # A statement prepared the first time it runs on a connection (registry/selectors/prepared.py):
    # once per connection, not per page.
    return sum(not q["sql"].startswith("PREPARE") for q in paged.captured_queries), len(items)


def _key(item):
    return (item.patient.pk, item.kind, item.due_date, item.status, item.target_id, item.reason)


@pytest.mark.parametrize("start_days, end_days", [(0, 14), (None, 30), (20, 40)])
def test_a_worklist_page_is_that_slice_of_the_full_worklist(start_days, end_days):
    _generate(patients=300, sites=4)
    today = timezone.now().date()
    start = None if start_days is None else today + dt.timedelta(days=start_days)
    end = today + dt.timedelta(days=end_days)
    full = oracle.worklist(start=start, end=end)
    assert {"refill", "follow_up"} <= {i.kind for i in full} and len({i.status for i in full}) >= 3

    for offset in (0, 50, len(full) - 20):
        page = selectors.worklist_page(start=start, end=end, offset=offset, limit=50)
        assert page.total == len(full)
        assert [_key(i) for i in page.items] == [_key(i) for i in full[offset : offset + 50]]
    some_site = Site.objects.order_by("pk").first()
    mine = Patient.objects.filter(site=some_site)
    scoped = selectors.worklist_page(start=start, end=end, patients=mine, kinds=("refill", "follow_up"), limit=1000)
    expected = oracle.worklist(start=start, end=end, patients=mine, kinds=("refill", "follow_up"))
    assert [_key(i) for i in scoped.items] == [_key(i) for i in expected]


def _list_and_detail_queries():
    with CaptureQueriesContext(connection) as captured:
        qs = selectors.with_refill_status(Patient.objects.select_related("site", "primary_clinician"))
        page = list(qs.order_by("family_name", "given_name", "id")[:50])
        qs.prefetch_related("pumps", "indications").get(pk=page[-1].pk)
    return len(captured.captured_queries)


def test_worklist_and_patient_pages_need_the_same_queries_at_50_and_500_patients():
    today = timezone.now().date()
    _generate(patients=50, sites=3)
    small_queries, small_items = _worklist_queries(today)
    small_pages = _list_and_detail_queries()

    _generate(patients=450, sites=3)
    big_queries, big_items = _worklist_queries(today)

    assert big_items > small_items
    assert big_queries == small_queries
    assert _list_and_detail_queries() == small_pages


def test_worker_processes_build_the_same_program_as_one_process():
    now = timezone.now()
    synthetic.generate(patients=120, seed=5, sites=3, batch=40, workers=1, now=now)
    one = _fingerprint()
    synthetic.clear_registry()
    synthetic.generate(patients=120, seed=5, sites=3, batch=40, workers=2, now=now)
    assert _fingerprint() == one


def test_a_refill_breaking_the_trigger_rules_stops_the_generator(monkeypatch):
    """On PostgreSQL the row triggers are off for the COPY and one query checks the batch instead."""
    add = synthetic.Table.add

    def oversized(table, **values):
        if table.model is Refill:
            values["volume_after_ml"] = 999
        add(table, **values)

    monkeypatch.setattr(synthetic.Table, "add", oversized)
    with pytest.raises((AssertionError, IntegrityError), match="reservoir|break the rules"):
        synthetic.generate(patients=20, seed=3, sites=2, batch=10, workers=1)
