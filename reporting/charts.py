"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, and they print.

- ``reservoir_chart``: geometry of the projected reservoir chart on the patient page.
  ``registry.scheduling.reservoir_curve`` decides the volumes; this only maps instants and
  millilitres onto a fixed drawing area (no dates are computed here).
- ``bar_chart``: (label, value) pairs as safe SVG markup for the reports page; labels are escaped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


# --- Bar charts (reports page) ---


ROW = 22
LABEL_WIDTH = 210
BAR_WIDTH = 330
VALUE_WIDTH = 70


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text}{unit}"


def bar_chart(
    title: str, items: list[tuple[str, float | None]], *, unit: str = "", maximum: float | None = None
) -> SafeString:
    """A horizontal bar per item, scaled to the largest value (or ``maximum``)."""
    top = maximum or max((v for _, v in items if v), default=0) or 1
    height = ROW * max(len(items), 1) + 28
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="42" font-size="12">No data in this period.</text>')
    for i, (label, value) in enumerate(items):
        y = 28 + i * ROW
        bar = 0 if not value else max(1, round(BAR_WIDTH * value / top))
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{bar}" height="{ROW - 6}" class="bar"></rect>',
            f'<text x="{LABEL_WIDTH + bar + 4}" y="{y + 15}" font-size="12">{escape(_fmt(value, unit))}</text>',
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
