"""k-anonymity of the research export: generalise, then suppress, then report the k achieved.

The quasi-identifiers are the columns someone could know about a person from elsewhere (site,
sex, age band, primary indication, GMFCS level, status, first implant period). Every combination
of their released values must be shared by at least ``k`` rows. The steps, in order, each applied
only to rows whose combination is still shared by fewer than ``k`` rows:

1. nothing (ages are already 5-year bands, implant years 5-year periods);
2. the GMFCS level is withheld ("*");
3. the first implant period is withheld;
4. the age band is widened to 20 years;
5. the primary indication is withheld;
6. the status is withheld;
7. the age band is withheld;
8. the sex is withheld.

Rows still in a combination of fewer than ``k`` after the last step are left out of the file
(suppressed) and counted. The achieved k is the size of the smallest combination released.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from operator import itemgetter

WITHHELD = "*"
AGE_BAND_YEARS = 5
WIDE_AGE_BAND_YEARS = 20
TOP_AGE = 80  # ages from 80 are one band: very old patients are few
IMPLANT_PERIOD_YEARS = 5
QUASI_IDENTIFIERS = ["site", "sex", "age_band", "primary_indication", "gmfcs_level", "status", "first_implant_period"]


def age_band(age: int, width: int = AGE_BAND_YEARS) -> str:
    """ "40-44" for 42 with 5-year bands; every age from ``TOP_AGE`` is "80+"."""
    if age >= TOP_AGE:
        return f"{TOP_AGE}+"
    low = age // width * width
    return f"{low}-{min(low + width - 1, TOP_AGE - 1)}"


def implant_period(year: int | None) -> str:
    if not year:
        return ""
    low = year // IMPLANT_PERIOD_YEARS * IMPLANT_PERIOD_YEARS
    return f"{low}-{low + IMPLANT_PERIOD_YEARS - 1}"


def _widen_age(row: dict) -> None:
    if row["age_band"] not in (WITHHELD, f"{TOP_AGE}+"):
        row["age_band"] = age_band(int(row["age_band"].split("-")[0]), WIDE_AGE_BAND_YEARS)


def _withhold(column: str):
    def step(row: dict) -> None:
        row[column] = WITHHELD

    return step


STEPS = [
    ("gmfcs_level", _withhold("gmfcs_level")),
    ("first_implant_period", _withhold("first_implant_period")),
    ("age_band", _widen_age),
    ("primary_indication", _withhold("primary_indication")),
    ("status", _withhold("status")),
    ("age_band", _withhold("age_band")),
    ("sex", _withhold("sex")),
]


@dataclass
class Anonymised:
    rows: list[dict]
    k_requested: int
    k_achieved: int | None  # None when no row could be released
    suppressed: int
    generalised: dict[str, int]  # column -> rows whose value was widened or withheld


_key = itemgetter(*QUASI_IDENTIFIERS)


def k_anonymise(rows: list[dict], k: int) -> Anonymised:
    """Make ``rows`` (dicts holding every quasi-identifier) k-anonymous; the input is not changed."""
    if k < 1:
        raise ValueError("k must be at least 1")
    rows = [dict(r) for r in rows]
    generalised: Counter = Counter()
    for column, step in STEPS:
        keys = list(map(_key, rows))
        sizes = Counter(keys)
        small = [r for r, key in zip(rows, keys, strict=True) if sizes[key] < k]
        if not small:
            break
        for row in small:
            before = row[column]
            step(row)
            if row[column] != before:
                generalised[column] += 1
    keys = list(map(_key, rows))
    sizes = Counter(keys)
    released = [r for r, key in zip(rows, keys, strict=True) if sizes[key] >= k]
    achieved = min((n for n in sizes.values() if n >= k), default=None)
    return Anonymised(released, k, achieved, len(rows) - len(released), dict(generalised))


def smallest_group(rows: list[dict]) -> int | None:
    """The size of the rarest combination of quasi-identifiers in ``rows`` (what an auditor checks)."""
    return min(Counter(map(_key, rows)).values(), default=None)
