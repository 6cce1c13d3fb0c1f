"""Server-side SVG geometry of the projected reservoir chart (no dates are computed here).

``registry.scheduling.reservoir_curve`` decides the volumes; this module only maps instants and
millilitres onto a fixed drawing area so the template can draw a polyline, the alarm line and
date markers without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 640
HEIGHT = 240
LEFT = 48
RIGHT = 16
TOP = 12
BOTTOM = 36


@dataclass(frozen=True)
class Marker:
    label: str
    x: float
    when: dt.datetime
    label_y: float = 0.0


@dataclass(frozen=True)
class Tick:
    label: str
    pos: float


@dataclass(frozen=True)
class ReservoirChart:
    width: int
    height: int
    polyline: str
    alarm_y: float
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    markers: list[Marker]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def reservoir_chart(
    points: list[tuple[dt.datetime, Decimal]],
    *,
    reservoir_ml: Decimal,
    alarm_ml: Decimal,
    markers: dict[str, dt.datetime] | None = None,
    zone=dt.UTC,
) -> ReservoirChart:
    """Scale ``points`` (instant, mL) into the drawing; markers outside the time span are dropped."""
    if len(points) < 2:
        raise ValueError("a curve needs at least two points")
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    plot_right = WIDTH - RIGHT
    plot_bottom = HEIGHT - BOTTOM
    top_ml = float(max(reservoir_ml, points[0][1]))

    def x_of(when: dt.datetime) -> float:
        return round(LEFT + (when - start).total_seconds() / span * (plot_right - LEFT), 1)

    def y_of(ml: Decimal) -> float:
        return round(plot_bottom - float(ml) / top_ml * (plot_bottom - TOP), 1)

    polyline = " ".join(f"{x_of(t)},{y_of(v)}" for t, v in points)
    inside = [(label, when) for label, when in (markers or {}).items() if start <= when <= end]
    # Labels sit on staggered rows at the top of the plot so neighbouring markers stay readable.
    shown = [Marker(label, x_of(when), when, TOP + 12 + 13 * n) for n, (label, when) in enumerate(inside)]
    y_ticks = [Tick(f"{float(v):g} mL", y_of(v)) for v in (Decimal(0), alarm_ml, Decimal(str(top_ml)))]
    days = max((end - start).days, 1)
    step = max(days // 4, 1)
    x_ticks = []
    for n in range(0, days + 1, step):
        when = start + dt.timedelta(days=n)
        x_ticks.append(Tick(when.astimezone(zone).strftime("%d %b %Y"), x_of(when)))
    return ReservoirChart(
        width=WIDTH,
        height=HEIGHT,
        polyline=polyline,
        alarm_y=y_of(alarm_ml),
        plot_left=LEFT,
        plot_right=plot_right,
        plot_top=TOP,
        plot_bottom=plot_bottom,
        markers=shown,
        y_ticks=y_ticks,
        x_ticks=x_ticks[:5],
    )
