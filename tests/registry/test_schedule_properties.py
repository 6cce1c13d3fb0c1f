"""Properties of the scheduling rules over random refill cycles (pure Python, no database).

Random fills, dose changes at random instants (some at the fill's own instant), time zones with
daylight-saving changes, closed weekdays and holidays, alarm volumes and site settings.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from registry import scheduling

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Pacific/Auckland"]
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _amount(low: str, high: str):
    return st.decimals(Decimal(low), Decimal(high), places=2)


@st.composite
def cycles(draw):
    zone = draw(st.sampled_from(ZONES))
    # Minutes, as the dashboard records them; a year of fills crosses every zone's DST changes.
    fill_at = START + dt.timedelta(minutes=draw(st.integers(0, 366 * 24 * 60)))
    fill = scheduling.FillState(
        performed_at=fill_at.astimezone(zoneinfo.ZoneInfo(zone)),
        volume_ml=draw(_amount("1", "40")),
        concentration_mcg_per_ml=draw(_amount("50", "3000")),
        daily_dose_mcg=draw(_amount("20", "1500")),
    )
    offsets = draw(st.lists(st.one_of(st.just(0), st.integers(-600, 400 * 24 * 60)), max_size=4, unique=True))
    changes = [scheduling.DoseStep(fill_at + dt.timedelta(minutes=m), draw(_amount("20", "1500"))) for m in offsets]
    rules = scheduling.SiteRules(
        time_zone=zone,
        safety_margin_days=draw(st.integers(0, 21)),
        max_refill_interval_days=draw(st.integers(30, 200)),
        closed_weekdays=frozenset(draw(st.sets(st.integers(0, 6), max_size=3))),
        closed_dates=frozenset(
            fill_at.date() + dt.timedelta(days=d) for d in draw(st.sets(st.integers(0, 400), max_size=20))
        ),
    )
    alarm_volume = draw(_amount("0", "5"))
    programmer = draw(st.none() | st.integers(0, 400).map(lambda d: fill_at.date() + dt.timedelta(days=d)))
    return fill, changes, rules, alarm_volume, programmer


@settings(max_examples=500, deadline=None, derandomize=True)
@given(cycles())
def test_the_due_date_is_never_later_than_the_alarm_date_minus_the_margin(cycle):
    fill, changes, rules, alarm_volume, programmer = cycle
    schedule = scheduling.refill_schedule(
        fill, changes, alarm_volume_ml=alarm_volume, rules=rules, programmer_alarm_date=programmer
    )
    latest = schedule.alarm_date - dt.timedelta(days=rules.safety_margin_days)
    assert schedule.next_refill_due <= latest
    assert schedule.alarm_date <= schedule.empty_date
    assert schedule.next_refill_due.weekday() not in rules.closed_weekdays
    assert schedule.next_refill_due not in rules.closed_dates
    if schedule.basis == "alarm_margin":
        # Earlier than the margin only across closed days.
        assert schedule.next_refill_due == scheduling.previous_open_day(latest, rules)
    else:
        assert schedule.basis == "max_interval"
        assert schedule.next_refill_due == scheduling.previous_open_day(
            scheduling.local_date(fill.performed_at, rules.zone) + dt.timedelta(days=rules.max_refill_interval_days),
            rules,
        )


@settings(max_examples=500, deadline=None, derandomize=True)
@given(cycles())
def test_a_dose_change_at_the_fill_instant_is_the_same_as_filling_at_that_dose(cycle):
    fill, changes, rules, alarm_volume, _ = cycle
    at_fill = [c for c in changes if c.effective_at == fill.performed_at]
    later = [c for c in changes if c.effective_at != fill.performed_at]
    same = scheduling.FillState(
        fill.performed_at,
        fill.volume_ml,
        fill.concentration_mcg_per_ml,
        at_fill[0].daily_dose_mcg if at_fill else fill.daily_dose_mcg,
    )
    kwargs = {"alarm_volume_ml": alarm_volume, "zone": rules.zone}
    assert scheduling.project_reservoir(fill, changes, **kwargs) == scheduling.project_reservoir(same, later, **kwargs)
    # The chart is the same walk: it empties where the projection says.
    assert scheduling.reservoir_curve(fill, changes)[-1] == (
        scheduling.project_reservoir(fill, changes, **kwargs).empty_at,
        Decimal("0.00"),
    )
