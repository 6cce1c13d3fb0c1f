"""Properties of the stored schedule and the SQL worklist over random programs, on the real database.

Each example builds a small program (sites with their own zones, grace periods, lead windows and
closed days; patients implanted, refilled, with dose changes at random minutes, some at a refill's
own minute; pump replacements, visits booked, completed, cancelled or missed, deaths, transfers
and moves between sites) through the services, the API and the dashboard forms, in one
transaction rolled back after the example (``hypothesis.extra.django.TestCase``). A write the
registry refuses is part of the program too: it must leave everything as it was.

- the stored schedule equals a fresh recompute from the records, whatever the writes;
- the SQL worklist (``worklist_page``) equals the oracle (``tests/oracle.py``) on several days.
"""

import datetime as dt
import os
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from rest_framework.test import APIClient

from registry import services
from registry.models import ClosedDay, FollowUp, Patient, Pump
from registry.selectors import worklist_page
from registry.services.schedule import EMPTY_SCHEDULE
from tests import oracle
from tests.factories import SiteFactory, UserFactory, make_patient

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
ZONES = ["Europe/London", "America/New_York", "Pacific/Auckland"]
KINDS = ["post_op", "titration", "annual_review"]
SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 500)),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

minute_ago = st.integers(0, 200 * 24 * 60)  # when, in minutes before NOW: DST changes included
amount = st.sampled_from(["20", "100", "400", "800"])
step = st.one_of(
    st.tuples(
        st.just("refill"), minute_ago, st.sampled_from(["10", "20", "40"]), st.sampled_from(["500", "2000"]), amount
    ),
    st.tuples(st.just("dose"), st.one_of(st.just(-1), minute_ago), amount),  # -1: the latest refill's minute
    st.tuples(st.just("replace"), st.integers(0, 200)),
    st.tuples(st.just("visit"), st.sampled_from(KINDS), st.integers(-60, 60)),
    st.tuples(st.just("close_visit"), st.integers(0, 5), st.sampled_from(["complete", "cancel", "sweep"])),
    st.tuples(st.just("status"), st.sampled_from(["deceased", "transferred", "discontinued", "explanted"])),
    st.tuples(st.just("move"), st.integers(0, 30)),
)
programs = st.fixed_dictionaries(
    {
        "sites": st.lists(
            st.tuples(st.sampled_from(ZONES), st.integers(0, 10), st.integers(1, 21), st.integers(-20, 60)),
            min_size=2,
            max_size=2,
        ),
        "patients": st.lists(
            st.tuples(st.integers(0, 1), st.integers(150, 300), st.lists(step, max_size=4)), max_size=1
        ),
        # Half the writes through the services, a quarter each through the API and the dashboard forms:
        # a request costs several service calls, and CI runs 500 examples on two databases.
        "surfaces": st.lists(st.sampled_from(["service", "service", "api", "dashboard"]), min_size=5, max_size=5),
    }
)

# Stored rows for the worklist property: what any history of writes can leave behind.
day = st.integers(-60, 60).map(lambda d: (NOW + dt.timedelta(days=d)).date())
stored_patients = st.tuples(
    st.integers(0, 1),  # site
    st.sampled_from(["implanted", "implanted", "implanted", "referred", "deceased", "transferred", "explanted"]),
    st.none() | st.tuples(day, st.integers(0, 30), st.integers(0, 10), st.booleans()),  # due, alarm after, empty after
    st.none() | day,  # battery ERI
    st.lists(
        st.tuples(
            st.sampled_from(KINDS[:2]),
            day,
            st.sampled_from(["scheduled", "scheduled", "missed", "completed", "cancelled"]),
        ),
        max_size=4,
    ),
)
stored_programs = st.tuples(
    st.lists(st.tuples(st.sampled_from(ZONES), st.integers(0, 10), st.integers(1, 21)), min_size=2, max_size=2),
    st.lists(stored_patients, min_size=1, max_size=4),
)


