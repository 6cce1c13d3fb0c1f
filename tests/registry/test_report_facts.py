"""The facts stored for the report stay equal to the rows they come from through every kind of write:
each visit's site on its due date (``FollowUp.due_site``), the pump spans per site (``PumpSpan``),
the goal's patient, category, weight and date set on each of its reviews, and the patient's
primary indication on each of their status changes. The report's
follow-up and pump-day figures, read from them, equal a count of the raw rows over any period and
scope."""

import datetime as dt
from collections import Counter
from decimal import Decimal as D
from itertools import product

import pytest
import time_machine
from django.db.models import F

from registry import services
from registry.models import (
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    PatientStatus,
    Pump,
    PumpSpan,
    Site,
    SiteStay,
    StatusChange,
)
from reporting.reports.outcomes import _follow_ups
from reporting.reports.refills import pump_days_by_site
from reporting.reports.scope import Scope
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def _holds(stay: SiteStay, day: dt.date) -> bool:
    return (stay.started_on is None or stay.started_on <= day) and (stay.ended_on is None or stay.ended_on > day)


def due_sites() -> dict[int, int | None]:
    """Each visit's site on its due date, from the stays."""
    stays = list(SiteStay.objects.order_by(F("started_on").desc(nulls_last=True)))
    return {
        f.pk: next((s.site_id for s in stays if s.patient_id == f.patient_id and _holds(s, f.due_date)), None)
        for f in FollowUp.objects.all()
    }


def stored_due_sites() -> dict[int, int | None]:
    return dict(FollowUp.objects.values_list("pk", "due_site_id"))


def spans() -> Counter:
    """The pump spans computed again from the pumps, the stays and the first date of death."""
    died = {}
    for patient, day in StatusChange.objects.filter(to_status=PatientStatus.DECEASED).values_list(
        "patient_id", "changed_on"
    ):
        died[patient] = min(day, died.get(patient, day))
    found = Counter()
    for pump in Pump.objects.all():
        for stay in SiteStay.objects.filter(patient_id=pump.patient_id):
            first = max(pump.implant_date, stay.started_on or pump.implant_date)
            ends = [e for e in (pump.explant_date, stay.ended_on, died.get(pump.patient_id)) if e is not None]
            last = min(ends) if ends else None
            if last is None or last > first:
                found[(pump.patient_id, stay.site_id, first, last)] += 1
    return found


def stored_spans() -> Counter:
    return Counter(PumpSpan.objects.values_list("patient_id", "site_id", "started_on", "ended_on"))


def goal_copies() -> dict:
    return {
        r.pk: (r.goal.patient_id, r.goal.category, r.goal.weight, r.goal.set_on)
        for r in GoalReview.objects.select_related("goal")
    }


def stored_goal_copies() -> dict:
    return {
        pk: tuple(rest)
        for pk, *rest in GoalReview.objects.values_list("pk", "patient_id", "category", "weight", "goal_set_on")
    }


def primary_indications() -> dict:
    primary = {i.patient_id: (i.diagnosis, i.gmfcs_level) for i in Indication.objects.filter(is_primary=True)}
    return {s.pk: primary.get(s.patient_id, (None, None)) for s in StatusChange.objects.all()}


def stored_primary_indications() -> dict:
    return {
        pk: (dx, gmfcs)
        for pk, dx, gmfcs in StatusChange.objects.values_list("pk", "primary_diagnosis", "primary_gmfcs_level")
    }


def assert_facts_hold():
    assert stored_due_sites() == due_sites()
    assert None not in stored_due_sites().values()
    assert stored_spans() == spans()
    assert stored_goal_copies() == goal_copies()
    assert stored_primary_indications() == primary_indications()


