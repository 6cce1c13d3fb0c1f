"""The scheduling rules as pure functions: tables of cases, worked by hand."""

import datetime as dt
import zoneinfo
from decimal import Decimal as D

import pytest

from registry import scheduling as s

UTC = dt.UTC
LONDON = "Europe/London"


def fill(day, volume="40", conc="2000", dose="400", hour=10, tz="UTC"):
    at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zoneinfo.ZoneInfo(tz))
    return s.FillState(at, D(volume), D(conc), D(dose))


def rules(**kw):
    return s.SiteRules(**kw)


def test_brief_example():
    """40 mL, 2 mL alarm, 2000 mcg/mL, 400 mcg/day, filled 2026-01-05 (DESIGN/issue example)."""
    result = s.refill_schedule(fill(dt.date(2026, 1, 5)), [], alarm_volume_ml=D("2"), rules=rules())
    assert result.alarm_date == dt.date(2026, 7, 14)
    assert result.empty_date == dt.date(2026, 7, 24)
    # alarm - 7 = 2026-07-07; refill + 180 = 2026-07-04, a Saturday -> Friday 2026-07-03.
    assert dt.date(2026, 7, 4).weekday() == 5
    assert result.next_refill_due == dt.date(2026, 7, 3)
    assert result.basis == "max_interval"


def test_safety_margin_wins_when_alarm_is_sooner():
    # 20 mL at 500 mcg/mL, 200 mcg/day = 0.4 mL/day: alarm after 18/0.4 = 45 days.
    result = s.refill_schedule(
        fill(dt.date(2026, 3, 2), volume="20", conc="500", dose="200"), [], alarm_volume_ml=D("2"), rules=rules()
    )
    assert result.alarm_date == dt.date(2026, 4, 16)  # 2026-03-02 + 45
    assert result.empty_date == dt.date(2026, 4, 21)  # + 50
    assert result.next_refill_due == dt.date(2026, 4, 9)  # Thursday, alarm - 7
    assert result.basis == "alarm_margin"


def test_dose_change_between_refills_moves_the_alarm_earlier():
    # 0.2 mL/day for 50 days (10 mL used, 30 left), then 800 mcg/day = 0.4 mL/day: 28 mL to the alarm = 70 days.
    start = fill(dt.date(2026, 1, 5))
    change = s.DoseStep(start.performed_at + dt.timedelta(days=50), D("800"))
    result = s.refill_schedule(start, [change], alarm_volume_ml=D("2"), rules=rules())
    assert result.alarm_date == dt.date(2026, 1, 5) + dt.timedelta(days=120)
    assert result.empty_date == dt.date(2026, 1, 5) + dt.timedelta(days=125)
    assert result.next_refill_due == dt.date(2026, 4, 28)  # alarm 2026-05-05 - 7, a Tuesday


