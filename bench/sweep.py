"""Time one reminder sweep over N generated patients, and count its SQL queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_h3 python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_h3 python bench/sweep.py --patients 10000

Generates (once, bypassing the services for speed) four sites in different time zones with a
coordinator and a clinician each, and N implanted patients whose stored refill, alarm and battery
dates are spread over the year around today, a third with a scheduled follow-up and 40% with family
consent. Then times: a dry run (the full sweep, rolled back; repeatable), the first real sweep
(inserts everything due today) and a second one (nothing new).
"""

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_dev")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from registry.models import FollowUp, Patient, Pump, Reminder, Site, StaffProfile  # noqa: E402
from registry.services import reminders, site_today  # noqa: E402

ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@transaction.atomic
def generate(n: int) -> list[Site]:
    rng = random.Random(7)
    sites = []
    User = get_user_model()
    for k, zone in enumerate(ZONES):
        site, _ = Site.objects.get_or_create(
            name=f"Bench site {k}", defaults={"time_zone": zone, "escalation_email": f"oncall{k}@bench.test"}
        )
        sites.append(site)
        for role in ("coordinator", "clinician"):
            user, _ = User.objects.get_or_create(
                username=f"bench-{role}-{k}", defaults={"email": f"{role}{k}@bench.test"}
            )
            profile, _ = StaffProfile.objects.get_or_create(user=user, defaults={"role": role})
            profile.sites.add(site)
    have = Patient.objects.filter(site__in=sites).count()
    if have >= n:
        return sites
    patients = []
    for i in range(have, n):
        site = sites[i % len(sites)]
        today = site_today(site)
        due = today + dt.timedelta(days=rng.randint(-10, 170))
        consent = rng.random() < 0.4
        patients.append(
            Patient(
                site=site,
                mrn=f"B{i:07d}",
                given_name="Bench",
                family_name=f"Patient {i}",
                date_of_birth=dt.date(2000, 1, 1),
                referred_on=dt.date(2021, 1, 1),
                status="implanted",
                next_refill_due=due,
                alarm_date=due + dt.timedelta(days=7),
                battery_eri_date=today + dt.timedelta(days=rng.randint(-30, 2500)),
                contact_email=f"family{i}@bench.test",
                contact_phone=f"+44 7700 {i:06d}",
                consent_email=consent,
                consent_sms=consent and rng.random() < 0.5,
            )
        )
    created = Patient.objects.bulk_create(patients, batch_size=2000)
    Pump.objects.bulk_create(
        [Pump(patient=p, implant_date=dt.date(2022, 1, 1), reservoir_volume_ml=40) for p in created], batch_size=2000
    )
    FollowUp.objects.bulk_create(
        [
            FollowUp(
                patient=p, kind="clinic_review", due_date=site_today(p.site) + dt.timedelta(days=rng.randint(-20, 60))
            )
            for p in created[::3]
        ],
        batch_size=2000,
    )
    return sites


def timed(label: str, **kwargs) -> tuple[str, float, int, int, int]:
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = reminders.sweep(**kwargs)
        elapsed = time.perf_counter() - start
    return label, elapsed, len(ctx.captured_queries), result.created_total, len(result.batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10000)
    args = parser.parse_args()
    start = time.perf_counter()
    generate(args.patients)
    print(f"data ready in {time.perf_counter() - start:.1f} s: {Patient.objects.count()} patients in all")
    Reminder.objects.filter(site__name__startswith="Bench site ").delete()  # only the bench's own
    rows = [timed("dry run (rolled back)", dry_run=True), timed("first sweep"), timed("second sweep")]
    print(f"{connection.vendor}, {Patient.objects.count()} patients")
    print(f"{'sweep':<24}{'seconds':>9}{'queries':>9}{'created':>9}{'messages':>10}")
    for label, elapsed, queries, created, batches in rows:
        print(f"{label:<24}{elapsed:>9.3f}{queries:>9}{created:>9}{batches:>10}")


if __name__ == "__main__":
    main()
