"""``manage.py seed_demo``: a realistic, deterministic demo program.

Two clinics, 64 patients across every status and indication, pumps (one replacement chain, one
explant), years of refills with dose changes, trials, follow-ups, goals with reviews and
complications. Dates are placed relative to today so that the worklist always shows refills
upcoming, due, overdue and one patient past the alarm date. Every record goes through the
services, so the stored schedules are exactly what the rules give. Running it again changes
nothing: each patient is keyed by site and MRN.
"""

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from devdata.synthetic import PATHS
from registry import services
from registry.models import Indication, Patient, PatientStatus, Site, StaffProfile

DEMO_PASSWORD = "itb-demo-2026"  # noqa: S105 - printed on purpose: demo data only
GIVEN = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jonah",
    "Kai",
    "Leah",
    "Milo",
    "Nia",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Yara",
    "Zac",
]
FAMILY = [
    "Adams",
    "Bello",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Murphy",
    "Nowak",
    "Okafor",
    "Patel",
    "Quigley",
    "Rossi",
    "Silva",
    "Taylor",
    "Usman",
    "Varga",
    "Walsh",
    "Young",
    "Zhang",
]
DIAGNOSES = [d for d, _ in Indication.Diagnosis.choices]
# (status, how many) per clinic; implanted patients get a refill plan below.
STATUS_PLAN = [
    (PatientStatus.REFERRED, 2),
    (PatientStatus.EVALUATING, 2),
    (PatientStatus.SCREENING, 2),
    (PatientStatus.CANDIDATE, 2),
    (PatientStatus.NOT_CANDIDATE, 1),
    (PatientStatus.IMPLANTED, 20),
    (PatientStatus.EXPLANTED, 1),
    (PatientStatus.DISCONTINUED, 1),
    (PatientStatus.TRANSFERRED, 1),
    (PatientStatus.DECEASED, 1),
]


