"""Event rates per 100 pump-years with exact Poisson confidence intervals, in pure Python.

The exact (Garwood) interval for a count ``k`` observed over an exposure uses the relation between
the Poisson and gamma distributions: P(X <= k; mu) = Q(k + 1, mu), the regularised upper
incomplete gamma function. The lower limit solves P(X >= k; mu) = alpha/2 (0 when k = 0), the
upper P(X <= k; mu) = alpha/2; both are found by bisection, which cannot fail to converge because
each probability is monotonic in mu. The funnel plot's control limits invert the same relation:
a count lies outside them exactly when its own interval leaves out the target rate.
"""

from __future__ import annotations

import math

PER = 100
CONFIDENCE = 0.95
_EPS = 1e-15
_TINY = 1e-300


def _gamma_series(a: float, x: float) -> float:
    """P(a, x) by its series (converges fast for x < a + 1)."""
    term = total = 1.0 / a
    n = a
    for _ in range(100_000):
        n += 1
        term *= x / n
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction, modified Lentz (converges fast for x >= a + 1)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_p(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x), for a > 0 and x >= 0."""
    if x <= 0:
        return 0.0
    return _gamma_series(a, x) if x < a + 1 else 1.0 - _gamma_fraction(a, x)


def poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu)."""
    if k < 0:
        return 0.0
    return 1.0 - gamma_p(k + 1, mu)


def _gamma_density(a: float, x: float) -> float:
    return math.exp((a - 1) * math.log(x) - x - math.lgamma(a)) if x > 0 else 0.0


def _gamma_quantile(a: float, p: float) -> float:
    """The ``x`` with P(a, x) = p: Newton's method kept inside a shrinking bracket (bisection
    whenever a step would leave it), started from the Wilson-Hilferty approximation."""
    low, high = 0.0, a + 40 * math.sqrt(a) + 100
    z = _normal_quantile(p)
    x = min(max(a * (1 - 1 / (9 * a) + z / (3 * math.sqrt(a))) ** 3, 1e-12), high)
    for _ in range(200):
        f = gamma_p(a, x) - p
        if abs(f) < 1e-15 or high - low <= 1e-13 * max(1.0, high):
            break
        if f > 0:
            high = x
        else:
            low = x
        density = _gamma_density(a, x)
        step = x - f / density if density > 0 else None
        x = step if step is not None and low < step < high else (low + high) / 2
    return x


def _normal_quantile(p: float) -> float:
    """The standard normal quantile, by bisection on ``erfc`` (only a starting point needs it)."""
    low, high = -40.0, 40.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) > p:
            high = mid
        else:
            low = mid
    return (low + high) / 2


def poisson_interval(k: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact two-sided interval for the mean of a Poisson count ``k``.

    Lower: P(X >= k; mu) = alpha/2, i.e. P(k, mu) = alpha/2 (0 when k = 0). Upper:
    P(X <= k; mu) = alpha/2, i.e. P(k + 1, mu) = 1 - alpha/2.
    """
    tail = (1 - confidence) / 2
    lower = 0.0 if k == 0 else _gamma_quantile(k, tail)
    return lower, _gamma_quantile(k + 1, 1 - tail)


def rate(count: int, pump_years: float, confidence: float = CONFIDENCE) -> dict:
    """``count`` events over ``pump_years``: the rate per 100 pump-years, its exact CI, the denominator.

    Without pump time there is no rate (every figure but the count is None).
    """
    if not pump_years:
        return {
            "count": count,
            "pump_years": round(pump_years or 0.0, 3),
            "rate": None,
            "ci_low": None,
            "ci_high": None,
        }
    low, high = poisson_interval(count, confidence)
    return {
        "count": count,
        "pump_years": round(pump_years, 3),
        "rate": round(count / pump_years * PER, 2),
        "ci_low": round(low / pump_years * PER, 2),
        "ci_high": round(high / pump_years * PER, 2),
    }


def funnel_curve(target_rate: float, confidence: float, max_exposure: float, points: int = 40) -> list[tuple]:
    """Control limits around ``target_rate`` as (exposure, lower rate, upper rate) points.

    A count k over exposure E is above the upper limit exactly when the lower end of its exact
    interval exceeds the expected count ``target_rate / 100 * E`` (below the lower limit when the
    upper end falls short of it). Walking k rather than E: the exposure at which k sits on the
    upper limit is L(k) / target, on the lower limit U(k) / target; the two walks are merged on a
    common grid of exposures by interpolation.
    """
    if target_rate <= 0 or max_exposure <= 0:
        return []
    target = target_rate / PER
    top = max(int(target * max_exposure * 2) + 10, 10)
    counts = sorted({round(top * (i / points) ** 2) for i in range(points + 1)} | {0, 1, 2, 3})
    upper, lower = [], []
    for k in counts:
        low, high = poisson_interval(k, confidence)
        if k > 0 and low > 0:
            upper.append((low / target, k / (low / target) * PER))
        lower.append((high / target, k / (high / target) * PER))
    exposures = [max_exposure * (i / points) for i in range(1, points + 1)]
    return [(e, _interpolate(lower, e), _interpolate(upper, e)) for e in exposures]


def _interpolate(curve: list[tuple[float, float]], x: float) -> float | None:
    curve = sorted(curve)
    if not curve or x < curve[0][0]:
        return None
    for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return curve[-1][1]


def proportion_limits(target: float, n: int, confidence: float) -> tuple[float, float]:
    """Normal-approximation control limits of a proportion around ``target`` for ``n`` trials."""
    z = _normal_quantile(1 - (1 - confidence) / 2)
    spread = z * math.sqrt(max(target * (1 - target), 0.0) / n) if n else 0.0
    return max(target - spread, 0.0), min(target + spread, 1.0)
