"""The reports' SVG charts keep every label inside the drawing and off the other labels."""

import re

from reporting import charts


def _texts(svg: str) -> list[tuple[float, float, str]]:
    return [(float(x), float(y), t) for x, y, t in re.findall(r'<text x="([\d.-]+)" y="([\d.-]+)"[^>]*>([^<]*)<', svg)]


def test_a_long_bar_label_widens_the_chart_instead_of_leaving_it():
    short = charts.bar_chart("Goals", [("Pain", 1)])
    long = charts.bar_chart("Goals", [("Pain", 1), ("Positioning and transfers, and then some more", 2)])
    width = int(re.search(r'width="(\d+)"', long).group(1))
    assert width > int(re.search(r'width="(\d+)"', short).group(1))
    label_end = next(x for x, _, t in _texts(long) if t.startswith("Positioning"))
    # The label ends at label_end (text-anchor end): its start is inside the drawing at 8.5px a character.
    assert label_end - len("Positioning and transfers, and then some more") * 8.5 >= 0


def test_funnel_limit_labels_and_site_labels_do_not_overlap():
    # Both limits end at the same height, the program's line is near them, two sites sit together.
    limits = [("95%", [(1, 0.0, 9.0), (10, 0.0, 9.0)]), ("99.8%", [(1, 0.0, 9.0), (10, 0.0, 9.0)])]
    points = [charts.FunnelPoint("North", 5, 3.0), charts.FunnelPoint("South", 5.1, 3.05)]
    svg = charts.funnel_plot("Rates", points, target=3.1, limits=limits, x_label="pump-years", y_label="rate")
    texts = {t: (x, y) for x, y, t in _texts(svg)}
    margin = sorted(texts[t][1] for t in ("95%", "99.8%", "program 3.1"))
    assert all(b - a >= charts.LINE_GAP for a, b in zip(margin, margin[1:], strict=False))
    assert abs(texts["North"][1] - texts["South"][1]) >= charts.LINE_GAP
    bottom = charts.FUNNEL_HEIGHT - charts.FUNNEL_BOTTOM
    assert max(margin) <= bottom + 4  # above the x axis's tick labels


def test_a_site_label_near_the_right_edge_goes_on_the_points_left():
    points = [charts.FunnelPoint("Lakeside Neuro-Rehabilitation Centre", 10, 1.0)]
    svg = charts.funnel_plot("Rates", points, target=1.0, limits=[], x_label="x", y_label="y")
    assert 'text-anchor="end" font-size="10">Lakeside Neuro-Rehabilitation Centre' in svg