class Command(BaseCommand):
    help = "Load a deterministic demo program (safe to run twice) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any patient exists.")

    def handle(self, *args, **options):
        if options["if_empty"] and Patient.objects.exists():
            self.stdout.write(f"{Patient.objects.count()} patients already in the database: no demo data loaded.")
            self.stdout.write(
                f"Demo logins (if this is the demo database): admin / {DEMO_PASSWORD}, nurse / {DEMO_PASSWORD}."
            )
            return
        rng = random.Random(2026)  # noqa: S311 - demo data, not security
        with transaction.atomic():
            users = self._users()
            sites = self._sites()
            created = 0
            number = 0
            for site in sites:
                for status, count in STATUS_PLAN:
                    for _ in range(count):
                        number += 1
                        if self._patient(rng, site, status, number, users):
                            created += 1
        total = Patient.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Demo program ready: {created} patients created, {total} in all."))
        self.stdout.write(
            f"Log in as admin / {DEMO_PASSWORD} (administrator), nurse / {DEMO_PASSWORD} (coordinator, "
            f"{sites[0].name}), doctor / {DEMO_PASSWORD} (clinician), reports / {DEMO_PASSWORD} (reporting)."
        )

    def _users(self):
        User = get_user_model()
        users = {}
        for username, role, staff in [
            ("admin", StaffProfile.Role.ADMINISTRATOR, True),
            ("nurse", StaffProfile.Role.COORDINATOR, False),
            ("doctor", StaffProfile.Role.CLINICIAN, False),
            ("reports", StaffProfile.Role.REPORTING, False),
        ]:
            user, made = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@demo.itb.test",
                    "is_staff": staff,
                    "is_superuser": staff,
                    "first_name": username.title(),
                },
            )
            if made:
                user.set_password(DEMO_PASSWORD)
                user.save()
            StaffProfile.objects.get_or_create(user=user, defaults={"role": role})
            users[username] = user
        return users

    def _sites(self):
        children, _ = Site.objects.get_or_create(
            name="Riverside Children's Hospital",
            defaults={
                "time_zone": "Europe/London",
                "phone": "+44 20 7946 0100",
                "escalation_email": "itb-oncall@riverside.demo.test",
            },
        )
        adults, _ = Site.objects.get_or_create(
            name="Lakeside Neuro-Rehabilitation Centre",
            defaults={
                "time_zone": "America/Chicago",
                "phone": "+1 312 555 0142",
                "escalation_email": "itb-oncall@lakeside.demo.test",
            },
        )
        year = timezone.now().year
        for day, reason in [
            (dt.date(year, 12, 25), "Christmas Day"),
            (dt.date(year, 12, 26), "Boxing Day"),
            (dt.date(year + 1, 1, 1), "New Year's Day"),
        ]:
            children.closed_days.get_or_create(date=day, defaults={"reason": reason})
        User = get_user_model()
        User.objects.get(username="nurse").staff.sites.add(children)
        User.objects.get(username="doctor").staff.sites.add(children, adults)
        return [children, adults]

    def _patient(self, rng, site, status, number, users):
        mrn = f"{'RCH' if 'Children' in site.name else 'LNR'}{100000 + number * 7:07d}"
        if Patient.objects.filter(site=site, mrn=mrn).exists():
            return False
        today = services.site_today(site)
        child = "Children" in site.name
        age_years = rng.randint(4, 17) if child else rng.randint(19, 70)
        dob = today - dt.timedelta(days=age_years * 365 + rng.randint(0, 364))
        implanted = status in {PatientStatus.IMPLANTED, PatientStatus.EXPLANTED, PatientStatus.DECEASED}
        start = today - dt.timedelta(days=rng.randint(1, 9) * 365 + rng.randint(30, 200))
        registered = start - dt.timedelta(days=100) if implanted else today - dt.timedelta(days=rng.randint(20, 60))
        dob = min(dob, registered - dt.timedelta(days=3 * 365))
        with_consent = rng.random() < 0.4
        family = FAMILY[number % len(FAMILY)]
        patient = services.create_patient(
            site=site,
            mrn=mrn,
            given_name=GIVEN[(number * 7) % len(GIVEN)],
            family_name=family,
            date_of_birth=dob,
            sex=rng.choice(["female", "male"]),
            status=PatientStatus.REFERRED,
            status_on=registered,
            guardian_name=f"{rng.choice(GIVEN)} {family}" if child else "",
            contact_phone=f"+44 7700 9{number:05d}" if child else f"+1 312 555 {number:04d}",
            contact_email=f"family{number}@example.org",
            consent_email=with_consent,
            consent_sms=with_consent and rng.random() < 0.5,
            primary_clinician=users["doctor"],
        )
        diagnosis = DIAGNOSES[number % len(DIAGNOSES)]
        services.add_indication(
            patient=patient,
            diagnosis=diagnosis,
            tone_type=rng.choice(["spastic", "spastic", "mixed", "dystonic"]),
            gmfcs_level=rng.randint(3, 5) if diagnosis == "cerebral_palsy" else None,
            distribution=rng.choice(["quadriplegia", "diplegia", "generalised"]),
        )
        if number % 9 == 0:
            services.add_indication(patient=patient, diagnosis="dystonia_secondary", is_primary=False)
        if implanted:
            self._implanted_history(rng, patient, number, today, start, final=status)
        else:
            for step in PATHS[status]:
                if step in (PatientStatus.CANDIDATE, PatientStatus.NOT_CANDIDATE):
                    services.record_screening_trial(
                        patient=patient,
                        performed_on=registered + dt.timedelta(days=5),
                        test_dose_mcg=Decimal("50"),
                        response="positive" if step == PatientStatus.CANDIDATE else "negative",
                        ashworth_before="3",
                        ashworth_after="1+" if step == PatientStatus.CANDIDATE else "3",
                    )
                services.change_status(patient=patient, to_status=step, on=registered + dt.timedelta(days=5))
            if status in (PatientStatus.EVALUATING, PatientStatus.SCREENING, PatientStatus.CANDIDATE):
                services.schedule_follow_up(
                    patient=patient, kind="clinic_review", due_date=today + dt.timedelta(days=rng.randint(3, 40))
                )
        return True

    def _implanted_history(self, rng, patient, number, today, start, final):
        """Years of care ending on a last refill placed to give the wanted status today."""
        for step in [PatientStatus.EVALUATING, PatientStatus.SCREENING]:
            services.change_status(patient=patient, to_status=step, on=start - dt.timedelta(days=80))
        services.record_screening_trial(
            patient=patient,
            performed_on=start - dt.timedelta(days=60),
            test_dose_mcg=Decimal("50"),
            response="positive",
            ashworth_before="3",
            ashworth_after="1",
        )
        services.change_status(patient=patient, to_status=PatientStatus.CANDIDATE, on=start - dt.timedelta(days=55))
        reservoir = Decimal("20") if number % 5 == 4 else Decimal("40")
        pump = services.implant_pump(
            patient=patient,
            implant_date=start,
            reservoir_volume_ml=reservoir,
            serial_number=f"NGP{400000 + number}",
            catheter_tip_level=rng.choice(["T10", "T6", "C5", "T2"]),
        )
        concentration = Decimal("2000") if reservoir == 40 else Decimal("500")
        dose = Decimal(rng.choice([150, 200, 250, 300, 400])) if reservoir == 40 else Decimal(rng.choice([30, 40]))
        # The last refill's date and dose decide today's status (0.15 mL/day at 300 mcg/day leaves the
        # 180-day maximum in charge; 0.2 mL/day at 400 alarms 190 days after a 40 mL fill).
        kind = number % 20
        planned = {
            10: (200, 400),
            1: (183, 300),
            2: (183, 300),
            3: (183, 300),
            5: (170, 300),
            7: (170, 300),
            8: (170, 300),
            11: (165, 300),
        }
        if kind in planned and not (kind == 10 and number != 10):
            last_gap, final_dose = planned[kind]
            final_dose = Decimal(final_dose) if reservoir == 40 else Decimal("40")
        else:
            last_gap, final_dose = rng.randint(20, 140), None
        last = today - dt.timedelta(days=last_gap)
        days = []
        day = start
        while day < last - dt.timedelta(days=30):
            days.append(day)
            day += dt.timedelta(days=rng.randint(60, 150))
        days.append(last)
        replaced = False
        for index, refill_day in enumerate(days):
            is_last = index == len(days) - 1
            if not replaced and refill_day > pump.implant_date + dt.timedelta(days=7 * 365 - 60):
                pump = services.replace_pump(pump=pump, implant_date=refill_day, serial_number=f"NGP{500000 + number}")
                replaced = True
            if is_last and final_dose is not None:
                dose = final_dose
            when = dt.datetime.combine(refill_day, dt.time(10, rng.choice([0, 15, 30, 45])), tzinfo=patient.site.zone)
            residual = Decimal(rng.randint(20, 60)) / 10
            services.record_refill(
                pump=pump,
                performed_at=when,
                volume_after_ml=reservoir,
                concentration_mcg_per_ml=concentration,
                daily_dose_mcg=dose,
                volume_removed_ml=residual + (Decimal("3") if rng.random() < 0.05 else 0),
                expected_residual_ml=residual,
            )
            if not is_last and rng.random() < 0.3:
                step = Decimal(rng.choice([-25, 25, 50])) if reservoir == 40 else Decimal(rng.choice([-5, 5]))
                dose = min(max(Decimal("20"), dose + step), Decimal("450") if reservoir == 40 else Decimal("45"))
                services.record_dose_change(pump=pump, effective_at=when + dt.timedelta(days=14), daily_dose_mcg=dose)
        goal = services.set_goal(
            patient=patient,
            category=rng.choice(["comfort", "pain", "positioning", "orthoses", "self_care"]),
            description="Sit in the wheelchair for a full school day without pain",
            set_on=start,
            baseline_score=-1,
        )
        if number % 4:
            services.review_goal(
                goal=goal, reviewed_on=start + dt.timedelta(days=180), score=rng.choice([-1, 0, 0, 1, 2])
            )
        if number % 3 == 0:
            services.schedule_follow_up(
                patient=patient, kind="annual_review", due_date=today - dt.timedelta(days=rng.randint(10, 20))
            )
        services.schedule_follow_up(
            patient=patient, kind="clinic_review", due_date=today + dt.timedelta(days=rng.randint(2, 60))
        )
        if number % 7 == 0:
            services.record_complication(
                patient=patient,
                pump=pump,
                occurred_on=start + dt.timedelta(days=20),
                kind=rng.choice(["infection", "csf_leak", "catheter", "wound"]),
                severity="moderate",
                resolved_on=start + dt.timedelta(days=40),
            )
        if final == PatientStatus.EXPLANTED:
            services.explant_pump(pump=pump, explant_date=today - dt.timedelta(days=10), reason="Pocket infection")
        elif final == PatientStatus.DECEASED:
            services.change_status(patient=patient, to_status=PatientStatus.DECEASED, on=today - dt.timedelta(days=3))
