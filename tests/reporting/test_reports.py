"""Program reporting against a program computed by hand (over 500 lines: one program, every figure checked on it).

The program is tests/reporting/program.py.

Every expected number below is derived in the comments from the fixture, not from the code.
Period: 2026-01-01..2026-12-31 unless said otherwise.
"""

import csv
import datetime as dt
import io
import math

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Site
from reporting import reports
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
Y_START, Y_END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


TODAY = NOW.date()  # 2027-01-10: the day the report is run


def whole(program, **kwargs):
    return reports.summary(sites=None, start=Y_START, end=Y_END, today=TODAY, **kwargs)


def for_site(site, start=Y_START, end=Y_END):
    return reports.summary(sites=Site.objects.filter(pk=site.pk), start=start, end=end, today=TODAY)


# --- The GAS T-score (docs/clinical-facts.md check values) ----------------------------------------------------


@pytest.mark.parametrize(
    ("goals", "expected"),
    [
        ([(1, 0), (1, 0), (1, 0)], 50.0),
        ([(1, 1), (1, 1), (1, 1)], 63.69),  # 50 + 30 / sqrt(0.7*3 + 0.3*9)
        ([(1, -2)], 30.0),  # one goal: 50 + 10*(-2)/sqrt(0.7 + 0.3)
        ([(1, 1), (1, 0)], 56.20),  # 50 + 10 / sqrt(0.7*2 + 0.3*4) = 50 + 10/1.6125
        ([(2, 1), (1, -1)], 54.02),  # Σwx=1, Σw²=5, Σw=3: 50 + 10/sqrt(3.5 + 2.7) = 50 + 10/2.490
    ],
)
def test_gas_t_score(goals, expected):
    assert reports.gas_t_score(goals) == pytest.approx(expected, abs=0.005)


def test_gas_t_score_without_goals_is_none():
    assert reports.gas_t_score([]) is None


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [(dt.date(2011, 12, 31), dt.date(2026, 12, 31), 15), (dt.date(2012, 1, 1), dt.date(2026, 12, 31), 14)],
)
def test_age_in_years(born, on, age):
    assert reports.age_in_years(born, on) == age


# --- The whole program --------------------------------------------------------------------------


def test_census_as_of_end(program):
    census = whole(program)["census"]
    # Registered by 2026-12-31: Ada, Ben, Cleo, Dan, Eve, Gus (Finn registered 2027-01-05) = 6.
    assert census["patients"] == 6
    # Status as of 2026-12-31: Ada implanted, Ben explanted (2026-04-30), Cleo implanted (at South
    # since 2026-09-01), Dan not a candidate, Eve still referred (evaluating only 2027-01-05), Gus
    # deceased (2025-12-01). Active (in the care pathway): Ada, Cleo, Eve = 3; with a pump: 2.
    assert (census["active"], census["with_pump"]) == (3, 2)
    assert {k: v for k, v in census["by_status"].items() if v} == {
        "referred": 1,
        "not_candidate": 1,
        "implanted": 2,
        "explanted": 1,
        "deceased": 1,
    }
    assert sum(census["by_status"].values()) == 6 and census["by_status"]["transferred"] == 0
    # Primary indications: Ada and Cleo CP (both implanted), Ben SCI, Dan MS, Eve and Gus none.
    assert census["by_indication"] == [
        {"indication": "cerebral_palsy", "patients": 2, "implanted": 2},
        {"indication": "spinal_cord_injury", "patients": 1, "implanted": 0},
        {"indication": "multiple_sclerosis", "patients": 1, "implanted": 0},
        {"indication": "not_recorded", "patients": 2, "implanted": 0},
    ]
    # GMFCS: Cleo III, Ada IV, the other four not recorded.
    assert census["by_gmfcs"] == [
        {"gmfcs_level": "3", "patients": 1, "implanted": 1},
        {"gmfcs_level": "4", "patients": 1, "implanted": 1},
        {"gmfcs_level": "not_recorded", "patients": 4, "implanted": 0},
    ]