def test_two_dose_changes_and_one_before_the_refill_is_ignored():
    start = fill(dt.date(2026, 1, 5))
    before = s.DoseStep(start.performed_at - dt.timedelta(days=3), D("50"))
    down = s.DoseStep(start.performed_at + dt.timedelta(days=10), D("200"))  # 0.1 mL/day
    up = s.DoseStep(start.performed_at + dt.timedelta(days=30), D("400"))  # 0.2 mL/day
    # 10 days x 0.2 = 2, 20 days x 0.1 = 2, then 34 mL to the alarm at 0.2 = 170 days: 200 days in all.
    projection = s.project_reservoir(start, [up, before, down], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC"))
    assert projection.alarm_date == dt.date(2026, 1, 5) + dt.timedelta(days=200)
    assert projection.empty_date == dt.date(2026, 1, 5) + dt.timedelta(days=210)


def test_dose_change_after_the_alarm_is_reached_changes_nothing():
    start = fill(dt.date(2026, 1, 5), volume="10", conc="500", dose="500")  # 1 mL/day, alarm after 8 days
    late = s.DoseStep(start.performed_at + dt.timedelta(days=9), D("50"))
    projection = s.project_reservoir(start, [late], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC"))
    assert projection.alarm_date == dt.date(2026, 1, 13)
    assert projection.empty_date == dt.date(2026, 1, 5) + dt.timedelta(days=9 + 10)  # 1 mL left at 0.1 mL/day


@pytest.mark.parametrize(
    ("programmer", "expected_alarm", "disagrees"),
    [
        (dt.date(2026, 7, 14), dt.date(2026, 7, 14), False),  # agrees
        (dt.date(2026, 7, 13), dt.date(2026, 7, 13), False),  # one day apart is within tolerance
        (dt.date(2026, 7, 10), dt.date(2026, 7, 10), True),  # earlier programmer date wins, flagged
        (dt.date(2026, 7, 20), dt.date(2026, 7, 14), True),  # later programmer date loses, flagged
    ],
)
def test_programmer_alarm_date(programmer, expected_alarm, disagrees):
    result = s.refill_schedule(
        fill(dt.date(2026, 1, 5)),
        [],
        alarm_volume_ml=D("2"),
        rules=rules(max_refill_interval_days=365),
        programmer_alarm_date=programmer,
    )
    assert result.projected_alarm_date == dt.date(2026, 7, 14)
    assert result.alarm_date == expected_alarm
    assert result.alarm_date_disagrees is disagrees
    assert result.next_refill_due == s.previous_open_day(expected_alarm - dt.timedelta(days=7), rules())


@pytest.mark.parametrize(
    ("day", "closed_weekdays", "holidays", "expected"),
    [
        (dt.date(2026, 7, 4), {5, 6}, set(), dt.date(2026, 7, 3)),  # Saturday -> Friday
        (dt.date(2026, 7, 5), {5, 6}, set(), dt.date(2026, 7, 3)),  # Sunday -> Friday
        (dt.date(2026, 7, 6), {5, 6}, set(), dt.date(2026, 7, 6)),  # Monday stays
        (dt.date(2026, 7, 6), {5, 6}, {dt.date(2026, 7, 6)}, dt.date(2026, 7, 3)),  # holiday Monday
        (dt.date(2026, 12, 28), {5, 6}, {dt.date(2026, 12, 25), dt.date(2026, 12, 28)}, dt.date(2026, 12, 24)),
        (dt.date(2026, 7, 4), set(), set(), dt.date(2026, 7, 4)),  # a clinic open at weekends
        (dt.date(2026, 7, 10), {4}, set(), dt.date(2026, 7, 9)),  # closed on Fridays
    ],
)
def test_closed_days_move_the_due_date_earlier(day, closed_weekdays, holidays, expected):
    r = rules(closed_weekdays=frozenset(closed_weekdays), closed_dates=frozenset(holidays))
    assert s.previous_open_day(day, r) == expected


def test_holiday_applies_to_the_due_date():
    r = rules(closed_dates=frozenset({dt.date(2026, 7, 3)}))
    result = s.refill_schedule(fill(dt.date(2026, 1, 5)), [], alarm_volume_ml=D("2"), rules=r)
    assert result.next_refill_due == dt.date(2026, 7, 2)


@pytest.mark.parametrize(
    ("max_interval", "expected_due", "basis"),
    [
        (180, dt.date(2026, 7, 3), "max_interval"),
        (90, dt.date(2026, 4, 3), "max_interval"),
        (365, dt.date(2026, 7, 7), "alarm_margin"),
    ],
)
def test_maximum_refill_interval(max_interval, expected_due, basis):
    result = s.refill_schedule(
        fill(dt.date(2026, 1, 5)), [], alarm_volume_ml=D("2"), rules=rules(max_refill_interval_days=max_interval)
    )
    assert (result.next_refill_due, result.basis) == (expected_due, basis)


def test_manual_earlier_date_wins_and_a_later_one_does_not():
    early = s.refill_schedule(
        fill(dt.date(2026, 1, 5)), [], alarm_volume_ml=D("2"), rules=rules(), manual_due_date=dt.date(2026, 5, 6)
    )
    late = s.refill_schedule(
        fill(dt.date(2026, 1, 5)), [], alarm_volume_ml=D("2"), rules=rules(), manual_due_date=dt.date(2026, 8, 1)
    )
    assert (early.next_refill_due, early.basis) == (dt.date(2026, 5, 6), "manual")
    assert (late.next_refill_due, late.basis) == (dt.date(2026, 7, 3), "max_interval")


def test_time_zone_decides_the_calendar_date():
    # Filled 08:00 in Auckland on 5 Jan (19:00 UTC on 4 Jan); 100 days at 0.2 mL/day to the alarm:
    # 19:00 UTC on 14 April is 07:00 on the 15th in Auckland and 12:00 on the 14th in Los Angeles.
    f = fill(dt.date(2026, 1, 5), volume="22", hour=8, tz="Pacific/Auckland")
    auckland = s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("Pacific/Auckland"))
    los_angeles = s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("America/Los_Angeles"))
    assert auckland.alarm_date == dt.date(2026, 4, 15)  # 5 Jan + 100 days, local
    assert los_angeles.alarm_date == dt.date(2026, 4, 15) - dt.timedelta(days=1)  # same instant, a day behind


def test_daylight_saving_change_neither_adds_nor_loses_drug():
    """London springs forward on 2026-03-29. 23:30 local on the 28th + 1 day of drug is 00:30 on the 30th."""
    f = fill(dt.date(2026, 3, 28), volume="2.2", conc="500", dose="100", hour=23, tz=LONDON)  # 0.2 mL/day
    f = s.FillState(f.performed_at.replace(minute=30), f.volume_ml, f.concentration_mcg_per_ml, f.daily_dose_mcg)
    projection = s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo(LONDON))
    assert projection.alarm_at - f.performed_at == dt.timedelta(days=1)
    assert projection.alarm_at.astimezone(zoneinfo.ZoneInfo(LONDON)).hour == 0  # 24 real hours later
    assert projection.alarm_date == dt.date(2026, 3, 30)


def test_autumn_daylight_saving_change():
    """London falls back on 2026-10-25: 00:30 on the 25th + 24 h is 23:30 on the 25th."""
    at = dt.datetime(2026, 10, 25, 0, 30, tzinfo=zoneinfo.ZoneInfo(LONDON))
    f = s.FillState(at, D("2.2"), D("500"), D("100"))
    projection = s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo(LONDON))
    assert projection.alarm_date == dt.date(2026, 10, 25)