class _Program:
    """Runs a drawn program's writes through the chosen surfaces."""

    def __init__(self, user, surfaces):
        self.user, self.surfaces, self.n = user, surfaces, 0
        self.api = APIClient()
        self.api.force_authenticate(user)
        self.web = Client()
        self.web.force_login(user)

    def surface(self) -> str:
        self.n += 1
        return self.surfaces[self.n % len(self.surfaces)]

    def write(self, service, api=None, web=None):
        """One write through a surface; a refused one (400, a form error, a service error) changes nothing."""
        surface = self.surface()
        if surface == "api" and api is not None:
            self.api.post(api[0], api[1], format="json")
        elif surface == "dashboard" and web is not None:
            self.web.post(web[0], web[1])
        else:
            try:
                service()
            except (ValidationError, IntegrityError):
                pass

    def run(self, sites, patient, steps):
        pump = lambda: Pump.objects.filter(patient=patient, explant_date__isnull=True).first()  # noqa: E731
        last_refill_at = None
        for kind, *args in steps:
            active = pump()
            if kind == "refill" and active:
                at = NOW - dt.timedelta(minutes=args[0])
                body = {
                    "pump": active.pk,
                    "performed_at": at.isoformat(),
                    "volume_after_ml": args[1],
                    "concentration_mcg_per_ml": args[2],
                    "daily_dose_mcg": args[3],
                    "confirmed": True,
                }
                web = {**body, "performed_at": at.astimezone(patient.site.zone).strftime("%Y-%m-%dT%H:%M")}
                web |= {"volume_removed_ml": "0", "action": "save", "confirmed": "on"}
                del web["pump"]
                self.write(
                    lambda a=active, at=at, v=args[1], c=args[2], d=args[3]: services.record_refill(
                        pump=a,
                        performed_at=at,
                        volume_after_ml=Decimal(v),
                        concentration_mcg_per_ml=Decimal(c),
                        daily_dose_mcg=Decimal(d),
                        confirmed=True,
                    ),
                    ("/api/v1/refills/", body),
                    (f"/patients/{patient.pk}/refills/new/", web),
                )
                last_refill_at = at
            elif kind == "dose" and active:
                at = last_refill_at if args[0] == -1 and last_refill_at else NOW - dt.timedelta(minutes=max(args[0], 0))
                at = at.replace(second=0, microsecond=0)
                body = {"pump": active.pk, "effective_at": at.isoformat(), "daily_dose_mcg": args[1], "confirmed": True}
                web = {
                    "effective_at": at.astimezone(patient.site.zone).strftime("%Y-%m-%dT%H:%M"),
                    "daily_dose_mcg": args[1],
                    "confirmed": "on",
                }
                self.write(
                    lambda a=active, at=at, d=args[1]: services.record_dose_change(
                        pump=a, effective_at=at, daily_dose_mcg=Decimal(d), confirmed=True
                    ),
                    ("/api/v1/dose-changes/", body),
                    (f"/patients/{patient.pk}/dose-changes/new/", web),
                )
            elif kind == "replace" and active:
                day = (NOW - dt.timedelta(days=args[0])).date()
                self.write(
                    lambda a=active, d=day: services.replace_pump(pump=a, implant_date=d),
                    (f"/api/v1/pumps/{active.pk}/replace/", {"implant_date": day.isoformat()}),
                    (f"/patients/{patient.pk}/pump/replace/", {"implant_date": day.isoformat(), "reason": "battery"}),
                )
            elif kind == "visit":
                due = (NOW + dt.timedelta(days=args[1])).date()
                body = {"patient": patient.pk, "kind": args[0], "due_date": due.isoformat()}
                self.write(
                    lambda k=args[0], d=due: services.schedule_follow_up(patient=patient, kind=k, due_date=d),
                    ("/api/v1/follow-ups/", body),
                    (f"/patients/{patient.pk}/follow-ups/new/", {"kind": args[0], "due_date": due.isoformat()}),
                )
            elif kind == "close_visit":
                visits = list(FollowUp.objects.filter(patient=patient, status="scheduled").order_by("pk"))
                if visits:
                    visit = visits[args[0] % len(visits)]
                    if args[1] == "sweep":
                        services.mark_missed_follow_ups(site=patient.site, today=NOW.date())
                    elif args[1] == "complete":
                        self.write(lambda v=visit: services.complete_follow_up(follow_up=v, completed_on=NOW.date()))
                    else:
                        self.write(lambda v=visit: services.cancel_follow_up(follow_up=v, reason="rebooked"))
            elif kind == "status":
                on = (NOW - dt.timedelta(days=1)).date().isoformat()
                if args[0] == "explanted" and active:
                    body = {"explant_date": on, "reason": "infection"}
                    self.write(
                        lambda a=active: services.explant_pump(pump=a, explant_date=NOW.date(), reason="infection"),
                        (f"/api/v1/pumps/{active.pk}/explant/", body),
                        (f"/patients/{patient.pk}/pump/explant/", body),
                    )
                elif args[0] != "explanted":
                    body = {"to_status": args[0], "on": on, "reason": "recorded"}
                    self.write(
                        lambda s=args[0]: services.change_status(patient=patient, to_status=s),
                        (f"/api/v1/patients/{patient.pk}/status/", body),
                        (f"/patients/{patient.pk}/status/", body),
                    )
            elif kind == "move" and len(sites) > 1:
                to = next(s for s in sites if s.pk != Patient.objects.get(pk=patient.pk).site_id)
                on = (NOW - dt.timedelta(days=args[0])).date()
                self.write(lambda t=to, d=on: services.move_patient(patient=patient, to_site=t, on=d))
            patient.refresh_from_db()