def test_census_counts_the_indication_in_force_at_the_end(program):
    from registry.models import Indication

    with time_machine.travel(dt.datetime(2027, 2, 1, 12, tzinfo=dt.UTC), tick=False):
        # In 2027 Dan's diagnosis is corrected to stroke, GMFCS II; Eve's first indication is recorded.
        dan = Indication.objects.get(patient=program.dan)
        dan.diagnosis, dan.gmfcs_level = "stroke", 2
        dan.save()
        services.add_indication(patient=program.eve, diagnosis="stroke", is_primary=True)
    census = whole(program)["census"]
    indications = {r["indication"]: r["patients"] for r in census["by_indication"]}
    # Dan counts as MS, as recorded at the end of 2026; Eve's indication, first recorded in 2027,
    # counts as first recorded (records are entered after the fact).
    assert indications == {
        "cerebral_palsy": 2,
        "spinal_cord_injury": 1,
        "multiple_sclerosis": 1,
        "stroke": 1,
        "not_recorded": 1,
    }
    assert {r["gmfcs_level"]: r["patients"] for r in census["by_gmfcs"]}["not_recorded"] == 4
    rows = {r[0]: r for r in reports.patient_export(sites=None, start=Y_START, end=Y_END, k=1).rows}
    assert rows[program.dan.study_id][4:6] == ["multiple_sclerosis", ""]


def test_activity_by_year(program):
    activity = whole(program)["activity"]
    # Referrals 2026: registrations of Cleo (02-01), Dan (05-01), Eve (11-01) = 3.
    # Trials 2026: Cleo 50 mcg negative + 75 mcg positive, Dan negative = 3 trials, 2 patients,
    # 1 positive patient -> rate 0.5 (Ada's 2025 trial is outside).
    # Implants: Cleo's first pump (04-01) = 1. Replacements: Ada's second pump (07-01) = 1.
    # Explants without successor: Ben (04-30) = 1; Ada's first pump was replaced, not explanted.
    row = {
        "year": 2026,
        "referrals": 3,
        "trials": 3,
        "patients_trialled": 2,
        "patients_positive": 1,
        "positive_rate": 0.5,
        "implants": 1,
        "replacements": 1,
        "explants": 1,
    }
    assert activity["by_year"] == [row]
    assert activity["totals"] == {k: v for k, v in row.items() if k != "year"}


def test_activity_over_two_years_splits_by_year(program):
    activity = reports.summary(sites=None, start=dt.date(2025, 1, 1), end=Y_END)["activity"]
    y2025, y2026 = activity["by_year"]
    # 2025: Ada registered (03-01) and trialled positive (05-10), implanted (06-02).
    assert (y2025["year"], y2025["referrals"], y2025["trials"], y2025["positive_rate"]) == (2025, 1, 1, 1.0)
    assert (y2025["implants"], y2025["replacements"], y2025["explants"]) == (1, 0, 0)
    assert y2026["referrals"] == 3
    # Over both years: 3 patients trialled (Ada, Cleo, Dan), 2 positive.
    assert activity["totals"]["referrals"] == 4
    assert (activity["totals"]["patients_trialled"], activity["totals"]["patients_positive"]) == (3, 2)
    assert activity["totals"]["positive_rate"] == 0.667


