"""reservoir_curve walks the same pieces as project_reservoir: it meets the alarm and empty instants."""

import datetime as dt
from decimal import Decimal as D

import pytest

from registry import scheduling
from registry.scheduling import DoseStep, FillState
from reporting.charts import reservoir_chart

UTC = dt.UTC
FILLED = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
LONDON = scheduling.SiteRules(time_zone="Europe/London").zone


def _volume_at(points, when):
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t0 <= when <= t1:
            return v0 + (v1 - v0) * D((when - t0).total_seconds()) / D((t1 - t0).total_seconds())
    raise AssertionError("outside the curve")


@pytest.mark.parametrize(
    "changes",
    [
        [],
        [DoseStep(FILLED + dt.timedelta(days=30), D("600"))],
        [DoseStep(FILLED + dt.timedelta(days=10), D("200")), DoseStep(FILLED + dt.timedelta(days=70), D("800"))],
        [DoseStep(FILLED - dt.timedelta(days=3), D("999"))],  # before the fill: ignored, as in the projection
    ],
)
def test_curve_crosses_alarm_and_empty_where_the_projection_says(changes):
    fill = FillState(FILLED, D("40"), D("2000"), D("400"))
    projection = scheduling.project_reservoir(fill, changes, alarm_volume_ml=D("2"), zone=LONDON)
    points = scheduling.reservoir_curve(fill, changes)
    assert points[0] == (FILLED, D("40"))
    assert points[-1] == (projection.empty_at, D("0.00"))
    assert abs(_volume_at(points, projection.alarm_at) - D("2")) < D("0.01")
    assert all(a[0] < b[0] and a[1] >= b[1] for a, b in zip(points, points[1:], strict=False))


def test_dose_change_makes_a_breakpoint_with_the_volume_left():
    fill = FillState(FILLED, D("40"), D("2000"), D("400"))  # 0.2 mL/day
    points = scheduling.reservoir_curve(fill, [DoseStep(FILLED + dt.timedelta(days=50), D("200"))])
    assert points[1] == (FILLED + dt.timedelta(days=50), D("30.00"))
    assert points[2][0] == FILLED + dt.timedelta(days=50 + 300)  # 30 mL at 0.1 mL/day


def test_curve_stops_at_until():
    fill = FillState(FILLED, D("40"), D("2000"), D("400"))
    points = scheduling.reservoir_curve(fill, [], until=FILLED + dt.timedelta(days=100))
    assert points == [(FILLED, D("40")), (FILLED + dt.timedelta(days=100), D("20.00"))]


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        scheduling.reservoir_curve(FillState(dt.datetime(2026, 1, 5), D("40"), D("2000"), D("400")), [])


def test_chart_scales_into_the_plot_and_drops_markers_outside():
    points = [(FILLED, D("40")), (FILLED + dt.timedelta(days=200), D("0"))]
    chart = reservoir_chart(
        points,
        reservoir_ml=D("40"),
        alarm_ml=D("2"),
        markers={"Today": FILLED + dt.timedelta(days=100), "Later": FILLED + dt.timedelta(days=400)},
    )
    first, last = chart.polyline.split()
    assert first == f"{chart.plot_left}.0,{chart.plot_top}.0" or first == f"{chart.plot_left},{chart.plot_top}"
    x, y = (float(v) for v in last.split(","))
    assert (x, y) == (chart.plot_right, chart.plot_bottom)
    assert [m.label for m in chart.markers] == ["Today"]
    assert chart.markers[0].x == pytest.approx((chart.plot_left + chart.plot_right) / 2, abs=0.1)
    assert chart.plot_top < chart.alarm_y < chart.plot_bottom
