"""Safety figures: complication and infection rates per 100 pump-years, by site and against the
published ranges."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from registry.models import (
    Complication,
    Refill,
)
from reporting import rates
from reporting.reports.refills import LATE, pump_days_by_site
from reporting.reports.scope import DAYS_PER_YEAR, Scope, _rate, _rows, _sites_sql, _stay_holds_sql

# Published ITB complication rates, per 100 pump-years, for the comparison on the reports page.
# Where a paper gives counts and mean follow-up rather than a rate, the rate is derived as
# events / (patients x mean years of follow-up) and said so.
LITERATURE = [
    {
        "figure": "infection",
        "low": 2.3,
        "high": 5.0,
        "sources": [
            "Imerci A et al. Complications of intrathecal baclofen treatment in paediatric cerebral palsy. "
            "J Child Orthop 2019;13(5):529-535 (PMC6808077): 50 infections in 341 children over a mean "
            "6.3 years, about 2.3 per 100 patient-years (derived).",
            "Dickey MP et al. Infectious complications of intrathecal baclofen pump devices in a pediatric "
            "population. Pediatr Infect Dis J 2013;32(7):715-722: 5% of patients infected in the first "
            "year after implant, about 5 per 100 pump-years in that year.",
        ],
    },
    {
        "figure": "catheter",
        "low": 2.0,
        "high": 2.0,
        "sources": [
            "Low rate of intrathecal baclofen pump catheter-related complications: long-term study in over "
            "100 adult patients associated with reinforced catheter. Neuromodulation 2021;24(7):1176-1180 "
            "(PMID 33974333): 9 catheter complications in 126 adults over a mean 43 months, about 2.0 per "
            "100 patient-years (derived); older series with non-reinforced catheters report more.",
        ],
    },
]


def _safety(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Complications** and their rates per 100 pump-years.

    Complications dated in the period, at the site where the patient's stay held their date, by
    kind. A complication **has pump time behind it** when it was recorded against a pump or dated
    on a day one of the patient's pumps was in place (implant to explant day, both included);
    the others (e.g. a CSF leak after a screening trial) are counted but kept out of every rate.
    Each **rate** is complications with pump time / pump-years x 100, shown with its numerator,
    its denominator and its exact Poisson 95% confidence interval (``reporting.rates``); there is
    no rate without pump-years. Infections are the "infection" kind, catheter complications the
    "catheter" kind; both are compared with the ranges published for ITB (``LITERATURE``): the
    program is "above" a range when its whole interval lies above it, "below" when below, and
    "consistent" otherwise.
    """
    site_days = pump_days_by_site(scope, start, end)
    years = sum(site_days.values()) / DAYS_PER_YEAR
    sites, params = _sites_sql(scope, "st.site_id")
    # The stay holding each complication's date joined by patient directly; "a pump in place" is a
    # look-up of the patient's pumps for those recorded without one.
    sql = f"""
        SELECT c.kind, st.site_id, COUNT(*),
               SUM(CASE WHEN c.pump_id IS NOT NULL OR EXISTS (
                     SELECT 1 FROM registry_pump pu WHERE pu.patient_id = c.patient_id
                        AND pu.implant_date <= c.occurred_on
                        AND (pu.explant_date IS NULL OR pu.explant_date >= c.occurred_on)) THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.needed_surgery THEN 1 ELSE 0 END)
          FROM registry_complication c
          JOIN registry_sitestay st ON st.patient_id = c.patient_id AND {_stay_holds_sql("st", "c.occurred_on")}
         WHERE c.occurred_on >= %(start)s AND c.occurred_on <= %(end)s AND {sites}
         GROUP BY 1, 2
    """  # noqa: S608 (only the code's own SQL is interpolated)
    rows = _rows(sql, {**params, "start": start, "end": end})
    by_kind_counts: dict[str, Counter] = defaultdict(Counter)
    by_site_counts: Counter = Counter()
    for kind, site, n, with_pump, surgery in rows:
        c = by_kind_counts[kind]
        c["n"] += n
        c["with_pump"] += with_pump
        c["surgery"] += surgery
        by_site_counts[site] += with_pump
    by_kind = []
    for kind in Complication.Kind.values:
        c = by_kind_counts.get(kind, Counter())
        by_kind.append(
            {
                "kind": kind,
                "count": c["n"],
                "without_pump_time": c["n"] - c["with_pump"],
                "needed_surgery": c["surgery"],
                **_rate_fields(rates.rate(c["with_pump"], years)),
            }
        )
    total = sum(r["count"] for r in by_kind)
    with_pump_total = total - sum(r["without_pump_time"] for r in by_kind)
    overall = rates.rate(with_pump_total, years)
    kinds = {r["kind"]: r for r in by_kind}
    literature = []
    for ref in LITERATURE:
        k = kinds[ref["figure"]]
        literature.append(
            {
                **ref,
                "rate": k["per_100_pump_years"],
                "ci_low": k["ci_low"],
                "ci_high": k["ci_high"],
                "verdict": _verdict(k["ci_low"], k["ci_high"], ref["low"], ref["high"]),
            }
        )
    return {
        "pump_years": round(years, 3),
        "complications": total,
        "with_pump_time": with_pump_total,
        "without_pump_time": total - with_pump_total,
        "needed_surgery": sum(r["needed_surgery"] for r in by_kind),
        "complications_per_100_pump_years": overall["rate"],
        "ci_low": overall["ci_low"],
        "ci_high": overall["ci_high"],
        "infections": kinds["infection"]["count"],
        "infections_per_100_pump_years": kinds["infection"]["per_100_pump_years"],
        "by_kind": by_kind,
        "literature": literature,
        "_site_days": site_days,
        "_site_complications": by_site_counts,
    }


def _rate_fields(r: dict) -> dict:
    return {"per_100_pump_years": r["rate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}


def _verdict(ci_low, ci_high, low: float, high: float) -> str | None:
    if ci_low is None:
        return None
    if ci_low > high:
        return "above"
    if ci_high < low:
        return "below"
    return "consistent"


def _by_site(scope: Scope, refills: dict, safety: dict) -> list[dict]:
    """**Sites compared** (the funnel plot).

    Per site in scope: its pump-years, its complications with pump time and their rate per 100
    pump-years with the exact 95% interval, its closed refill cycles and its late share (late
    or after the alarm date / closed). The funnel plot draws each site's rate against its size
    (pump-years; closed cycles for the late share) with the program's overall figure and the
    95% and 99.8% control limits around it: a site outside a limit differs from the program by
    more than chance would explain at that level.
    """
    days, complications, by_site = safety["_site_days"], safety["_site_complications"], refills["_by_site"]
    rows = []
    for pk, name in scope.names.items():
        closed = sum(n for (site, kind), n in by_site.items() if site == pk and kind != Refill.Timeliness.FIRST)
        late = sum(n for (site, kind), n in by_site.items() if site == pk and kind in LATE)
        r = rates.rate(complications.get(pk, 0), days.get(pk, 0) / DAYS_PER_YEAR)
        rows.append(
            {
                "site": name,
                "pump_years": r["pump_years"],
                "complications": r["count"],
                **_rate_fields(r),
                "refills_closed": closed,
                "refills_late": late,
                "late_share": _rate(late, closed),
            }
        )
    return rows