def test_refills(program):
    refills = whole(program)["refills"]
    # 2026 refills: Ada 03-01 on time, 07-01 late (new pump), 10-01 on time; Ben 02-10 after the
    # alarm; Cleo 04-01 first fill, 09-20 on time. 6 performed; on-time rate 3 / (3+1+1) = 0.6.
    assert {k: refills[k] for k in ("performed", "first", "on_time", "late", "after_alarm")} == {
        "performed": 6,
        "first": 1,
        "on_time": 3,
        "late": 1,
        "after_alarm": 1,
    }
    assert refills["on_time_rate"] == 0.6
    # Closed cycles 5, of which late or after the alarm 2: late share 0.4.
    assert (refills["closed"], refills["late_share"]) == (5, 0.4)
    # Intervals (the later refill in 2026, previous refill in the same pump chain):
    # Ada 2025-12-01 -> 03-01 = 90; 03-01 -> 07-01 across the replacement = 122; 07-01 -> 10-01 = 92;
    # Ben 2025-11-15 -> 2026-02-10 = 87; Cleo 04-01 -> 09-20 = 172. Sorted 87 90 92 122 172: median 92.
    assert sorted(reports.refill_intervals(None, Y_START, Y_END)) == [87, 90, 92, 122, 172]
    assert refills["intervals"] == 5
    assert refills["median_interval_days"] == 92


def test_safety(program):
    safety = whole(program)["safety"]
    # Pump-days in 2026: Ada pump 1 Jan 1..Jun 30 = 181, pump 2 Jul 1..Dec 31 = 184 (the
    # replacement day belongs to the new pump); Ben Jan 1..Apr 29 = 119 (explanted 04-30); Cleo
    # Apr 1..Dec 31 = 275; Gus 0 (died 2025-12-01, pump left in place). 759 days / 365.25 = 2.078.
    assert safety["pump_years"] == 2.078
    # Complications 2026: Ada infection (surgery), Ben catheter (no pump named, but his pump was in
    # place) and infection, Dan's CSF leak after his trial (no pump time behind it) = 4.
    assert (safety["complications"], safety["with_pump_time"], safety["without_pump_time"]) == (4, 3, 1)
    assert (safety["infections"], safety["needed_surgery"]) == (2, 1)
    # Rates use the 3 with pump time: 3 * 36525 / 759 = 144.37; infections 2 -> 96.25.
    assert safety["complications_per_100_pump_years"] == 144.37
    assert safety["infections_per_100_pump_years"] == 96.25
    # Exact 95% limits for 3 events (0.6187, 8.7673, Garwood's table) / 2.07803 pump-years x 100.
    assert (safety["ci_low"], safety["ci_high"]) == (29.77, 421.9)
    by_kind = {r["kind"]: r for r in safety["by_kind"]}
    # One catheter event: limits 0.02532 and 5.57164 -> 1.22 and 268.12.
    assert by_kind["catheter"] == {
        "kind": "catheter",
        "count": 1,
        "without_pump_time": 0,
        "needed_surgery": 0,
        "per_100_pump_years": 48.12,
        "ci_low": 1.22,
        "ci_high": 268.12,
    }
    assert by_kind["csf_leak"]["count"] == 1 and by_kind["csf_leak"]["without_pump_time"] == 1
    assert by_kind["csf_leak"]["per_100_pump_years"] == 0.0
    assert by_kind["infection"]["count"] == 2 and by_kind["infection"]["needed_surgery"] == 1
    # No events: the upper limit is -ln(0.025) = 3.68888 events / 2.07803 -> 177.52.
    assert by_kind["withdrawal"]["per_100_pump_years"] == 0.0 and by_kind["withdrawal"]["ci_high"] == 177.52
    # Against the published ranges: infections 96.25 (11.66-347.67) lie above 2.3-5.0; catheter
    # 48.12 (1.22-268.12) is consistent with about 2.0.
    verdicts = {r["figure"]: (r["rate"], r["ci_low"], r["ci_high"], r["verdict"]) for r in safety["literature"]}
    assert verdicts == {"infection": (96.25, 11.66, 347.67, "above"), "catheter": (48.12, 1.22, 268.12, "consistent")}
    assert all(r["sources"] for r in safety["literature"])