def _build(program, user) -> list[Patient]:
    sites = []
    for zone, grace, lead, closed in program["sites"]:
        site = SiteFactory(time_zone=zone, follow_up_grace_days=grace, refill_lead_days=[lead])
        ClosedDay.objects.create(site=site, date=(NOW + dt.timedelta(days=closed)).date(), reason="holiday")
        sites.append(site)
    runner = _Program(user, program["surfaces"])
    patients = []
    for site_index, implanted_days_ago, steps in program["patients"]:
        site = sites[site_index % len(sites)]
        implant = (NOW - dt.timedelta(days=implanted_days_ago)).date()
        patient = make_patient(site, status="candidate", status_on=implant - dt.timedelta(days=30))
        services.implant_pump(patient=patient, implant_date=implant, reservoir_volume_ml=40, alarm_volume_ml=2)
        patient.refresh_from_db()
        runner.run(sites, patient, steps)
        patients.append(patient)
    return patients


def _store(program) -> None:
    """The rows of a drawn stored program, written directly (few statements per example)."""
    site_rows, patient_rows = program
    sites = [
        SiteFactory(time_zone=zone, follow_up_grace_days=grace, refill_lead_days=[lead])
        for zone, grace, lead in site_rows
    ]
    patients, visits = [], []
    for n, (site, status, schedule, eri, _) in enumerate(patient_rows):
        fields = {}
        if schedule is not None:
            due, alarm_after, empty_after, attention = schedule
            alarm = None if attention else due + dt.timedelta(days=alarm_after)
            fields = {
                "next_refill_due": due,
                "alarm_date": alarm,
                "empty_date": alarm and alarm + dt.timedelta(days=empty_after),
                "refill_due_basis": "needs_attention" if attention else "alarm_margin",
                "schedule_attention": "No fill recorded" if attention else "",
            }
        patients.append(
            Patient(
                site=sites[site],
                mrn=f"P{n}",
                given_name="Alex",
                family_name=f"Example{n}",
                date_of_birth=dt.date(2000, 1, 1),
                referred_on=dt.date(2020, 1, 1),
                status=status,
                battery_eri_date=eri,
                **fields,
            )
        )
    Patient.objects.bulk_create(patients)
    for patient, (*_, patient_visits) in zip(patients, patient_rows, strict=True):
        for kind, due, status in patient_visits:
            completed = NOW.date() if status == "completed" else None
            visits.append(FollowUp(patient=patient, kind=kind, due_date=due, status=status, completed_on=completed))
    FollowUp.objects.bulk_create(visits)


def _key(item):
    return (item.patient.pk, item.kind, item.due_date, item.status, item.target_id, item.reason)


class WorklistProperties(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = UserFactory(username="root", is_staff=True, is_superuser=True, role="administrator")

    @SETTINGS
    @given(programs)
    def test_the_stored_schedule_equals_a_fresh_recompute(self, program):
        import time_machine

        with time_machine.travel(NOW, tick=False):
            for patient in _build(program, self.user):
                stored = Patient.objects.filter(pk=patient.pk).values(*EMPTY_SCHEDULE).get()
                assert services.recompute_schedule(Patient.objects.get(pk=patient.pk)) == stored

    @SETTINGS
    @given(stored_programs, st.integers(-3, 3), st.booleans())
    def test_the_sql_worklist_equals_the_oracle(self, program, days_later, windowed):
        _store(program)
        # Hours apart around midnight UTC: a different "today" in each zone.
        now = NOW + dt.timedelta(days=days_later, hours=days_later * 4)
        today = now.date()
        query = {"start": today if windowed else None, "end": today + dt.timedelta(days=30), "now": now}
        expected = [_key(i) for i in oracle.worklist(**query)]
        page = worklist_page(**query, limit=1000)
        assert [_key(i) for i in page.items] == expected
        assert page.total == len(expected)
