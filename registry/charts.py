"""Bar charts drawn on the server as inline SVG: no JavaScript, no CDN, and they print.

``bar_chart`` takes (label, value) pairs and returns safe SVG markup; labels are escaped.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
