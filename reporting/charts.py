"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, and they print.

- ``reservoir_chart``: geometry of the projected reservoir chart on the patient page.
  ``registry.scheduling.reservoir_curve`` decides the volumes; this only maps instants and
  millilitres onto a fixed drawing area (no dates are computed here).
- ``bar_chart``: (label, value) pairs as safe SVG markup for the reports page; labels are escaped.
- ``funnel_plot``: sites' figures against their size, with the program's figure and control limits.
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
LABEL_WIDTH = 120  # at least; a longer label widens the chart instead of running off its left edge
BAR_WIDTH = 330
VALUE_WIDTH = 70
CHAR_WIDTH = 8.5  # a generous average advance at 12px, so wide fonts (DejaVu Sans in the PDF) fit too
LINE_GAP = 12  # the least vertical distance between two labels


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
    label_width = max(LABEL_WIDTH, round(max((len(label) for label, _ in items), default=0) * CHAR_WIDTH) + 10)
    width = label_width + BAR_WIDTH + VALUE_WIDTH
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
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>',
            f'<rect x="{label_width}" y="{y + 3}" width="{bar}" height="{ROW - 6}" fill="#0b4f6c" class="bar"></rect>',
            f'<text x="{label_width + bar + 4}" y="{y + 15}" font-size="12">{escape(_fmt(value, unit))}</text>',
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


# --- Funnel plot (reports page) ---

FUNNEL_WIDTH = 610
FUNNEL_HEIGHT = 300
FUNNEL_LEFT = 56
FUNNEL_RIGHT = 150
FUNNEL_TOP = 46
FUNNEL_BOTTOM = 40


@dataclass(frozen=True)
class FunnelPoint:
    label: str
    size: float  # the x axis: pump-years, or refill cycles
    value: float  # the y axis: a rate or a share


def funnel_plot(
    title: str,
    points: list[FunnelPoint],
    *,
    target: float | None,
    limits: list[tuple[str, list[tuple[float, float | None, float | None]]]],
    x_label: str,
    y_label: str,
) -> SafeString:
    """Sites' figures against their size with the program's figure and its control limits.

    ``limits`` are named curves of (size, lower, upper) points (``reporting.rates``).
    """
    parts = [
        f'<svg class="chart funnel" role="img" aria-label="{escape(title)}" viewBox="0 0 {FUNNEL_WIDTH} '
        f'{FUNNEL_HEIGHT}" width="{FUNNEL_WIDTH}" height="{FUNNEL_HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    shown = [p for p in points if p.size > 0]
    if not shown or target is None:
        parts.append('<text x="0" y="42" font-size="12">No data in this period.</text></svg>')
        return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
    x_max = max(p.size for p in shown) * 1.1
    # The limits run off to infinity at small sizes: the scale follows the points, the curves are clipped.
    y_max = max(max(p.value for p in shown), target) * 1.6 or 1.0
    right, bottom = FUNNEL_WIDTH - FUNNEL_RIGHT, FUNNEL_HEIGHT - FUNNEL_BOTTOM

    def x_of(v: float) -> float:
        return round(FUNNEL_LEFT + v / x_max * (right - FUNNEL_LEFT), 1)

    def y_of(v: float) -> float:
        return round(bottom - min(v, y_max) / y_max * (bottom - FUNNEL_TOP), 1)

    parts += [
        f'<line x1="{FUNNEL_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555"></line>',
        f'<line x1="{FUNNEL_LEFT}" y1="{FUNNEL_TOP}" x2="{FUNNEL_LEFT}" y2="{bottom}" stroke="#555"></line>',
        f'<text x="{(FUNNEL_LEFT + right) / 2}" y="{FUNNEL_HEIGHT - 6}" text-anchor="middle" font-size="11">'
        f"{escape(x_label)}</text>",
        f'<text x="4" y="{FUNNEL_TOP - 12}" font-size="11">{escape(y_label)}</text>',
    ]
    for tick in (0, x_max / 2, x_max):
        parts.append(
            f'<text x="{x_of(tick)}" y="{bottom + 14}" text-anchor="middle" font-size="10">'
            f"{_fmt(round(tick, 1), '')}</text>"
        )
    for tick in (0, y_max / 2, y_max):
        parts.append(
            f'<text x="{FUNNEL_LEFT - 4}" y="{y_of(tick) + 3}" text-anchor="end" font-size="10">'
            f"{_fmt(round(tick, 2), '')}</text>"
        )
    parts.append(
        f'<line x1="{FUNNEL_LEFT}" y1="{y_of(target)}" x2="{right}" y2="{y_of(target)}" stroke="#333" '
        f'stroke-dasharray="4 3" class="target"></line>'
    )
    margin_labels = [(y_of(target), f"program {_fmt(target, '')}", 11)]
    for n, (name, curve) in enumerate(limits):
        dash = "2 2" if n else "6 3"
        for side in (1, 2):
            line = " ".join(f"{x_of(c[0])},{y_of(c[side])}" for c in curve if c[side] is not None)
            if line:
                parts.append(
                    f'<polyline points="{line}" fill="none" stroke="#888" stroke-dasharray="{dash}" class="limit">'
                    f"</polyline>"
                )
        last = next((c for c in reversed(curve) if c[2] is not None), None)
        if last:
            margin_labels.append((y_of(last[2]), name, 10))
    placed = []  # (left, baseline, width) of every label drawn so far, so the next one keeps off them
    for (_, text, size), y in zip(margin_labels, _spaced([y for y, _, _ in margin_labels], bottom), strict=True):
        placed.append((right + 6, y + 4, len(text) * 7.0))
        parts.append(f'<text x="{right + 6}" y="{y + 4}" font-size="{size}">{escape(text)}</text>')
    for p in sorted(shown, key=lambda p: (y_of(p.value), x_of(p.size))):
        x, y = x_of(p.size), y_of(p.value)
        width = len(p.label) * 7.0
        # A label that would run off the right edge goes on the point's left.
        left, anchor = (x + 6, "start") if x + 6 + width <= FUNNEL_WIDTH else (x - 6 - width, "end")
        label_y = y - 5
        while any(abs(label_y - b) < LINE_GAP and left < pl + pw and pl < left + width for pl, b, pw in placed):
            label_y += LINE_GAP
        placed.append((left, label_y, width))
        anchor_x = x + 6 if anchor == "start" else x - 6
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="4" fill="#0b4f6c" class="site"><title>{escape(p.label)}: '
            f"{_fmt(p.value, '')} ({_fmt(round(p.size, 1), '')})</title></circle>"
            f'<text x="{anchor_x}" y="{label_y}" text-anchor="{anchor}" font-size="10">{escape(p.label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


def _spaced(ys: list[float], lowest: float) -> list[float]:
    """``ys`` moved apart so no two are closer than ``LINE_GAP``, none below ``lowest``, order kept."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for above, i in zip(order, order[1:], strict=False):
        out[i] = max(out[i], out[above] + LINE_GAP)
    below_y = lowest + LINE_GAP
    for i in reversed(order):
        out[i] = min(out[i], below_y - LINE_GAP)
        below_y = out[i]
    return out
