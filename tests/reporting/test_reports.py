"""Program reporting against a program computed by hand (tests/reporting/program.py).

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

from registry.models import Site
from reporting import reports
from tests.reporting.program import NOW, build_program

pytestmark = pytest.mark.django_db
Y_START, Y_END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


@pytest.fixture
def program():
    with time_machine.travel(NOW, tick=False):
        yield build_program()


def whole(program):
    return reports.summary(sites=None, start=Y_START, end=Y_END)


# --- The GAS T-score (FACTS.md check values) ----------------------------------------------------


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
    # Status as of 2026-12-31: Ada implanted, Ben explanted (2026-04-30), Cleo implanted again at
    # South (2026-09-02), Dan not a candidate, Eve still referred (evaluating only 2027-01-05),
    # Gus deceased (2025-12-01). Active = all but deceased = 5.
    assert census["active"] == 5
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
    # Complications 2026: Ada infection (surgery), Ben catheter and infection = 3, 2 infections.
    assert (safety["complications"], safety["infections"], safety["needed_surgery"]) == (3, 2, 1)
    # Per 100 pump-years: 3 * 36525 / 759 = 144.37; 2 * 36525 / 759 = 96.25; 1 * 36525 / 759 = 48.12.
    assert safety["complications_per_100_pump_years"] == 144.37
    assert safety["infections_per_100_pump_years"] == 96.25
    by_kind = {r["kind"]: r for r in safety["by_kind"]}
    assert by_kind["catheter"] == {"kind": "catheter", "count": 1, "needed_surgery": 0, "per_100_pump_years": 48.12}
    assert by_kind["infection"]["count"] == 2 and by_kind["infection"]["needed_surgery"] == 1
    assert by_kind["withdrawal"] == {"kind": "withdrawal", "count": 0, "needed_surgery": 0, "per_100_pump_years": 0.0}


def test_goal_attainment(program):
    goals = whole(program)["goals"]
    # Goals set by 2026-12-31: Ada comfort (latest 2026 review +1; the -1 in February is older),
    # Ada positioning (0; the +2 of 2027-01-05 is after the period), Ada pain (no review), Ben
    # comfort (-2). 4 goals, 3 reviewed, 1 not reviewed, 2 at 0 or above: share 2/3.
    assert (goals["goals"], goals["reviewed"], goals["not_reviewed"]) == (4, 3, 1)
    assert goals["at_or_above_expected"] == 2
    assert goals["share_at_or_above_expected"] == 0.667
    # T-scores: Ada (+1, 0) = 50 + 10/sqrt(2.6) = 56.20; Ben (-2) = 30. Mean (56.2017 + 30)/2 = 43.10.
    assert goals["patients_with_t_score"] == 2
    assert goals["mean_t_score"] == pytest.approx(43.10, abs=0.005)
    assert goals["by_category"] == [
        {
            "category": "comfort",
            "goals": 2,
            "reviewed": 2,
            "not_reviewed": 0,
            "at_or_above_expected": 1,
            "share_at_or_above_expected": 0.5,
            "mean_score": -0.5,  # (+1 + -2) / 2
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


def test_follow_ups_and_reminders(program):
    report = whole(program)
    # Due in 2026: Ada annual (completed), Ada clinic review (missed), Ben post-op (cancelled);
    # Cleo's visit is due 2027-01-20. Adherence 1 / (1 + 1) = 0.5.
    assert report["follow_ups"] == {
        "due": 3,
        "completed": 1,
        "missed": 1,
        "cancelled": 1,
        "scheduled": 0,
        "adherence": 0.5,
    }
    # Created in 2026: 5 (the 2025 one is out). Delivered: 2 acknowledged + 1 sent = 3; 1 failed;
    # acknowledged after 5 h and 9 h: median 7.0 h.
    assert report["reminders"] == {
        "created": 5,
        "delivered": 3,
        "failed": 1,
        "acknowledged": 2,
        "cancelled": 0,
        "median_hours_to_acknowledgement": 7.0,
    }


# --- Per site: the patient who moved ------------------------------------------------------------


def test_moved_patient_counts_for_the_current_site_only(program):
    north = reports.summary(sites=Site.objects.filter(pk=program.north.pk), start=Y_START, end=Y_END)
    south = reports.summary(sites=Site.objects.filter(pk=program.south.pk), start=Y_START, end=Y_END)
    # South now holds Cleo (implanted) and Eve (referred); North the other four registered.
    assert south["sites"] == ["South"] and north["sites"] == ["North"]
    assert (south["census"]["patients"], north["census"]["patients"]) == (2, 4)
    assert south["census"]["by_status"]["implanted"] == 1 and south["census"]["by_status"]["referred"] == 1
    assert north["census"]["by_status"]["implanted"] == 1  # Ada
    # Cleo's whole history goes with her: her referral, trials and implant, although made at North.
    assert south["activity"]["totals"]["referrals"] == 2  # Cleo, Eve
    assert north["activity"]["totals"]["referrals"] == 1  # Dan
    assert south["activity"]["totals"]["implants"] == 1 and north["activity"]["totals"]["implants"] == 0
    assert south["activity"]["totals"]["positive_rate"] == 1.0
    assert (south["refills"]["performed"], south["refills"]["median_interval_days"]) == (2, 172)
    # South's pump-days: Cleo's 275 -> 0.753 pump-years, no complications: rate 0.
    assert south["safety"]["pump_years"] == 0.753
    assert south["safety"]["complications_per_100_pump_years"] == 0.0
    # North: Ada 365 + Ben 119 = 484 days = 1.325 pump-years.
    assert north["safety"]["pump_years"] == 1.325
    assert south["goals"]["mean_t_score"] is None and south["follow_ups"]["adherence"] is None
    assert south["reminders"]["created"] == 0 and north["reminders"]["created"] == 5


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
    assert len(large) == len(small) <= 20


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
    rows = reports.patient_export(sites=None, start=Y_START, end=Y_END)
    by_id = {r[0]: dict(zip(reports.PATIENT_EXPORT_COLUMNS, r, strict=True)) for r in rows}
    assert set(by_id) == {
        p.study_id for p in (program.ada, program.ben, program.cleo, program.dan, program.eve, program.gus)
    }
    ada = by_id[program.ada.study_id]
    # Ada: born 2011-12-31 -> 15 at 2026-12-31; two pumps (first 2025); 365 days = 0.999 pump-years;
    # 3 refills in 2026 (2 on time, 1 late); 1 infection; 2 reviewed goals, T = 56.2.
    assert ada == {
        "study_id": program.ada.study_id,
        "site": "North",
        "sex": "female",
        "age_years": 15,
        "primary_indication": "cerebral_palsy",
        "gmfcs_level": 4,
        "status": "implanted",
        "first_implant_year": 2025,
        "pumps": 2,
        "pump_years": 0.999,
        "refills": 3,
        "refills_on_time": 2,
        "refills_late": 1,
        "refills_after_alarm": 0,
        "complications": 1,
        "infections": 1,
        "goals_reviewed": 2,
        "gas_t_score": 56.2,
    }
    ben = by_id[program.ben.study_id]
    assert (ben["age_years"], ben["status"], ben["pump_years"], ben["complications"]) == (46, "explanted", 0.326, 2)
    assert ben["gas_t_score"] == 30.0
    eve = by_id[program.eve.study_id]
    assert (eve["status"], eve["pumps"], eve["first_implant_year"], eve["gas_t_score"]) == ("referred", 0, "", "")
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # ordered by study id, never by name
    text = reports.to_csv(reports.PATIENT_EXPORT_COLUMNS, rows)
    for value in program.identifying_values():
        assert value not in text


def test_pump_year_export(program):
    rows = reports.pump_year_export(sites=None, start=dt.date(2025, 1, 1), end=Y_END)
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
    first = reports.patient_export(sites=None, start=Y_START, end=Y_END)
    again = reports.patient_export(sites=None, start=dt.date(2025, 1, 1), end=Y_END)
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