def test_leap_day():
    # Filled 2028-02-28 (a leap year): 0.2 mL/day, 2 days to the alarm -> 2028-03-01 via 29 February.
    f = fill(dt.date(2028, 2, 28), volume="2.4")
    projection = s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC"))
    assert projection.alarm_date == dt.date(2028, 3, 1)
    long = s.refill_schedule(fill(dt.date(2028, 2, 29)), [], alarm_volume_ml=D("2"), rules=rules())
    assert long.next_refill_due == dt.date(2028, 8, 25)  # 2028-02-29 + 180 = 2028-08-27 (Sun) -> Fri 25th


@pytest.mark.parametrize(
    ("implant", "documented", "expected"),
    [
        (dt.date(2024, 2, 29), None, dt.date(2031, 2, 28)),  # leap day + 7 years: the earlier day
        (dt.date(2025, 6, 2), None, dt.date(2032, 6, 2)),
        (dt.date(2025, 6, 2), dt.date(2030, 1, 15), dt.date(2030, 1, 15)),  # documented ERI wins
    ],
)
def test_battery_eri_date(implant, documented, expected):
    assert s.battery_eri_date(implant_date=implant, documented_eri=documented, battery_life_years=7) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 6, 18), "upcoming"),  # 15 days before the due date
        (dt.date(2026, 6, 19), "due"),  # 14 days before: inside the lead window
        (dt.date(2026, 7, 3), "due"),  # the due date itself
        (dt.date(2026, 7, 4), "overdue"),
        (dt.date(2026, 7, 13), "overdue"),  # the day before the alarm
        (dt.date(2026, 7, 14), "critical"),  # the alarm date: the pump is alarming
        (dt.date(2026, 9, 1), "critical"),
    ],
)
def test_refill_status_boundaries(today, expected):
    got = s.refill_status(today, due_date=dt.date(2026, 7, 3), alarm_date=dt.date(2026, 7, 14), lead_window_days=14)
    assert got == expected


def test_nothing_due_has_status_none():
    assert s.refill_status(dt.date(2026, 1, 1), due_date=None, alarm_date=None, lead_window_days=14) == "none"


@pytest.mark.parametrize(
    ("performed", "expected"),
    [(dt.date(2026, 7, 3), "on_time"), (dt.date(2026, 7, 4), "late"), (dt.date(2026, 7, 14), "after_alarm")],
)
def test_refill_timeliness(performed, expected):
    assert s.refill_timeliness(performed, due_date=dt.date(2026, 7, 3), alarm_date=dt.date(2026, 7, 14)) == expected


@pytest.mark.parametrize(
    ("removed", "expected", "flag"),
    [("4.0", "4.0", False), ("6.0", "4.0", False), ("6.1", "4.0", True), ("1.9", "4.0", True), ("3", None, False)],
)
def test_residual_discrepancy(removed, expected, flag):
    got = s.residual_discrepancy(
        volume_removed_ml=D(removed), expected_residual_ml=D(expected) if expected else None, tolerance_ml=D("2")
    )
    assert got is flag


def test_follow_up_missed_after_grace():
    assert not s.follow_up_missed(dt.date(2026, 3, 8), visit_date=dt.date(2026, 3, 1), grace_days=7)
    assert s.follow_up_missed(dt.date(2026, 3, 9), visit_date=dt.date(2026, 3, 1), grace_days=7)


@pytest.mark.parametrize("bad", [{"volume": "0"}, {"conc": "0"}, {"dose": "-1"}])
def test_impossible_input_is_refused(bad):
    with pytest.raises(ValueError):
        s.project_reservoir(fill(dt.date(2026, 1, 5), **bad), [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC"))


def test_naive_times_are_refused():
    f = s.FillState(dt.datetime(2026, 1, 5, 10), D("40"), D("2000"), D("400"))
    with pytest.raises(ValueError, match="timezone-aware"):
        s.project_reservoir(f, [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC"))


def test_filled_below_the_alarm_volume_alarms_at_once():
    projection = s.project_reservoir(
        fill(dt.date(2026, 1, 5), volume="1.5"), [], alarm_volume_ml=D("2"), zone=zoneinfo.ZoneInfo("UTC")
    )
    assert projection.alarm_date == dt.date(2026, 1, 5)


def test_the_pure_rules_name_only_values_of_the_models_enums():
    """``scheduling`` imports no model, so it spells the stored values it reads; each is the model's."""
    from registry.models import FollowUp, PatientStatus, Refill

    assert s.LEFT_WORKLIST_STATUSES < set(PatientStatus.values)
    assert set(s.OPEN_VISIT_STATUSES) < set(FollowUp.Status.values)
    day = dt.date(2026, 5, 1)
    outcomes = {
        s.refill_timeliness(day, due_date=due, alarm_date=alarm)
        for due, alarm in [(None, None), (day, day), (day - dt.timedelta(days=1), None), (day, None)]
    }
    assert outcomes == set(Refill.Timeliness.values)
