"""A small ITB program whose 2026 figures were worked out by hand (see tests/reporting/test_reports.py).

Two sites, North and South (both Europe/London), seven patients, built through the services as
users build them. Refill timeliness is the refill service's business (tested in test_services);
here each refill's stored timeliness is set to a chosen value so the report's counts can be
derived by hand from this file alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D

from registry import services
from registry.models import FollowUp, Patient, Refill, Reminder
from tests.factories import SiteFactory, at, make_implanted, make_patient

NOW = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
d = dt.date

# Every identifying value of the fixture patients: none may appear in a report or export.
IDENTIFYING = {
    "given_name": "Adaline",
    "family_name": "Quixotewell",
    "mrn": "MRN-Q-80417",
    "guardian_name": "Gwendolyn Parentsworth",
    "contact_phone": "+44 7700 900123",
    "contact_email": "ada.family@example.org",
}
ADA_DOB = d(2011, 12, 31)


@dataclass
class Program:
    north: object
    south: object
    ada: Patient
    ben: Patient
    cleo: Patient
    dan: Patient
    eve: Patient
    finn: Patient
    gus: Patient

    def identifying_values(self) -> list[str]:
        values = []
        for p in (self.ada, self.ben, self.cleo, self.dan, self.eve, self.finn, self.gus):
            values += [p.given_name, p.family_name, p.mrn, p.date_of_birth.isoformat()]
            values += [v for v in (p.guardian_name, p.contact_phone, p.contact_email) if v]
        return values


def refill(pump, day, timeliness, hour=10):
    r = services.record_refill(
        pump=pump,
        performed_at=at(day, hour),
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("500"),
        daily_dose_mcg=D("100"),
    )
    Refill.objects.filter(pk=r.pk).update(timeliness=timeliness)
    return r


def walk(patient, *steps):
    for status, day in steps:
        services.change_status(patient=patient, to_status=status, on=day)


def reminder(patient, n, created, status, ack_after_hours=None, channel=Reminder.Channel.INBOX, error=""):
    """One message of the reminder event ``n`` (a refill due on ``created``), as delivery leaves it.

    Inbox messages are posted (sent) when created, as the sweep does; other channels are sent only
    when ``status`` says a delivery happened (sent, or acknowledged without an ``error``).
    """
    created_at = dt.datetime.combine(created, dt.time(9), tzinfo=dt.UTC)
    delivered = channel == Reminder.Channel.INBOX or status == Reminder.Status.SENT
    delivered = delivered or (status == Reminder.Status.ACKNOWLEDGED and not error)
    r = Reminder.objects.create(
        kind=Reminder.Kind.REFILL_DUE,
        patient=patient,
        site=patient.site,
        target_type="pump",
        target_id=n,
        due_date=created,
        lead_days=0,
        recipient="user:1" if channel == Reminder.Channel.INBOX else "coordinator@clinic.test",
        channel=channel,
        status=status,
        last_error=error,
    )
    fields = {"created_at": created_at, "sent_at": created_at if delivered else None}
    if ack_after_hours is not None:
        fields["acknowledged_at"] = created_at + dt.timedelta(hours=ack_after_hours)
    Reminder.objects.filter(pk=r.pk).update(**fields)


def build_program() -> Program:
    """Build the program; call with time frozen at ``NOW``."""
    north = SiteFactory(name="North", time_zone="Europe/London")
    south = SiteFactory(name="South", time_zone="Europe/London")

    # Ada (North): referred 2025, implanted 2025-06-02, pump replaced 2026-07-01.
    ada = make_patient(north, status="referred", status_on=d(2025, 3, 1), dob=ADA_DOB, sex="female", **IDENTIFYING)
    services.add_indication(patient=ada, diagnosis="cerebral_palsy", gmfcs_level=4)
    walk(ada, ("evaluating", d(2025, 4, 1)), ("screening", d(2025, 5, 1)))
    services.record_screening_trial(
        patient=ada, performed_on=d(2025, 5, 10), test_dose_mcg=D("50"), response="positive"
    )
    walk(ada, ("candidate", d(2025, 5, 15)))
    ada_pump1 = services.implant_pump(patient=ada, implant_date=d(2025, 6, 2), reservoir_volume_ml=D("40"))
    refill(ada_pump1, d(2025, 12, 1), "first")
    refill(ada_pump1, d(2026, 3, 1), "on_time")
    ada_pump2 = services.replace_pump(pump=ada_pump1, implant_date=d(2026, 7, 1))
    refill(ada_pump2, d(2026, 7, 1), "late", hour=15)
    refill(ada_pump2, d(2026, 10, 1), "on_time")
    services.record_complication(
        patient=ada, occurred_on=d(2026, 8, 15), kind="infection", pump=ada_pump2, needed_surgery=True
    )
    comfort = services.set_goal(
        patient=ada, category="comfort", description="Sits comfortably", set_on=d(2025, 6, 1), weight=2
    )
    services.review_goal(goal=comfort, reviewed_on=d(2026, 2, 1), score=-1)
    services.review_goal(goal=comfort, reviewed_on=d(2026, 9, 1), score=1)
    positioning = services.set_goal(patient=ada, category="positioning", description="Transfers", set_on=d(2025, 6, 1))
    services.review_goal(goal=positioning, reviewed_on=d(2026, 9, 1), score=0)
    services.review_goal(goal=positioning, reviewed_on=d(2027, 1, 5), score=2)  # after the period
    services.set_goal(patient=ada, category="pain", description="Less pain at night", set_on=d(2026, 1, 10))
    annual = services.schedule_follow_up(patient=ada, kind="annual_review", due_date=d(2026, 6, 10))
    services.complete_follow_up(follow_up=annual, completed_on=d(2026, 6, 12))
    missed = services.schedule_follow_up(patient=ada, kind="clinic_review", due_date=d(2026, 11, 1))
    FollowUp.objects.filter(pk=missed.pk).update(status=FollowUp.Status.MISSED)
    titration = services.schedule_follow_up(patient=ada, kind="titration", due_date=d(2026, 2, 1))
    services.complete_follow_up(follow_up=titration, completed_on=d(2026, 2, 20))  # after the 7 grace days
    reminder(ada, 1, d(2026, 3, 1), Reminder.Status.ACKNOWLEDGED, ack_after_hours=5)
    # The same due thing on a second channel: one reminder event, two messages.
    reminder(ada, 1, d(2026, 3, 1), Reminder.Status.SENT, channel=Reminder.Channel.EMAIL)
    reminder(ada, 2, d(2026, 4, 1), Reminder.Status.FAILED, channel=Reminder.Channel.EMAIL, error="timeout")
    # An e-mail that failed, then acknowledged in the inbox two hours later: it stays failed.
    reminder(
        ada,
        7,
        d(2026, 4, 15),
        Reminder.Status.ACKNOWLEDGED,
        ack_after_hours=2,
        channel=Reminder.Channel.EMAIL,
        error="550 mailbox unavailable",
    )
    # An inbox reminder cancelled after the refill was done: it was delivered (posted) all the same.
    reminder(ada, 8, d(2026, 8, 20), Reminder.Status.CANCELLED)
    reminder(ada, 3, d(2026, 5, 1), Reminder.Status.ACKNOWLEDGED, ack_after_hours=9)
    reminder(ada, 4, d(2026, 6, 1), Reminder.Status.SENT)
    reminder(ada, 5, d(2026, 7, 1), Reminder.Status.PENDING, channel=Reminder.Channel.EMAIL)
    # A family SMS whose reason went away before it was sent.
    reminder(ada, 9, d(2026, 9, 10), Reminder.Status.CANCELLED, channel=Reminder.Channel.FAMILY_SMS)
    reminder(ada, 6, d(2025, 7, 1), Reminder.Status.ACKNOWLEDGED, ack_after_hours=100)  # before the period

    # Ben (North): implanted 2024-02-01, explanted without successor 2026-04-30.
    ben, ben_pump = make_implanted(
        north, implant_date=d(2024, 2, 1), dob=d(1980, 6, 15), sex="male", given_name="Benedikt", family_name="Oyelaran"
    )
    services.add_indication(patient=ben, diagnosis="spinal_cord_injury")
    refill(ben_pump, d(2025, 11, 15), "first")
    refill(ben_pump, d(2026, 2, 10), "after_alarm")
    services.record_complication(patient=ben, occurred_on=d(2026, 2, 10), kind="catheter")
    services.record_complication(patient=ben, occurred_on=d(2026, 4, 20), kind="infection", pump=ben_pump)
    services.explant_pump(pump=ben_pump, explant_date=d(2026, 4, 30), reason="Pocket infection")
    ben_goal = services.set_goal(patient=ben, category="comfort", description="Sleeps through", set_on=d(2024, 3, 1))
    services.review_goal(goal=ben_goal, reviewed_on=d(2026, 5, 1), score=-2)
    post_op = services.schedule_follow_up(patient=ben, kind="post_op", due_date=d(2026, 5, 7))
    services.cancel_follow_up(follow_up=post_op)

    # Cleo: referred at North 2026-02-01, implanted there 2026-04-01, her care moved to South from
    # 2026-09-01 (refilled there 2026-09-20).
    cleo = make_patient(north, status="referred", status_on=d(2026, 2, 1), given_name="Cleopatra", family_name="Zwane")
    services.add_indication(patient=cleo, diagnosis="cerebral_palsy", gmfcs_level=3)
    walk(cleo, ("evaluating", d(2026, 2, 15)), ("screening", d(2026, 3, 1)))
    services.record_screening_trial(
        patient=cleo, performed_on=d(2026, 3, 5), test_dose_mcg=D("50"), response="negative"
    )
    services.record_screening_trial(
        patient=cleo, performed_on=d(2026, 3, 6), test_dose_mcg=D("75"), response="positive"
    )
    walk(cleo, ("candidate", d(2026, 3, 10)))
    cleo_pump = services.implant_pump(patient=cleo, implant_date=d(2026, 4, 1), reservoir_volume_ml=D("40"))
    refill(cleo_pump, d(2026, 4, 1), "first", hour=16)
    services.move_patient(patient=cleo, to_site=south, on=d(2026, 9, 1))
    cleo.refresh_from_db()
    refill(cleo_pump, d(2026, 9, 20), "on_time")
    services.schedule_follow_up(patient=cleo, kind="clinic_review", due_date=d(2027, 1, 20))  # after the period

    # Dan (North): referred 2026-05-01, trial negative, not a candidate.
    dan = make_patient(
        north, status="referred", status_on=d(2026, 5, 1), given_name="Dashiell", family_name="Marchetti"
    )
    services.add_indication(patient=dan, diagnosis="multiple_sclerosis")
    walk(dan, ("evaluating", d(2026, 6, 1)), ("screening", d(2026, 6, 15)))
    services.record_screening_trial(
        patient=dan, performed_on=d(2026, 6, 20), test_dose_mcg=D("50"), response="negative"
    )
    # A CSF leak after the trial: no pump time behind it.
    services.record_complication(patient=dan, occurred_on=d(2026, 6, 21), kind="csf_leak")
    walk(dan, ("not_candidate", d(2026, 7, 1)))

    # Eve (South): referred 2026-11-01, evaluating only after the period (2027-01-05).
    eve = make_patient(south, status="referred", status_on=d(2026, 11, 1), given_name="Evangeline", family_name="Koss")
    # Never marked missed by a sweep: the dates alone make it missed once its grace days are over.
    services.schedule_follow_up(patient=eve, kind="clinic_review", due_date=d(2026, 12, 1))
    walk(eve, ("evaluating", d(2027, 1, 5)))

    # Finn (North): registered after the period.
    finn = make_patient(north, status="referred", status_on=d(2027, 1, 5), given_name="Finnegan", family_name="Abara")

    # Gus (North): implanted 2023, died 2025-12-01 with the pump in place.
    gus, _ = make_implanted(
        north, implant_date=d(2023, 5, 1), dob=d(1966, 6, 1), given_name="Gustavo", family_name="Lindqvist"
    )
    walk(gus, ("deceased", d(2025, 12, 1)))

    return Program(north, south, ada, ben, cleo, dan, eve, finn, gus)
