"""``FollowUp.superseded`` is kept by the database (migration 0007) through every kind of write.

Each test compares the stored flag with the rule computed from scratch by
``scheduling.superseded``: a visit is superseded when the patient has a later, not cancelled visit
of the same kind. Runs on SQLite (row triggers) and on
PostgreSQL (statement triggers with transition tables).
"""

import datetime as dt

import pytest

from registry import scheduling, services
from registry.models import FollowUp
from registry.selectors import open_follow_ups
from tests.factories import SiteFactory, make_patient

pytestmark = pytest.mark.django_db

D = dt.date


def _rule() -> dict[int, bool]:
    """``scheduling.superseded``, the rule's one home, applied to every visit."""
    visits = list(FollowUp.objects.all())
    return {v.pk: scheduling.superseded(v, visits) for v in visits}


def _stored() -> dict[int, bool]:
    return dict(FollowUp.objects.values_list("pk", "superseded"))


def _assert_kept():
    assert _stored() == _rule()


@pytest.fixture
def patient():
    return make_patient(SiteFactory())


def _visit(patient, due, kind="annual_review"):
    return services.schedule_follow_up(patient=patient, kind=kind, due_date=due)


@pytest.mark.parametrize(
    ("later_kind", "later_days", "later_status", "expected"),
    [
        ("annual_review", 30, FollowUp.Status.SCHEDULED, True),
        ("annual_review", 30, FollowUp.Status.MISSED, True),
        ("annual_review", 30, FollowUp.Status.COMPLETED, True),
        ("annual_review", 30, FollowUp.Status.CANCELLED, False),
        ("annual_review", 0, FollowUp.Status.SCHEDULED, False),  # the same day is not later
        ("annual_review", -30, FollowUp.Status.SCHEDULED, False),
        ("clinic_review", 30, FollowUp.Status.SCHEDULED, False),  # another kind
    ],
)
def test_the_triggers_agree_with_the_python_rule_case_by_case(patient, later_kind, later_days, later_status, expected):
    first = _visit(patient, D(2026, 3, 1))
    second = FollowUp.objects.create(
        patient=patient,
        kind=later_kind,
        due_date=D(2026, 3, 1) + dt.timedelta(days=later_days),
        status=later_status,
        completed_on=D(2026, 3, 2) if later_status == FollowUp.Status.COMPLETED else None,
    )
    assert _stored()[first.pk] is expected
    assert _rule() == _stored()
    FollowUp.objects.filter(pk=second.pk).delete()
    assert _stored()[first.pk] is False and _rule() == _stored()


def test_rebooking_supersedes_the_missed_visit_and_cancelling_restores_it(patient):
    first = _visit(patient, D(2026, 3, 1))
    other_kind = _visit(patient, D(2026, 2, 1), kind="clinic_review")
    FollowUp.objects.filter(pk=first.pk).update(status=FollowUp.Status.MISSED)
    _assert_kept()
    assert not FollowUp.objects.get(pk=first.pk).superseded

    rebooked = _visit(patient, D(2026, 4, 1))
    _assert_kept()
    assert FollowUp.objects.get(pk=first.pk).superseded
    assert not FollowUp.objects.get(pk=other_kind.pk).superseded  # another kind is not a rebooking

    services.cancel_follow_up(follow_up=rebooked, reason="booked in error")
    _assert_kept()
    assert not FollowUp.objects.get(pk=first.pk).superseded


def test_moving_deleting_and_stale_saves_keep_the_flag(patient):
    a = _visit(patient, D(2026, 3, 1))
    b = _visit(patient, D(2026, 5, 1))
    stale = FollowUp.objects.get(pk=a.pk)
    assert stale.superseded

    # Moving the later visit before the earlier one swaps which one is superseded.
    b.due_date = D(2026, 2, 1)
    b.save()
    _assert_kept()
    assert not FollowUp.objects.get(pk=a.pk).superseded

    # A stale instance written back from Python does not keep its old flag.
    stale.outcome_notes = "phoned the family"
    stale.save()
    _assert_kept()

    # Same day is not "later": neither supersedes the other.
    FollowUp.objects.filter(pk=b.pk).update(due_date=D(2026, 3, 1))
    _assert_kept()
    assert not any(_stored().values())

    FollowUp.objects.filter(pk=b.pk).update(due_date=D(2026, 6, 1))
    assert FollowUp.objects.get(pk=a.pk).superseded
    FollowUp.objects.filter(pk=b.pk).delete()
    _assert_kept()
    assert not FollowUp.objects.get(pk=a.pk).superseded


def test_bulk_writes_and_moves_between_patients(patient):
    other = make_patient(patient.site)
    FollowUp.objects.bulk_create(
        [FollowUp(patient=patient, kind="annual_review", due_date=D(2020 + i, 1, 1)) for i in range(5)]
        + [FollowUp(patient=other, kind="annual_review", due_date=D(2026, 1, 1))]
    )
    _assert_kept()
    assert sum(_stored().values()) == 4

    # Moving the patient's latest visit to another patient changes both groups.
    latest = FollowUp.objects.filter(patient=patient).order_by("-due_date").first()
    FollowUp.objects.filter(pk=latest.pk).update(patient=other)
    _assert_kept()
    FollowUp.objects.filter(patient=patient).update(status=FollowUp.Status.CANCELLED)
    _assert_kept()


def test_a_missed_visit_leaves_the_worklist_once_rebooked(patient):
    from registry.selectors import worklist_page

    def listed():
        page = worklist_page(start=None, end=D(2026, 12, 31), kinds=("follow_up",), now=NOW)
        return [(i.target_id, i.status) for i in page.items]

    missed = _visit(patient, D(2026, 3, 1))
    FollowUp.objects.filter(pk=missed.pk).update(status=FollowUp.Status.MISSED)
    assert listed() == [(missed.pk, "missed")]
    rebooked = _visit(patient, D(2026, 12, 1))
    assert listed() == [(rebooked.pk, "due")]
    assert open_follow_ups(None, start=None, end=D(2026, 12, 31)).count() == 2  # open, but not both listed


NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def test_worklist_page_ranks_visits_by_each_sites_own_cutoff():
    """Sites whose "today" and grace period differ: the SQL page agrees with the Python worklist."""
    import time_machine

    from devdata import synthetic
    from registry import selectors
    from registry.models import Site
    from tests import oracle

    # 23:30 UTC: already tomorrow in Sydney and Tokyo, still today in London and Chicago.
    with time_machine.travel(dt.datetime(2026, 6, 15, 23, 30, tzinfo=dt.UTC), tick=False):
        synthetic.generate(patients=300, seed=5, sites=4, batch=100)
        start, end = dt.date(2026, 6, 15), dt.date(2026, 6, 29)
        for grace, site in zip((0, 3, 10, 30), Site.objects.order_by("pk"), strict=True):
            Site.objects.filter(pk=site.pk).update(follow_up_grace_days=grace)
            # Visits a few days past due: missed at some sites, still due at others.
            patients = site.patients.order_by("pk")[:4]
            for days, p in zip((1, 2, 5, 15), patients, strict=True):
                FollowUp.objects.create(patient=p, kind="goal_review", due_date=start - dt.timedelta(days=days))
        full = oracle.worklist(start=start, end=end, kinds=("follow_up",))
        page = selectors.worklist_page(start=start, end=end, kinds=("follow_up",), limit=len(full) + 1)
    assert {i.status for i in full} == {"due", "missed"}
    assert page.total == len(full)
    key = [(i.patient.pk, i.target_id, i.status) for i in full]
    assert [(i.patient.pk, i.target_id, i.status) for i in page.items] == key
