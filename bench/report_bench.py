"""Time the program summary report over a large generated registry.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_h6 python bench/report_bench.py --patients 100000

Migrates the database, (re)generates a bench program with ``bulk_create`` when the requested size
is not already there (sites named "Bench site N"; nothing else is touched), then times
``reporting.reports.summary`` for the whole program and for one site over one year, and the
de-identified patient export, and prints a table. The generator is a throwaway stand-in for
``manage.py generate_registry``: plausible shapes, not clinical realism.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_dev")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from registry.models import (  # noqa: E402
    Complication,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    Pump,
    Refill,
    Reminder,
    Site,
    StatusChange,
)
from reporting import reports  # noqa: E402

PREFIX = "Bench site "
BATCH = 5000
DIAGNOSES = Indication.Diagnosis.values
KINDS = Complication.Kind.values
CATEGORIES = Goal.Category.values
TIMELINESS = ["on_time"] * 8 + ["late", "after_alarm"]


def wipe() -> None:
    sites = Site.objects.filter(name__startswith=PREFIX)
    scope = {"patient__site__in": sites}
    Reminder.objects.filter(**scope).delete()
    Refill.objects.filter(pump__patient__site__in=sites).delete()
    Complication.objects.filter(**scope).delete()
    Pump.objects.filter(**scope, replaces__isnull=False).delete()
    Pump.objects.filter(**scope).delete()
    Patient.objects.filter(site__in=sites).delete()
    sites.delete()


@transaction.atomic
def generate(n: int, n_sites: int, seed: int) -> None:
    rnd = random.Random(seed)
    sites = Site.objects.bulk_create([Site(name=f"{PREFIX}{i}", time_zone="Europe/London") for i in range(n_sites)])
    patients = []
    for i in range(n):
        implanted = rnd.random() < 0.7
        patients.append(
            Patient(
                site=sites[i % n_sites],
                mrn=f"BENCH{i:07d}",
                given_name="Bench",
                family_name=f"Patient{i}",
                date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=rnd.randrange(18000)),
                sex=rnd.choice(["female", "male"]),
                status="implanted" if implanted else rnd.choice(["referred", "evaluating", "not_candidate"]),
                study_id=f"B{seed:02d}{i:09d}",
                referred_on=dt.date(2018, 1, 1),
            )
        )
    Patient.objects.bulk_create(patients, batch_size=BATCH)
    changes, indications, pumps, goals = [], [], [], []
    for p in patients:
        referred = dt.date(2018, 1, 1) + dt.timedelta(days=rnd.randrange(2900))
        changes.append(StatusChange(patient=p, from_status="", to_status="referred", changed_on=referred))
        if p.status == "implanted":
            changes += [
                StatusChange(patient=p, from_status="referred", to_status="evaluating", changed_on=referred),
                StatusChange(patient=p, from_status="evaluating", to_status="screening", changed_on=referred),
                StatusChange(patient=p, from_status="screening", to_status="candidate", changed_on=referred),
                StatusChange(patient=p, from_status="candidate", to_status="implanted", changed_on=referred),
            ]
            pumps.append(Pump(patient=p, implant_date=referred, reservoir_volume_ml=Decimal("40")))
        elif p.status != "referred":
            changes.append(StatusChange(patient=p, from_status="referred", to_status="evaluating", changed_on=referred))
            if p.status == "not_candidate":
                changes.append(
                    StatusChange(patient=p, from_status="evaluating", to_status="not_candidate", changed_on=referred)
                )
        gmfcs = rnd.randint(1, 5) if rnd.random() < 0.5 else None
        indications.append(
            Indication(
                patient=p, diagnosis=rnd.choice(DIAGNOSES), icd10_code="G80.9", gmfcs_level=gmfcs, is_primary=True
            )
        )
        for _ in range(rnd.randint(0, 3)):
            goals.append(Goal(patient=p, category=rnd.choice(CATEGORIES), description="Goal", set_on=referred))
    StatusChange.objects.bulk_create(changes, batch_size=BATCH)
    Indication.objects.bulk_create(indications, batch_size=BATCH)
    Pump.objects.bulk_create(pumps, batch_size=BATCH)
    # About one pump in twelve replaced during 2026.
    successors = []
    for pump in pumps:
        if rnd.random() < 0.08:
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(360))
            pump.explant_date = day
            successors.append(
                Pump(patient_id=pump.patient_id, implant_date=day, reservoir_volume_ml=Decimal("40"), replaces=pump)
            )
    Pump.objects.bulk_update([p for p in pumps if p.explant_date], ["explant_date"], batch_size=BATCH)
    Pump.objects.bulk_create(successors, batch_size=BATCH)
    refills = []
    for pump in pumps + successors:
        start = max(pump.implant_date, dt.date(2025, 1, 1))
        stop = pump.explant_date or dt.date(2026, 12, 31)
        day = start
        while day < stop:
            at = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
            refills.append(
                Refill(
                    pump=pump,
                    performed_at=at,
                    volume_after_ml=Decimal("38"),
                    concentration_mcg_per_ml=Decimal("500"),
                    daily_dose_mcg=Decimal("150"),
                    timeliness=rnd.choice(TIMELINESS),
                )
            )
            day += dt.timedelta(days=rnd.randint(80, 130))
    Refill.objects.bulk_create(refills, batch_size=BATCH)
    Goal.objects.bulk_create(goals, batch_size=BATCH)
    GoalReview.objects.bulk_create(
        [
            GoalReview(
                goal=g,
                reviewed_on=dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(360)),
                score=rnd.randint(-2, 2),
            )
            for g in goals
            if rnd.random() < 0.7
        ],
        batch_size=BATCH,
    )
    Complication.objects.bulk_create(
        [
            Complication(
                patient_id=p.patient_id,
                pump=p,
                occurred_on=dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(360)),
                kind=rnd.choice(KINDS),
            )
            for p in pumps
            if rnd.random() < 0.1
        ],
        batch_size=BATCH,
    )
    FollowUp.objects.bulk_create(
        [
            FollowUp(
                patient=p,
                kind="annual_review",
                due_date=dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(360)),
                status=s,
                completed_on=dt.date(2026, 12, 31) if s == "completed" else None,
            )
            for p in patients
            for s in [rnd.choice(["completed", "completed", "completed", "missed", "cancelled"])]
        ],
        batch_size=BATCH,
    )
    reminders = []
    for i, p in enumerate(patients):
        if p.status != "implanted":
            continue
        status = rnd.choice(["sent", "acknowledged", "acknowledged", "failed"])
        created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=rnd.randrange(8600))
        reminders.append(
            Reminder(
                kind="refill_due",
                patient=p,
                site_id=p.site_id,
                target_type="pump",
                target_id=i,
                due_date=created.date(),
                lead_days=0,
                recipient="user:1",
                channel="inbox",
                status=status,
                acknowledged_at=created + dt.timedelta(hours=rnd.randint(1, 72)) if status == "acknowledged" else None,
            )
        )
    Reminder.objects.bulk_create(reminders, batch_size=BATCH)
    print(f"generated {n} patients, {len(pumps) + len(successors)} pumps, {len(refills)} refills, {len(goals)} goals")


def timed(label: str, fn, runs: int) -> tuple[str, float, float, int]:
    times, queries = [], 0
    for _ in range(runs):
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        queries = len(ctx)
    return label, min(times), statistics.median(times), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    have = Patient.objects.filter(site__name__startswith=PREFIX).count()
    if have != args.patients:
        wipe()
        t0 = time.perf_counter()
        generate(args.patients, args.sites, args.seed)
        print(f"generation took {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    one = Site.objects.filter(name=f"{PREFIX}0")
    rows = [
        timed("summary, all sites, 2026", lambda: reports.summary(sites=None, start=start, end=end), args.runs),
        timed("summary, one site, 2026", lambda: reports.summary(sites=one, start=start, end=end), args.runs),
        timed("patient export, all sites", lambda: reports.patient_export(sites=None, start=start, end=end), 1),
    ]
    print(f"\n{connection.vendor}, {Patient.objects.count()} patients, {Refill.objects.count()} refills")
    print(f"{'what':<30} {'best s':>8} {'median s':>9} {'queries':>8}")
    for label, best, median, queries in rows:
        print(f"{label:<30} {best:>8.2f} {median:>9.2f} {queries:>8}")


if __name__ == "__main__":
    main()
