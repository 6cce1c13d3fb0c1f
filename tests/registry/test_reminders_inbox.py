"""acknowledge_reminders: only the user's own open reminders, each once."""

import datetime as dt

import pytest

from registry.models import Reminder
from registry.services import acknowledge_reminders, open_reminders
from tests.factories import UserFactory, make_patient

pytestmark = pytest.mark.django_db


def make_reminder(patient, user, *, status=Reminder.Status.SENT, lead=7, kind=Reminder.Kind.REFILL_DUE):
    return Reminder.objects.create(
        kind=kind,
        patient=patient,
        site=patient.site,
        target_type="pump",
        target_id=patient.pk,
        due_date=dt.date(2026, 3, 2),
        lead_days=lead,
        recipient=f"user:{user.pk}",
        recipient_user=user,
        channel=Reminder.Channel.INBOX,
        status=status,
    )


def test_acknowledges_own_open_reminders_once(site, coordinator):
    patient = make_patient(site)
    other = UserFactory(role="coordinator", role__sites=[site])
    mine = [make_reminder(patient, coordinator, lead=n) for n in (14, 7)]
    cancelled = make_reminder(patient, coordinator, lead=2, status=Reminder.Status.CANCELLED)
    theirs = make_reminder(patient, other)

    ids = [r.pk for r in [*mine, cancelled, theirs]]
    assert acknowledge_reminders(user=coordinator, ids=ids) == 2
    assert acknowledge_reminders(user=coordinator, ids=ids) == 0

    for r in mine:
        r.refresh_from_db()
        assert r.status == Reminder.Status.ACKNOWLEDGED
        assert r.acknowledged_by == coordinator and r.acknowledged_at is not None
    cancelled.refresh_from_db()
    theirs.refresh_from_db()
    assert cancelled.status == Reminder.Status.CANCELLED
    assert theirs.status == Reminder.Status.SENT and theirs.acknowledged_by is None
    assert open_reminders(coordinator).count() == 0
    assert open_reminders(other).count() == 1


def test_nothing_to_do_without_ids(coordinator):
    assert acknowledge_reminders(user=coordinator, ids=[]) == 0


def test_the_headers_count_is_the_inbox_count_for_every_role_and_scope(site, other_site, coordinator):
    from registry.services.reminders.inbox import _COUNT_SQL, open_reminder_count

    here, there = make_patient(site), make_patient(other_site)
    admin = UserFactory(role="administrator")
    moved = UserFactory(role="coordinator", role__sites=[other_site])
    reporting = UserFactory(role="reporting")
    for user in (coordinator, admin, moved, reporting):
        make_reminder(here, user)
        make_reminder(there, user, lead=3)
        make_reminder(here, user, lead=1, status=Reminder.Status.ACKNOWLEDGED)
    make_reminder(there, moved, lead=2)
    _COUNT_SQL.clear()
    # Each statement is built for the first user of its kind and reused for the next.
    expected = {coordinator: 1, moved: 2, admin: 2, reporting: 0}
    for user, count in [*expected.items(), *reversed(expected.items())]:
        assert open_reminder_count(user) == open_reminders(user).count() == count
    assert len(_COUNT_SQL) == 2