def test_a_three_month_rate_with_its_exact_interval_by_hand(program):
    safety = reports.summary(sites=None, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31), today=TODAY)["safety"]
    # Q1 2026: Ada's first pump 90 days, Ben's 90 days (Cleo implanted 04-01, Gus dead) = 180 days
    # = 0.49281 pump-years; one complication (Ben's catheter, 02-10): 1 / 0.49281 x 100 = 202.92.
    years = 180 / 365.25
    assert safety["pump_years"] == 0.493 and safety["complications_per_100_pump_years"] == 202.92
    # Exact limits for one event: the lower mu has P(X >= 1) = 1 - e^-mu = 0.025, so mu = -ln(0.975);
    # the upper mu has P(X <= 1) = e^-mu (1 + mu) = 0.025, which mu = 5.57164 satisfies.
    low = -math.log(0.975)
    high = 5.571643
    assert math.exp(-high) * (1 + high) == pytest.approx(0.025, abs=1e-7)
    assert safety["ci_low"] == round(low / years * 100, 2) == 5.14
    assert safety["ci_high"] == round(high / years * 100, 2) == 1130.58


def test_goal_attainment(program):
    goals = whole(program)["goals"]
    # Goals set by 2026-12-31: Ada comfort (weight 2; latest 2026 review +1, the -1 in February is
    # older), Ada positioning (weight 1; 0, the +2 of 2027-01-05 is after the period), Ada pain (no
    # review), Ben comfort (weight 1; -2). 4 goals, 3 reviewed, 1 not reviewed, 2 at 0 or above.
    assert (goals["goals"], goals["reviewed"], goals["not_reviewed"]) == (4, 3, 1)
    assert goals["at_or_above_expected"] == 2
    assert goals["share_at_or_above_expected"] == 0.667
    # Ada (two goals): Σwx = 2*1 + 1*0 = 2, Σw² = 5, Σw = 3: 50 + 20 / sqrt(0.7*5 + 0.3*9) = 58.03.
    # Ben has one reviewed goal: his 30.0 is only a rescaled score, kept apart from the mean.
    assert (goals["patients_with_t_score"], goals["mean_t_score"]) == (1, 58.03)
    assert (goals["single_goal_patients"], goals["single_goal_mean_t_score"]) == (1, 30.0)
    assert goals["by_category"] == [
        {
            "category": "comfort",
            "goals": 2,
            "reviewed": 2,
            "not_reviewed": 0,
            "at_or_above_expected": 1,
            "share_at_or_above_expected": 0.5,
            "mean_score": 0.0,  # weighted: (2 * +1 + 1 * -2) / 3; unweighted it would be -0.5
        },
        {
            "category": "pain",
            "goals": 1,
            "reviewed": 0,
            "not_reviewed": 1,
            "at_or_above_expected": 0,
            "share_at_or_above_expected": None,
            "mean_score": None,
        },
        {
            "category": "positioning",
            "goals": 1,
            "reviewed": 1,
            "not_reviewed": 0,
            "at_or_above_expected": 1,
            "share_at_or_above_expected": 1.0,
            "mean_score": 0.0,
        },
    ]


def test_follow_up_adherence_from_dates(program):
    # Due in 2026: Ada titration 02-01 (completed 02-20, after its 7 grace days), Ada annual 06-10
    # (completed 06-12), Ada clinic review 11-01 (not completed), Ben post-op 05-07 (cancelled), Eve
    # clinic review 12-01 (not completed, never marked by a sweep); Cleo's is due 2027-01-20.
    # Run on 2027-01-10 both open visits are past their grace days: missed 2. Adherence 2 / 4.
    assert whole(program)["follow_ups"] == {
        "due": 5,
        "completed": 2,
        "completed_late": 1,
        "missed": 2,
        "open": 0,
        "cancelled": 1,
        "adherence": 0.5,
    }
    # Run on 2026-12-05, Eve's visit is still within its grace days (until 12-08): open. 2 / 3.
    early = reports.summary(sites=None, start=Y_START, end=Y_END, today=dt.date(2026, 12, 5))["follow_ups"]
    assert (early["missed"], early["open"], early["adherence"]) == (1, 1, 0.667)