def test_the_facts_follow_every_write(program):
    assert_facts_hold()
    assert PumpSpan.objects.exists() and GoalReview.objects.exists()
    ada, eve = program.ada, program.eve
    with time_machine.travel(NOW, tick=False):
        # Moved: visits due from the move count at the new site, her pump time is split there.
        services.move_patient(patient=ada, to_site=program.south, on=d(2026, 10, 1))
        assert FollowUp.objects.get(patient=ada, due_date=d(2026, 11, 1)).due_site_id == program.south.pk
        assert FollowUp.objects.get(patient=ada, due_date=d(2026, 6, 10)).due_site_id == program.north.pk
        assert_facts_hold()
        # A visit booked, rebooked to before the move, handed to another patient.
        visit = services.schedule_follow_up(patient=ada, kind="clinic_review", due_date=d(2027, 2, 1))
        assert visit.pk and FollowUp.objects.get(pk=visit.pk).due_site_id == program.south.pk
        FollowUp.objects.filter(pk=visit.pk).update(due_date=d(2026, 9, 1))
        assert_facts_hold()
        FollowUp.objects.filter(pk=visit.pk).update(patient=eve)
        assert_facts_hold()
        # A writer cannot set the stored site itself.
        FollowUp.objects.filter(pk=visit.pk).update(due_site=program.south)
        assert_facts_hold()
        # A pump explanted, one implanted, a death recorded.
        pump = ada.pumps.get(explant_date__isnull=True)
        services.explant_pump(pump=pump, explant_date=d(2026, 12, 1), reason="Not needed")
        assert_facts_hold()
        services.implant_pump(patient=ada, implant_date=d(2026, 12, 20), reservoir_volume_ml=D("40"))
        assert_facts_hold()
        assert PumpSpan.objects.filter(patient=ada, started_on=d(2026, 12, 20), ended_on__isnull=True).exists()
        services.change_status(patient=ada, to_status=PatientStatus.DECEASED, on=d(2027, 1, 2))
        assert_facts_hold()
    # Rows changed in bulk, a death redated and removed, a stay redated, pumps removed.
    Pump.objects.filter(patient=ada).update(implant_date=d(2025, 7, 1))
    assert_facts_hold()
    StatusChange.objects.filter(patient=ada, to_status=PatientStatus.DECEASED).update(changed_on=d(2026, 11, 1))
    assert_facts_hold()
    StatusChange.objects.filter(patient=ada, to_status=PatientStatus.DECEASED).delete()
    assert_facts_hold()
    SiteStay.objects.filter(patient=ada, ended_on__isnull=False).update(ended_on=d(2026, 8, 1))
    SiteStay.objects.filter(patient=ada, ended_on__isnull=True).update(started_on=d(2026, 8, 1))
    assert_facts_hold()
    Pump.objects.filter(patient=ada, refills__isnull=True, replaces__isnull=True).delete()
    assert_facts_hold()
    # A goal changed under its reviews, a review moved to another goal, reviews written in bulk.
    goal = Goal.objects.filter(reviews__isnull=False).first()
    Goal.objects.filter(pk=goal.pk).update(category="sleep", weight=3, set_on=d(2024, 1, 1), patient=eve)
    assert_facts_hold()
    other = Goal.objects.exclude(pk=goal.pk).first()
    GoalReview.objects.filter(goal=goal).update(goal=other)
    assert_facts_hold()
    GoalReview.objects.bulk_create([GoalReview(goal=goal, reviewed_on=d(2026, 3, 1), score=1)])
    assert_facts_hold()
    GoalReview.objects.filter(goal=other).update(category="pain", weight=9)
    assert_facts_hold()
    # A primary indication added, changed, demoted, another made primary, one removed; a status
    # change handed to another patient and one written with a wrong copy.
    with time_machine.travel(NOW, tick=False):
        services.add_indication(patient=eve, diagnosis="dystonia_primary", gmfcs_level=2, is_primary=True)
    assert_facts_hold()
    Indication.objects.filter(patient=eve).update(gmfcs_level=5)
    assert_facts_hold()
    Indication.objects.filter(patient=ada, is_primary=True).update(is_primary=False)
    assert_facts_hold()
    Indication.objects.filter(patient=ada).update(is_primary=True, diagnosis="dystonia_primary")
    assert_facts_hold()
    Indication.objects.filter(patient=eve).delete()
    assert_facts_hold()
    StatusChange.objects.filter(pk=StatusChange.objects.filter(patient=ada).first().pk).update(patient=eve)
    StatusChange.objects.filter(patient=eve).update(primary_diagnosis="other")
    assert_facts_hold()


def direct_follow_ups(sites: set[int] | None, start: dt.date, end: dt.date, today: dt.date) -> dict:
    """The follow-up counts from the visits and the stays, one visit at a time."""
    site_of = due_sites()
    grace = dict(Site.objects.values_list("pk", "follow_up_grace_days"))
    counts = Counter()
    for f in FollowUp.objects.filter(due_date__gte=start, due_date__lte=end):
        site = site_of[f.pk]
        if site is None or (sites is not None and site not in sites):
            continue
        counts["due"] += 1
        late = f.due_date + dt.timedelta(days=grace[site])
        if f.completed_on is not None:
            counts["completed"] += 1
            counts["completed_late"] += f.completed_on > late
        elif f.status == FollowUp.Status.CANCELLED:
            counts["cancelled"] += 1
        elif late < today:
            counts["missed"] += 1
    return counts


def direct_pump_days(sites: set[int] | None, start: dt.date, end: dt.date) -> Counter:
    days = Counter()
    for (_, site, first, last), n in spans().items():
        first, last = max(first, start), min(last or end + dt.timedelta(days=1), end + dt.timedelta(days=1))
        if last > first and (sites is None or site in sites):
            days[site] += (last - first).days * n
    return days


PERIODS = [(d(2026, 1, 1), d(2026, 12, 31)), (d(2026, 3, 1), d(2026, 9, 15)), (d(2025, 7, 1), d(2027, 1, 9))]


def test_the_figures_equal_a_count_of_the_raw_rows(program):
    with time_machine.travel(NOW, tick=False):
        services.move_patient(patient=program.ada, to_site=program.south, on=d(2026, 8, 15))
        services.change_status(patient=program.ada, to_status=PatientStatus.DECEASED, on=d(2026, 12, 5))
    today = NOW.date()
    for sites, (start, end) in product([None, {program.north.pk}, {program.south.pk}], PERIODS):
        scope = Scope.of(None if sites is None else Site.objects.filter(pk__in=sites))
        report = _follow_ups(scope, start, end, today)
        direct = direct_follow_ups(sites, start, end, today)
        for key in ("due", "completed", "completed_late", "missed", "cancelled"):
            assert report[key] == direct[key], (sites, start, end, key)
        assert +pump_days_by_site(scope, start, end) == +direct_pump_days(sites, start, end), (sites, start, end)
