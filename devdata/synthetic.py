"""A synthetic ITB program of any size, for benchmarks and scale tests (one long recipe, read top to bottom).

Why it exists: the worklist, the sweep and the reports must stay quick at a national registry's
size (100,000 patients, twenty years of refills), and that can only be shown on data with the
shapes of a real program. Going through the services (as ``seed_demo`` does) would take hours at
that size, so this module writes rows in bulk (PostgreSQL ``COPY``; ``bulk_create`` elsewhere)
while keeping every rule the services keep:

- each patient walks the status state machine (every StatusChange is an allowed transition);
- at most one active pump per patient; replacements every 5.5-7 years form a ``replaces`` chain;
- refills every 60-180 days (the date the scheduling rules give, mostly a few days early, some
  late), never above the reservoir nor before the implant, with dose changes between them;
- the refill's timeliness and ``due_date_at_refill`` and the patient's stored schedule are computed
  with the same pure functions (``registry.scheduling``) and site rules as the services, so the
  stored columns equal what ``registry.services.recompute_schedule`` would store (tested);
- today's state includes refills due, overdue and critical, batteries near ERI and follow-ups due
  or missed; the reminders table is left empty for the sweep to fill.

Bulk rows bypass django-simple-history: the generated records have no history rows. The data is
deterministic for a seed and a day: patient ``i`` draws from its own ``Random(seed, i)``, and its
id, its pumps' and goals' ids and its study id follow from ``i``; the other tables take their ids
from the database sequence in write order. So the data does not depend on how many processes
built it.

Speed: building rows in Python and PostgreSQL's inserts each take about half the work, so worker
processes build the next chunks as COPY text while the main process streams the current one
(``_chunks``), the per-row trigger look-ups of migration 0002 are replaced by one check per batch
(``devdata.bulk.GUARD_CHECK``), and each refill cycle calls ``refill_schedule`` once. Writing the
rows (COPY, the write order, the trigger switch, wiping) is ``devdata.bulk``.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from devdata.bulk import (
    GUARD_CHECK,
    ORDER,
    Table,
    clear_registry,  # noqa: F401 - the commands and the bench wipe through this module
    copy_text,
    switch_guards,
    write_rows,
)
from registry import scheduling
from registry.models import (
    ClosedDay,
    Complication,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    PumpSpan,
    Refill,
    RefillMonth,
    ScreeningTrial,
    Site,
    StaffProfile,
    StatusChange,
    site_today,
)
from registry.services.schedule import EMPTY_SCHEDULE, site_rules, stored_schedule

CONCENTRATIONS = (Decimal(500), Decimal(1000), Decimal(2000))  # mcg/mL as supplied (docs/clinical-facts.md, "Drug")
DAY = dt.timedelta(days=1)

CITIES = [
    ("London", "Europe/London"),
    ("Chicago", "America/Chicago"),
    ("Sydney", "Australia/Sydney"),
    ("Tokyo", "Asia/Tokyo"),
    ("Toronto", "America/Toronto"),
    ("Berlin", "Europe/Berlin"),
    ("Los Angeles", "America/Los_Angeles"),
    ("Mumbai", "Asia/Kolkata"),
    ("São Paulo", "America/Sao_Paulo"),
    ("Johannesburg", "Africa/Johannesburg"),
    ("Auckland", "Pacific/Auckland"),
    ("Madrid", "Europe/Madrid"),
]
# Final status of a patient today, with its share of the program (about 70 % implanted).
STATUS_WEIGHTS = [
    (PatientStatus.IMPLANTED, 70),
    (PatientStatus.EXPLANTED, 4),
    (PatientStatus.DECEASED, 3),
    (PatientStatus.DISCONTINUED, 4),
    (PatientStatus.TRANSFERRED, 3),
    (PatientStatus.REFERRED, 3),
    (PatientStatus.EVALUATING, 4),
    (PatientStatus.SCREENING, 3),
    (PatientStatus.CANDIDATE, 3),
    (PatientStatus.NOT_CANDIDATE, 3),
]
# The allowed path after "referred" to each final status (ALLOWED_TRANSITIONS).
PATHS = {
    PatientStatus.REFERRED: [],
    PatientStatus.EVALUATING: [PatientStatus.EVALUATING],
    PatientStatus.SCREENING: [PatientStatus.EVALUATING, PatientStatus.SCREENING],
    PatientStatus.CANDIDATE: [PatientStatus.EVALUATING, PatientStatus.SCREENING, PatientStatus.CANDIDATE],
    PatientStatus.NOT_CANDIDATE: [PatientStatus.EVALUATING, PatientStatus.SCREENING, PatientStatus.NOT_CANDIDATE],
    PatientStatus.DISCONTINUED: [PatientStatus.EVALUATING, PatientStatus.DISCONTINUED],
    PatientStatus.TRANSFERRED: [PatientStatus.EVALUATING, PatientStatus.TRANSFERRED],
    PatientStatus.IMPLANTED: [
        PatientStatus.EVALUATING,
        PatientStatus.SCREENING,
        PatientStatus.CANDIDATE,
        PatientStatus.IMPLANTED,
    ],
    PatientStatus.EXPLANTED: [
        PatientStatus.EVALUATING,
        PatientStatus.SCREENING,
        PatientStatus.CANDIDATE,
        PatientStatus.IMPLANTED,
        PatientStatus.EXPLANTED,
    ],
    PatientStatus.DECEASED: [
        PatientStatus.EVALUATING,
        PatientStatus.SCREENING,
        PatientStatus.CANDIDATE,
        PatientStatus.IMPLANTED,
        PatientStatus.DECEASED,
    ],
}
IMPLANTED_EVER = {PatientStatus.IMPLANTED, PatientStatus.EXPLANTED, PatientStatus.DECEASED}
DIAGNOSIS_WEIGHTS = [
    ("cerebral_palsy", 45),
    ("spinal_cord_injury", 12),
    ("multiple_sclerosis", 12),
    ("traumatic_brain_injury", 8),
    ("acquired_brain_injury", 6),
    ("stroke", 5),
    ("dystonia_secondary", 4),
    ("dystonia_primary", 3),
    ("hsp", 3),
    ("other", 2),
]
GOAL_TEXT = {
    "comfort": "Sit comfortably through a school or work day",
    "pain": "Less pain from spasms at night",
    "positioning": "Easier transfers from bed to wheelchair",
    "orthoses": "Wear ankle-foot orthoses all day",
    "self_care": "Dress the upper body with less help",
    "caregiving": "Easier nappy changes and bathing for carers",
    "mobility": "Walk 10 m with a walker",
    "sleep": "Sleep through the night without repositioning",
}
GIVEN = "Amira Ben Chloe Dev Ella Finn Grace Hugo Isla Jonah Kai Leah Milo Nia Oscar Priya Quinn Rosa Sami Tara Umar Vera Wes Yara Zac Ana Bruno Chen Dara Emil".split()  # noqa: E501
FAMILY = "Adams Bello Costa Dubois Evans Fischer Garcia Hughes Ito Jones Khan Lopez Murphy Nowak Okafor Patel Quigley Rossi Silva Taylor Usman Varga Walsh Young Zhang Berg Kim Nair Sato Moreau".split()  # noqa: E501


def _weighted(rng: random.Random, table):
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


# Ids reserved per patient: pump and goal ids follow from the patient's index, so children can
# point at them before the chunks ahead are written. A pump lasts at least 5.5 years and implants
# go back at most 20, so a patient has at most 4 pumps; goals are 1-3.
PUMP_IDS, GOAL_IDS = 4, 3
STUDY_ID_FACTOR = 0x9E3779B97F4B  # odd, so multiplying modulo 2**48 is one-to-one


@dataclass
class SiteCtx:
    site: Site
    rules: scheduling.SiteRules
    today: dt.date
    clinician_id: int
    prefix: str


@dataclass
class Result:
    patients: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def make_sites(count: int, now: dt.datetime) -> list[SiteCtx]:
    """``count`` clinics in different time zones, each with a clinician and public holidays."""
    User = get_user_model()
    contexts = []
    for k in range(count):
        city, zone = CITIES[k % len(CITIES)]
        name = f"{city} ITB Program" + (f" {k // len(CITIES) + 1}" if k >= len(CITIES) else "")
        site, _ = Site.objects.get_or_create(
            name=name,
            defaults={
                "time_zone": zone,
                "phone": f"+1 555 01{k:02d}",
                "escalation_email": f"itb-oncall-{k}@synthetic.test",
                "safety_margin_days": 10 if k % 4 == 3 else 7,
                "closed_weekdays": [4, 5] if zone == "Asia/Kolkata" else [5, 6],
            },
        )
        today = site_today(site, now)
        ClosedDay.objects.bulk_create(
            [
                ClosedDay(site=site, date=dt.date(year, month, day), reason=reason)
                for year in range(today.year - 21, today.year + 2)
                for month, day, reason in [(12, 25, "Christmas Day"), (1, 1, "New Year's Day")]
            ],
            ignore_conflicts=True,
        )
        user, made = User.objects.get_or_create(
            username=f"gen-clinician-{k}", defaults={"email": f"clinician{k}@synthetic.test"}
        )
        if made:
            user.set_unusable_password()
            user.save()
        profile, _ = StaffProfile.objects.get_or_create(user=user, defaults={"role": StaffProfile.Role.CLINICIAN})
        profile.sites.add(site)
        contexts.append(SiteCtx(site, site_rules(site), today, user.pk, f"S{k:02d}"))
    return contexts


@dataclass(frozen=True)
class IdBase:
    """The largest patient, pump and goal ids before this run (ids are reserved per patient)."""

    patient: int
    pump: int
    goal: int

    @classmethod
    def current(cls) -> IdBase:
        def top(model):
            return model.objects.aggregate(m=models.Max("pk"))["m"] or 0

        return cls(top(Patient), top(Pump), top(Goal))


class Generator:
    """Builds patients one at a time into per-table row buffers; ``chunk`` hands over a batch.

    It reads nothing from the database, so worker processes can run it (see ``generate``).
    """

    def __init__(self, *, seed: int, sites: list[SiteCtx], now: dt.datetime, ids: IdBase):
        self.seed = seed
        self.sites = sites
        self.now = now
        self.ids = ids
        self.tables = {model: Table(model, now) for model in ORDER}

    def chunk(self, start: int, stop: int, *, as_copy: bool) -> list[tuple[type[models.Model], object, int]]:
        """Patients ``start`` to ``stop - 1``: per table (in ``ORDER``) its rows and their count.

        With ``as_copy`` the rows come as COPY text (bytes), cheap to send between processes.
        """
        for index in range(start, stop):
            self.patient(index)
        out = []
        for model in ORDER:
            rows = self.tables[model].take()
            out.append((model, copy_text(rows) if as_copy else rows, len(rows)))
        return out

    # --- one patient ----------------------------------------------------------------------
    def patient(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        ctx = self.sites[rng.randrange(len(self.sites))]
        today = ctx.today
        status = _weighted(rng, STATUS_WEIGHTS)
        child = rng.random() < 0.4
        implanted_ever = status in IMPLANTED_EVER
        if implanted_ever:
            # Programs grow: more recent implants than old ones; up to 20 years back.
            implant = today - dt.timedelta(days=int(20 * 365 * rng.random() ** 2) + 1)
            registered = implant - dt.timedelta(days=rng.randint(120, 400))
            anchor = implant
        else:
            implant = None
            registered = today - dt.timedelta(days=rng.randint(20, 700))
            anchor = registered
        age_years = rng.randint(4, 17) if child else rng.randint(18, 75)
        dob = anchor - dt.timedelta(days=age_years * 365 + rng.randint(0, 364))
        end = None  # the day an explanted or deceased patient's care ended
        if status in (PatientStatus.EXPLANTED, PatientStatus.DECEASED):
            span = max((today - implant).days, 2)
            end = implant + dt.timedelta(days=rng.randint(1, span - 1))
        history = self._status_path(rng, status, registered, implant, end, today)
        final_status, status_on = history[-1][1], history[-1][2]
        family = rng.choice(FAMILY)
        patient_id = number = self.ids.patient + index + 1
        consent = rng.random() < 0.45
        patients = self.tables[Patient]
        patient_values = dict(
            site_id=ctx.site.pk,
            mrn=f"{ctx.prefix}-{number:08d}",
            given_name=rng.choice(GIVEN),
            family_name=family,
            date_of_birth=dob,
            sex=rng.choice(["female", "male", "female", "male", "unknown"]),
            guardian_name=f"{rng.choice(GIVEN)} {family}" if child else "",
            contact_phone=f"+1 555 {number % 10**7:07d}",
            contact_email=f"family{number}@example.org",
            consent_email=consent,
            consent_sms=consent and rng.random() < 0.5,
            primary_clinician_id=ctx.clinician_id,
            status=final_status,
            status_changed_on=status_on,
            referred_on=registered,
            # 12 hex digits (the services use 10), a bijection of the patient id: unique without a
            # look-up, whatever the chunking, and across runs.
            study_id=f"ITB-{patient_id * STUDY_ID_FACTOR % 2**48:012X}",
            **EMPTY_SCHEDULE,
        )
        self._indications(rng, patient_id)
        if final_status in (PatientStatus.CANDIDATE, PatientStatus.NOT_CANDIDATE) or implanted_ever:
            on = (implant - dt.timedelta(days=60)) if implant else registered + dt.timedelta(days=40)
            self._trials(rng, patient_id, on, positive=final_status != PatientStatus.NOT_CANDIDATE)
        if implanted_ever:
            first_pump = self.ids.pump + PUMP_IDS * index + 1
            schedule = self._pumps(rng, ctx, patient_id, first_pump, implant, final_status, end, child)
            if final_status == PatientStatus.IMPLANTED:
                patient_values.update(schedule)
            first_goal = self.ids.goal + GOAL_IDS * index + 1
            self._care(rng, ctx, patient_id, first_goal, implant, end or today, final_status, schedule)
        elif final_status in (PatientStatus.EVALUATING, PatientStatus.SCREENING, PatientStatus.CANDIDATE):
            self._follow_up(patient_id, "clinic_review", today + dt.timedelta(days=rng.randint(2, 60)), today, rng)
        patients.add(id=patient_id, **patient_values)
        for from_status, to_status, on in history:
            self.tables[StatusChange].add(
                patient_id=patient_id, from_status=from_status, to_status=to_status, changed_on=on, reason=""
            )

    def _status_path(self, rng, status, registered, implant, end, today):
        steps = [("", PatientStatus.REFERRED, registered)]
        day = registered
        previous = PatientStatus.REFERRED
        for step in PATHS[status]:
            if step == PatientStatus.IMPLANTED:
                day = implant
            elif step in (PatientStatus.EXPLANTED, PatientStatus.DECEASED):
                day = end
            elif implant is not None:
                day = min(day + dt.timedelta(days=rng.randint(10, 40)), implant - dt.timedelta(days=30))
            else:
                day = min(day + dt.timedelta(days=rng.randint(10, 60)), today)
            steps.append((previous, step, day))
            previous = step
        return steps

    def _indications(self, rng, patient_id):
        diagnosis = _weighted(rng, DIAGNOSIS_WEIGHTS)
        table = self.tables[Indication]
        table.add(
            patient_id=patient_id,
            diagnosis=diagnosis,
            icd10_code=Indication.DEFAULT_ICD10[diagnosis],
            tone_type=rng.choice(["spastic", "spastic", "spastic", "mixed", "dystonic"]),
            distribution=rng.choice(["quadriplegia", "diplegia", "hemiplegia", "paraplegia", "generalised"]),
            gmfcs_level=rng.choice([3, 4, 4, 5, 5]) if diagnosis == "cerebral_palsy" else None,
            is_primary=True,
        )
        if rng.random() < 0.1:
            table.add(
                patient_id=patient_id,
                diagnosis="dystonia_secondary",
                icd10_code="G24.2",
                tone_type="dystonic",
                is_primary=False,
            )

    def _trials(self, rng, patient_id, on, *, positive):
        table = self.tables[ScreeningTrial]
        if positive and rng.random() < 0.15:
            table.add(
                patient_id=patient_id,
                performed_on=on - dt.timedelta(days=7),
                test_dose_mcg=Decimal("50"),
                response="equivocal",
                ashworth_before="3",
                ashworth_after="2",
            )
            dose = Decimal("75")
        else:
            dose = Decimal("50")
        table.add(
            patient_id=patient_id,
            performed_on=on,
            test_dose_mcg=dose,
            response="positive" if positive else "negative",
            ashworth_before=rng.choice(["3", "4"]),
            ashworth_after=rng.choice(["1", "1+"]) if positive else "3",
        )

    # --- pumps and refills ----------------------------------------------------------------
    def _pumps(self, rng, ctx, patient_id, first_pump, implant, final_status, end, child) -> dict:
        """Pump chain and its refill cycles; returns the stored schedule of the active pump."""
        today = ctx.today
        stop = end if final_status in (PatientStatus.EXPLANTED, PatientStatus.DECEASED) else today + DAY
        reservoir = Decimal("20") if rng.random() < 0.3 else Decimal("40")
        alarm = ctx.site.default_alarm_volume_ml
        dose = Decimal(rng.randrange(60, 400, 10) if child else rng.randrange(150, 900, 10))
        # Each refill's concentration is chosen to give this patient refills every 2-6 months.
        interval = rng.randint(60, 180)
        # The lapsed few skip their last refill: today's overdue and critical patients.
        lapsed = final_status == PatientStatus.IMPLANTED and rng.random() < 0.05
        pumps = self.tables[Pump]
        previous_pump = None
        chain = []
        previous_schedule = None
        implant_day = implant
        last = None
        while True:
            life = dt.timedelta(days=rng.randint(int(5.5 * 365), int(6.9 * 365)))
            replace_on = implant_day + life
            final = replace_on >= stop
            documented_eri = implant_day + dt.timedelta(days=rng.randint(int(6.5 * 365), int(7.2 * 365)))
            pump_id = first_pump + len(chain)
            if len(chain) == PUMP_IDS:
                raise AssertionError("more pumps than the ids reserved per patient")
            chain.append(pump_id)
            pumps.add(
                id=pump_id,
                patient_id=patient_id,
                implant_date=implant_day,
                serial_number=f"NGP{pump_id:09d}",
                reservoir_volume_ml=reservoir,
                alarm_volume_ml=alarm,
                catheter_tip_level=rng.choice(["T10", "T8", "T6", "T4", "C5"]),
                eri_date=documented_eri if rng.random() < 0.6 else None,
                explant_date=None
                if final and final_status != PatientStatus.EXPLANTED
                else (end if final else replace_on),
                explant_reason=(
                    ""
                    if final and final_status != PatientStatus.EXPLANTED
                    else (
                        rng.choice(["Pocket infection", "No longer benefiting", "Patient choice"])
                        if final
                        else "Battery end / elective replacement"
                    )
                ),
                replaces_id=previous_pump,
            )
            limit = stop if final else replace_on
            previous_schedule, last = self._refills(
                rng,
                ctx,
                pump_id,
                implant_day,
                limit,
                reservoir,
                alarm,
                interval,
                dose,
                previous_schedule,
                previous_day=last[0].astimezone(ctx.rules.zone).date() if last else None,
                lapsed=lapsed and final,
            )
            if final:
                active_row = pumps.rows[-1]
                break
            previous_pump = pump_id
            implant_day = replace_on
        if final_status != PatientStatus.IMPLANTED:
            return dict(EMPTY_SCHEDULE)
        column = pumps.attnames.index
        values = dict(EMPTY_SCHEDULE)
        values["battery_eri_date"] = scheduling.battery_eri_date(
            implant_date=active_row[column("implant_date")],
            documented_eri=active_row[column("eri_date")],
            battery_life_years=ctx.rules.battery_life_years,
        )
        if last is not None:
            performed_at, schedule = last
            values.update(stored_schedule(schedule, performed_at))
        return values

    def _refills(
        self,
        rng,
        ctx,
        pump_id,
        implant_day,
        limit,
        reservoir,
        alarm,
        interval,
        base_dose,
        previous,
        *,
        previous_day,
        lapsed,
    ):
        """Refill cycles of one pump from its implant up to ``limit`` (exclusive) or now."""
        rules, zone, now = ctx.rules, ctx.rules.zone, self.now
        refills, changes = self.tables[Refill], self.tables[DoseChange]
        day = implant_day
        at = dt.datetime.combine(day, dt.time(rng.randint(12, 16), rng.choice([0, 15, 30, 45])), tzinfo=zone)
        if at > now or day >= limit:
            return previous, None
        residual = None
        last = None
        dose = base_dose
        while True:
            volume = reservoir if rng.random() < 0.85 else reservoir - Decimal(rng.randint(1, 5))
            usable = volume - alarm
            concentration = next((c for c in CONCENTRATIONS if usable * c / dose >= interval), CONCENTRATIONS[-1])
            fill = scheduling.FillState(at, volume, concentration, dose)
            # The cycle's length at this dose, only to place the random events in it: the stored
            # dates all come from the one ``refill_schedule`` call below (a second call per refill
            # for the exact length cost a third of the generator's time).
            days_to_alarm = int(usable * concentration / dose)
            span = min(days_to_alarm - rules.safety_margin_days, rules.max_refill_interval_days)
            programmer = manual = None
            steps = []
            if rng.random() < 0.3:
                programmer = max(day + dt.timedelta(days=days_to_alarm + rng.choice([-3, -1, 0, 0, 1])), day)
            if rng.random() < 0.03 and span > 40:
                manual = day + dt.timedelta(days=rng.randint(30, 40))
            if rng.random() < (0.5 if day < implant_day + dt.timedelta(days=365) else 0.15) and span > 20:
                change_at = at + dt.timedelta(days=rng.randint(7, int(span * 0.6)), hours=rng.randint(0, 5))
                if change_at <= now and change_at.astimezone(zone).date() < limit:
                    # Titration around the patient's usual dose (a random walk would drift for 20 years).
                    new_dose = (base_dose * Decimal(rng.uniform(0.8, 1.25))).quantize(Decimal("1"))
                    dose = min(max(new_dose, Decimal("25")), Decimal("1500"))
                    steps.append(scheduling.DoseStep(change_at, dose))
            schedule = scheduling.refill_schedule(
                fill,
                steps,
                alarm_volume_ml=alarm,
                rules=rules,
                programmer_alarm_date=programmer,
                manual_due_date=manual,
            )
            if previous is None:
                timeliness, due_at_refill = Refill.Timeliness.FIRST, None
            else:
                timeliness = scheduling.refill_timeliness(
                    day, due_date=previous.next_refill_due, alarm_date=previous.alarm_date
                )
                due_at_refill = previous.next_refill_due
            expected = residual if residual is not None and rng.random() < 0.8 else None
            removed = Decimal(0) if residual is None else residual
            if expected is not None and rng.random() < 0.03:
                removed += Decimal(3)
            refills.add(
                pump_id=pump_id,
                performed_at=at,
                volume_removed_ml=removed,
                expected_residual_ml=expected,
                volume_after_ml=volume,
                concentration_mcg_per_ml=concentration,
                daily_dose_mcg=fill.daily_dose_mcg,
                programmer_alarm_date=programmer,
                manual_due_date=manual,
                performed_by_id=ctx.clinician_id,
                residual_discrepancy=scheduling.residual_discrepancy(
                    volume_removed_ml=removed,
                    expected_residual_ml=expected,
                    tolerance_ml=ctx.site.residual_tolerance_ml,
                ),
                timeliness=timeliness,
                due_date_at_refill=due_at_refill,
                performed_on=day,
                interval_days=(day - previous_day).days if previous_day else None,
            )
            for step in steps:
                changes.add(pump_id=pump_id, effective_at=step.effective_at, daily_dose_mcg=step.daily_dose_mcg)
            last = (at, schedule)
            previous, previous_day = schedule, day
            # The next visit: mostly a few days before the due date, some late, a few after the alarm.
            roll = rng.random()
            if roll < 0.9:
                next_day = schedule.next_refill_due - dt.timedelta(days=rng.randint(0, 10))
            elif roll < 0.985:
                next_day = schedule.next_refill_due + dt.timedelta(days=rng.randint(1, 5))
            else:
                next_day = schedule.alarm_date + dt.timedelta(days=rng.randint(0, 5))
            next_day = max(next_day, day + dt.timedelta(days=28))
            next_at = dt.datetime.combine(next_day, dt.time(rng.randint(8, 16), rng.choice([0, 15, 30, 45])), zone)
            if steps and next_at <= steps[-1].effective_at:
                next_at = steps[-1].effective_at + DAY
                next_day = next_at.astimezone(zone).date()
            if next_day >= limit or next_at > now:
                break
            if lapsed and (ctx.today - next_day).days < 30:
                break
            elapsed_days = Decimal((next_at - at).total_seconds() / 86400)
            left = volume - elapsed_days * dose / concentration
            residual = max(left, Decimal(0)).quantize(Decimal("0.1"))
            day, at = next_day, next_at
        return previous, last

    # --- follow-ups, goals, complications -------------------------------------------------
    def _follow_up(self, patient_id, kind, due, today, rng, *, outcome: str | None = None):
        visit = FollowUp.Status
        if outcome is None:
            outcome = visit.SCHEDULED if due >= today - dt.timedelta(days=3) else visit.COMPLETED
        completed_on = None
        if outcome == visit.COMPLETED:
            completed_on = min(due + dt.timedelta(days=rng.randint(-3, 5)), today)
        self.tables[FollowUp].add(
            patient_id=patient_id, kind=kind, due_date=due, status=outcome, completed_on=completed_on
        )

    def _care(self, rng, ctx, patient_id, first_goal, implant, until, final_status, schedule):
        today = ctx.today
        follow = self._follow_up
        for kind, days in (("post_op", 14), ("titration", 42)):
            if implant + dt.timedelta(days=days) <= until:
                follow(patient_id, kind, implant + dt.timedelta(days=days), today, rng)
        year = 1
        while year <= 20 and (due := implant + dt.timedelta(days=365 * year)) < until:
            roll = rng.random()
            visit = FollowUp.Status
            outcome = visit.COMPLETED if roll < 0.85 else (visit.MISSED if roll < 0.93 else visit.CANCELLED)
            follow(patient_id, "annual_review", due, today, rng, outcome=outcome)
            year += 1
        if final_status == PatientStatus.IMPLANTED:
            if rng.random() < 0.06:  # a review that did not happen: due or missed on the worklist
                follow(
                    patient_id,
                    "clinic_review",
                    today - dt.timedelta(days=rng.randint(1, 30)),
                    today,
                    rng,
                    outcome=FollowUp.Status.SCHEDULED,
                )
            follow(patient_id, "clinic_review", today + dt.timedelta(days=rng.randint(1, 120)), today, rng)
            eri = schedule.get("battery_eri_date")
            if eri is not None and eri <= today + dt.timedelta(days=365):
                follow(patient_id, "replacement_planning", max(eri - dt.timedelta(days=180), today), today, rng)
        goals, reviews = self.tables[Goal], self.tables[GoalReview]
        set_on = implant - dt.timedelta(days=30)
        for number, category in enumerate(rng.sample(list(GOAL_TEXT), rng.randint(1, GOAL_IDS))):
            baseline = rng.choice([-1, -1, -2])
            goal_id = first_goal + number
            goals.add(
                id=goal_id,
                patient_id=patient_id,
                category=category,
                description=GOAL_TEXT[category],
                set_on=set_on,
                baseline_score=baseline,
                expected_outcome="Expected level of attainment agreed with the family",
            )
            score = baseline
            for review in range(4):
                on = implant + dt.timedelta(days=180 + 365 * review)
                if on > until:
                    break
                score = max(-2, min(2, score + rng.choice([0, 1, 1, 2, -1])))
                reviews.add(goal_id=goal_id, reviewed_on=on, score=score)
        if rng.random() < 0.1:
            occurred = implant + dt.timedelta(days=rng.randint(0, max((until - implant).days, 0)))
            resolved = occurred + dt.timedelta(days=rng.randint(3, 60))
            self.tables[Complication].add(
                patient_id=patient_id,
                occurred_on=occurred,
                kind=rng.choice(["infection", "csf_leak", "catheter", "pump_malfunction", "wound", "withdrawal"]),
                severity=rng.choice(["mild", "moderate", "moderate", "severe"]),
                needed_surgery=rng.random() < 0.3,
                resolved_on=resolved if resolved <= today and rng.random() < 0.85 else None,
            )


_worker: Generator | None = None


def _init_worker(generator: Generator) -> None:
    global _worker  # noqa: PLW0603 - one generator per worker process
    _worker = generator


def _work(start: int, stop: int):
    return _worker.chunk(start, stop, as_copy=True)


def _chunks(generator: Generator, ranges, workers: int, *, as_copy: bool):
    """The chunks in order; with ``workers`` > 1 built ahead in worker processes.

    Building rows is most of the Python time, so workers build the next chunks (as COPY bytes)
    while the main process streams the current one into PostgreSQL. At most one chunk per worker
    waits ahead, so memory stays flat. Each patient draws from its own ``Random`` and its ids follow
    from its index, so the data is the same whatever the number of workers. The workers are
    forked: they inherit the generator and never touch the parent's database connection.
    """
    if workers <= 1:
        for start, stop in ranges:
            yield generator.chunk(start, stop, as_copy=as_copy)
        return
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (generator,)) as pool:
        pending = deque()
        for start, stop in ranges:
            pending.append(pool.apply_async(_work, (start, stop)))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def generate(
    *,
    patients: int,
    seed: int = 1,
    sites: int | None = None,
    batch: int = 2000,
    workers: int | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> Result:
    """Add ``patients`` synthetic patients; returns the row counts and the time taken.

    ``workers``: processes building rows (PostgreSQL only; default one per CPU, 1 = in-process).
    """
    started = time.monotonic()
    now = now or timezone.now()
    postgres = connection.vendor == "postgresql"
    if workers is None:
        workers = os.cpu_count() or 1
    if not postgres or "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    site_count = sites or max(2, min(40, patients // 2500))
    contexts = make_sites(site_count, now)
    ids = IdBase.current()
    generator = Generator(seed=seed, sites=contexts, now=now, ids=ids)
    result = Result(rows={model._meta.model_name: 0 for model in ORDER})
    ranges = [(start, min(start + batch, patients)) for start in range(0, patients, batch)]
    for (start, stop), chunk in zip(ranges, _chunks(generator, ranges, workers, as_copy=postgres), strict=True):
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                cursor.execute("SET LOCAL synchronous_commit = off")
                switch_guards(cursor, on=False)
            for model, payload, count in chunk:
                if count:
                    write_rows(generator.tables[model], payload)
                result.rows[model._meta.model_name] += count
            if postgres:
                pumps = {"low": ids.pump + PUMP_IDS * start + 1, "high": ids.pump + PUMP_IDS * stop}
                cursor.execute(GUARD_CHECK, pumps)
                bad_refills, bad_changes = cursor.fetchone()
                if bad_refills or bad_changes:
                    raise AssertionError(
                        f"{bad_refills} refills and {bad_changes} dose changes break the rules of migration 0002"
                    )
                switch_guards(cursor, on=True)
        result.patients = stop
        if progress is not None:
            progress(stop, patients, sum(result.rows.values()), time.monotonic() - started)
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), ORDER):
            cursor.execute(sql)
        if postgres:
            # VACUUM too (outside a transaction only): it sets the visibility map, so counts and
            # index-only scans read the index as on a live, autovacuumed database.
            verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            # The facts the triggers stored for the report too.
            cursor.execute(f"{verb} " + ", ".join(m._meta.db_table for m in [*ORDER, PumpSpan, RefillMonth]))
    result.seconds = time.monotonic() - started
    return result


def stderr_progress(done: int, total: int, rows: int, seconds: float) -> None:
    """One status line on stderr, rewritten per batch."""
    rate = done / seconds if seconds else 0
    eta = (total - done) / rate if rate else 0
    end = "\n" if done >= total else ""
    sys.stderr.write(
        f"\r  {done:>9,}/{total:,} patients ({100 * done // total:3d} %), {rows:,} rows, "
        f"{seconds:6.1f} s elapsed, ~{eta:5.0f} s left{end}"
    )
    sys.stderr.flush()