def test_reminders_per_event_with_channels_beneath(program):
    reminders = whole(program)["reminders"]
    # Events due in 2026 (ids in tests/reporting/program.py): 1 (inbox acknowledged after 5 h, and
    # e-mail sent: one event, two messages), 2 (e-mail failed), 7 (e-mail failed, then acknowledged
    # after 2 h: still failed), 3 (inbox acknowledged after 9 h), 4 (inbox), 5 (e-mail pending),
    # 8 (inbox, cancelled after it was posted: delivered), 9 (family SMS cancelled unsent) = 8.
    # Reached 1, 3, 4, 8; failed 2, 7; cancelled 9; not sent 5. Acknowledged 1, 7, 3: 5, 2, 9 h.
    assert {k: v for k, v in reminders.items() if k != "by_channel"} == {
        "events": 8,
        "reached": 4,
        "failed": 2,
        "cancelled": 1,
        "not_sent": 1,
        "acknowledged": 3,
        "reached_share": 0.571,  # 4 / (8 - 1 cancelled)
        "median_hours_to_acknowledgement": 5.0,
    }
    assert reminders["by_channel"] == [
        {"channel": "inbox", "messages": 4, "delivered": 4, "failed": 0, "cancelled": 0, "acknowledged": 2},
        {"channel": "email", "messages": 4, "delivered": 1, "failed": 2, "cancelled": 0, "acknowledged": 1},
        {"channel": "family_sms", "messages": 1, "delivered": 0, "failed": 0, "cancelled": 1, "acknowledged": 0},
    ]


# --- Per site: the patient who moved ------------------------------------------------------------


def test_a_moved_patients_history_stays_where_it_happened(program):
    north, south = for_site(program.north), for_site(program.south)
    assert south["sites"] == ["South"] and north["sites"] == ["North"]
    # On 2026-12-31 South cares for Cleo (implanted) and Eve (referred); North for the other four.
    assert (south["census"]["patients"], north["census"]["patients"]) == (2, 4)
    assert south["census"]["by_status"]["implanted"] == 1 and north["census"]["by_status"]["implanted"] == 1
    # Cleo's referral, trials and implant were at North, before her move on 2026-09-01.
    assert (north["activity"]["totals"]["referrals"], south["activity"]["totals"]["referrals"]) == (2, 1)
    assert (north["activity"]["totals"]["implants"], south["activity"]["totals"]["implants"]) == (1, 0)
    assert north["activity"]["totals"]["trials"] == 3 and south["activity"]["totals"]["positive_rate"] is None
    # Refills: Cleo's first fill (04-01) at North, her 09-20 refill at South with the 172-day interval
    # from the North one. North: Ada 3, Ben 1, Cleo 1 = 5; intervals 87 90 92 122: median 91.
    assert (south["refills"]["performed"], south["refills"]["median_interval_days"]) == (1, 172)
    assert (north["refills"]["performed"], north["refills"]["median_interval_days"]) == (5, 91.0)
    # Pump-days: Cleo Apr 1..Aug 31 = 153 at North, Sep 1..Dec 31 = 122 at South. North: Ada 365 +
    # Ben 119 + 153 = 637 = 1.744 pump-years; South 122 = 0.334.
    assert (north["safety"]["pump_years"], south["safety"]["pump_years"]) == (1.744, 0.334)
    assert south["safety"]["complications_per_100_pump_years"] == 0.0
    assert north["safety"]["complications"] == 4
    # Eve's missed visit is South's; the reminders were all sent by North.
    assert (south["follow_ups"]["missed"], north["follow_ups"]["missed"]) == (1, 1)
    assert south["reminders"]["events"] == 0 and north["reminders"]["events"] == 8
    # A closed year does not change when a patient moves later.
    with time_machine.travel(NOW, tick=False):
        services.move_patient(patient=program.ada, to_site=program.south, on=dt.date(2027, 1, 5))
    assert for_site(program.north)["safety"]["pump_years"] == 1.744
    assert for_site(program.north)["refills"]["performed"] == 5


def test_sites_compared(program):
    by_site = {r["site"]: r for r in whole(program)["by_site"]}
    # North: 3 complications with pump time over 1.744 pump-years = 172.02 (35.47-502.71); closed
    # refill cycles 4 (Ada 3, Ben 1), late 2 (Ada's late, Ben's after the alarm). South: none over
    # 0.334 pump-years, upper limit 3.68888 / 0.33402 = 1104.4; one closed cycle, on time.
    assert by_site["North"] == {
        "site": "North",
        "pump_years": 1.744,
        "complications": 3,
        "per_100_pump_years": 172.02,
        "ci_low": 35.47,
        "ci_high": 502.71,
        "refills_closed": 4,
        "refills_late": 2,
        "late_share": 0.5,
    }
    assert by_site["South"] == {
        "site": "South",
        "pump_years": 0.334,
        "complications": 0,
        "per_100_pump_years": 0.0,
        "ci_low": 0.0,
        "ci_high": 1104.4,
        "refills_closed": 1,
        "refills_late": 0,
        "late_share": 0.0,
    }


def test_no_site_in_scope_gives_zeros(program):
    report = reports.summary(sites=Site.objects.none(), start=Y_START, end=Y_END)
    assert report["census"]["patients"] == 0 and report["refills"]["performed"] == 0
    assert report["safety"]["pump_years"] == 0.0


# --- Empty range --------------------------------------------------------------------------------


def test_empty_range(program):
    report = reports.summary(sites=None, start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    # Nobody was registered by 2020 (Gus, the earliest, on 2023-04-01).
    assert report["census"]["patients"] == 0
    assert report["census"]["by_indication"] == [] and report["census"]["by_gmfcs"] == []
    assert report["activity"]["by_year"] == [
        {
            "year": 2020,
            "referrals": 0,
            "trials": 0,
            "patients_trialled": 0,
            "patients_positive": 0,
            "positive_rate": None,
            "implants": 0,
            "replacements": 0,
            "explants": 0,
        }
    ]
    assert report["refills"]["performed"] == 0 and report["refills"]["median_interval_days"] is None
    assert report["refills"]["on_time_rate"] is None
    assert report["safety"]["pump_years"] == 0.0
    assert report["safety"]["complications_per_100_pump_years"] is None
    assert report["goals"]["goals"] == 0 and report["goals"]["mean_t_score"] is None
    assert report["follow_ups"]["adherence"] is None
    assert report["reminders"]["median_hours_to_acknowledgement"] is None


def test_one_day_range_counts_the_replacement_day_once(program):
    report = reports.summary(sites=None, start=dt.date(2026, 7, 1), end=dt.date(2026, 7, 1))
    # On 2026-07-01 pumps in place: Ada's new pump (the old one's explant day is not counted) and
    # Cleo's: 2 days = 0.005 pump-years; one replacement; one refill (Ada's, late).
    assert report["safety"]["pump_years"] == round(2 / 365.25, 3)
    assert report["activity"]["totals"]["replacements"] == 1
    assert report["refills"]["performed"] == 1 and report["refills"]["late"] == 1


def test_start_after_end_is_refused():
    with pytest.raises(ValueError):
        reports.summary(sites=None, start=Y_END, end=Y_START)


# --- Query count ---------------------------------------------------------------------------------


def test_summary_runs_a_constant_number_of_queries(program):
    with CaptureQueriesContext(connection) as small:
        whole(program)
    with time_machine.travel(NOW, tick=False):
        build_program_more(program)
    with CaptureQueriesContext(connection) as large:
        whole(program)
    assert len(large) == len(small) <= 22


def build_program_more(program):
    """Ten more implanted patients with refills and goals: the report must not query per patient."""
    from decimal import Decimal as D

    from registry import services
    from tests.factories import at, make_implanted

    for _ in range(10):
        patient, pump = make_implanted(program.north, implant_date=dt.date(2026, 2, 2))
        for month in (3, 6):
            services.record_refill(
                pump=pump,
                performed_at=at(dt.date(2026, month, 2)),
                volume_after_ml=D("40"),
                concentration_mcg_per_ml=D("500"),
                daily_dose_mcg=D("100"),
            )
        goal = services.set_goal(patient=patient, category="sleep", description="Sleeps", set_on=dt.date(2026, 2, 2))
        services.review_goal(goal=goal, reviewed_on=dt.date(2026, 8, 2), score=1)


# --- Tables and exports --------------------------------------------------------------------------


def test_every_table_renders_as_csv(program):
    report = whole(program)
    for name in reports.TABLES:
        header, rows = reports.table(report, name)
        parsed = list(csv.reader(io.StringIO(reports.to_csv(header, rows))))
        assert parsed[0] == header and len(parsed) == len(rows) + 1
    _, activity = reports.table(report, "activity")
    assert activity[-1][:2] == ["total", 3]
    _, refills = reports.table(report, "refills")
    assert ["median_interval_days", 92] in refills
    with pytest.raises(KeyError):
        reports.table(report, "patients")


def test_patient_export_is_de_identified(program):
    export = reports.patient_export(sites=None, start=Y_START, end=Y_END, k=1)
    by_id = {r[0]: dict(zip(reports.PATIENT_EXPORT_COLUMNS, r, strict=True)) for r in export.rows}
    assert set(by_id) == {
        p.study_id for p in (program.ada, program.ben, program.cleo, program.dan, program.eve, program.gus)
    }
    ada = by_id[program.ada.study_id]
    # Ada: born 2011-12-31 -> 15 at 2026-12-31 (band 15-19); two pumps (first 2025: period
    # 2025-2029); 365 days = 0.999 pump-years; 3 refills in 2026 (2 on time, 1 late); 1 infection;
    # 2 reviewed goals, T = 58.03.
    assert ada == {
        "study_id": program.ada.study_id,
        "site": "North",
        "sex": "female",
        "age_band": "15-19",
        "primary_indication": "cerebral_palsy",
        "gmfcs_level": "4",
        "status": "implanted",
        "first_implant_period": "2025-2029",
        "pumps": 2,
        "pump_years": 0.999,
        "refills": 3,
        "refills_on_time": 2,
        "refills_late": 1,
        "refills_after_alarm": 0,
        "complications": 1,
        "infections": 1,
        "goals_reviewed": 2,
        "gas_t_score": 58.03,
    }
    ben = by_id[program.ben.study_id]
    assert (ben["age_band"], ben["status"], ben["pump_years"], ben["complications"]) == ("45-49", "explanted", 0.326, 2)
    assert (ben["gas_t_score"], ben["goals_reviewed"]) == (30.0, 1)
    # Gus, born 1966-06-01, died 2025-12-01 aged 59: his age stops there (he would be 60 by the end).
    assert by_id[program.gus.study_id]["age_band"] == "55-59"
    # Cleo is South's on 2026-12-31.
    assert by_id[program.cleo.study_id]["site"] == "South"
    eve = by_id[program.eve.study_id]
    assert (eve["status"], eve["pumps"], eve["first_implant_period"], eve["gas_t_score"]) == ("referred", 0, "", "")
    assert [r[0] for r in export.rows] == sorted(r[0] for r in export.rows)  # by study id, never by name
    text = reports.to_csv(reports.PATIENT_EXPORT_COLUMNS, export.rows)
    for value in program.identifying_values():
        assert value not in text


def test_every_export_ships_with_its_data_dictionary_and_the_k_achieved(program):
    import zipfile

    export = reports.patient_export(sites=None, start=Y_START, end=Y_END)
    assert export.k_requested == 5
    with zipfile.ZipFile(io.BytesIO(export.bundle())) as z:
        assert sorted(z.namelist()) == ["README.txt", "data_dictionary.csv", "patients.csv"]
        dictionary = list(csv.reader(io.StringIO(z.read("data_dictionary.csv").decode())))
        readme = z.read("README.txt").decode()
        rows = list(csv.DictReader(io.StringIO(z.read("patients.csv").decode())))
    assert [r[0] for r in dictionary[1:]] == reports.PATIENT_EXPORT_COLUMNS and all(r[1] for r in dictionary[1:])
    # Six patients in six different combinations cannot be 5-anonymous: every one is left out.
    assert rows == [] and export.suppressed == 6
    assert "k requested: 5" in readme and "k achieved: no row released" in readme
    pump_years = reports.pump_year_export(sites=None, start=Y_START, end=Y_END)
    assert pump_years.rows == [] and pump_years.dictionary_rows()[0][0] == "study_id"


def test_pump_year_export(program):
    rows = reports.pump_year_export(sites=None, start=dt.date(2025, 1, 1), end=Y_END, k=1).rows
    ada = [r for r in rows if r[0] == program.ada.study_id]
    # Ada pump 1: 2025 from 06-02 = 213 days (Jun 29 + Jul-Dec 184), 2025-12-01 refill; 2026 Jan 1..
    # Jun 30 = 181 days, 1 refill (03-01). Pump 2: 2026 184 days, 2 refills, 1 infection.
    assert ada == [
        [program.ada.study_id, 1, 2025, 213, 1, 0],
        [program.ada.study_id, 1, 2026, 181, 1, 0],
        [program.ada.study_id, 2, 2026, 184, 2, 1],
    ]
    gus = [r for r in rows if r[0] == program.gus.study_id]
    # Gus: 2025 Jan 1..Nov 30 (died 12-01) = 334 days; nothing in 2026.
    assert gus == [[program.gus.study_id, 1, 2025, 334, 0, 0]]
    ben = [r for r in rows if r[0] == program.ben.study_id]
    assert ben == [[program.ben.study_id, 1, 2025, 365, 1, 0], [program.ben.study_id, 1, 2026, 119, 1, 1]]
    assert not [r for r in rows if r[0] in (program.dan.study_id, program.eve.study_id)]


def test_study_ids_are_stable_across_exports_and_unrelated_to_the_mrn(program):
    first = reports.patient_export(sites=None, start=Y_START, end=Y_END, k=1).rows
    again = reports.patient_export(sites=None, start=dt.date(2025, 1, 1), end=Y_END, k=1).rows
    assert [r[0] for r in first] == [r[0] for r in again]
    assert program.ada.mrn[-5:] not in program.ada.study_id


# --- Management command -------------------------------------------------------------------------


def test_program_report_command_json(program, tmp_path):
    out = tmp_path / "r.json"
    call_command("program_report", "--year", "2026", "--format", "json", "--output", str(out))
    import json

    data = json.loads(out.read_text())
    assert data["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["refills"]["median_interval_days"] == 92


def test_program_report_command_csv_by_site(program, capsys):
    call_command("program_report", "--year", "2026", "--site", "South", "--format", "csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["table", "row", "column", "value"]
    assert ["census-status", "implanted", "patients", "1"] in rows
    assert ["refills", "median_interval_days", "value", "172"] in rows


def test_program_report_command_rejects_unknown_site(program):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Nowhere"):
        call_command("program_report", "--year", "2026", "--site", "Nowhere")


def test_t_score_constant_matches_facts():
    assert reports.GAS_RHO == 0.3
    assert math.isclose(reports.gas_t_score_from_sums(3, 3, 3), 50 + 30 / math.sqrt(4.8))
