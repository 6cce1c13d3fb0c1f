"""The report as CSV tables: one table per section, and the long (one row per figure) form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

TABLES = {
    "census-status": "Census by status",
    "census-indication": "Census by primary indication",
    "census-gmfcs": "Census by GMFCS level",
    "activity": "Referrals, trials and surgery by year",
    "refills": "Refills",
    "complications": "Complications per 100 pump-years (exact 95% CI)",
    "literature": "Complication rates against the published ranges",
    "sites": "Sites compared",
    "goals": "Goal attainment by category",
    "follow-ups": "Follow-up adherence",
    "reminders": "Reminder events",
    "reminder-channels": "Reminder messages by channel",
}


def _measures(section: dict, keys: Iterable[str]) -> tuple[list[str], list[list]]:
    return ["measure", "value"], [[k, section[k]] for k in keys]


def _columns(rows: list[dict], cols: list[str]) -> list[list]:
    return [[r[c] for c in cols] for r in rows]


def table(report: dict, name: str) -> tuple[list[str], list[list]]:
    """Header and rows of one table of a ``summary`` (the page and the CSV show the same rows)."""
    census, activity, safety = report["census"], report["activity"], report["safety"]
    if name == "census-status":
        rows = [[s, n] for s, n in census["by_status"].items()]
        return ["status", "patients"], [*rows, ["active", census["active"]], ["total", census["patients"]]]
    if name == "census-indication":
        return ["indication", "patients", "implanted"], _columns(
            census["by_indication"], ["indication", "patients", "implanted"]
        )
    if name == "census-gmfcs":
        return ["gmfcs_level", "patients", "implanted"], _columns(
            census["by_gmfcs"], ["gmfcs_level", "patients", "implanted"]
        )
    if name == "activity":
        cols = [
            "year",
            "referrals",
            "trials",
            "patients_trialled",
            "patients_positive",
            "positive_rate",
            "implants",
            "replacements",
            "explants",
        ]
        rows = _columns(activity["by_year"], cols)
        rows.append(["total", *[activity["totals"][c] for c in cols[1:]]])
        return cols, rows
    if name == "refills":
        keys = ["performed", "first", "on_time", "late", "after_alarm", "closed", "on_time_rate", "late_share"]
        return _measures(report["refills"], [*keys, "intervals", "median_interval_days"])
    if name == "complications":
        cols = [
            "kind",
            "count",
            "without_pump_time",
            "needed_surgery",
            "pump_years",
            "per_100_pump_years",
            "ci_low",
            "ci_high",
        ]
        rows = [[*[r[c] for c in cols[:4]], safety["pump_years"], *[r[c] for c in cols[5:]]] for r in safety["by_kind"]]
        total = [safety["complications"], safety["without_pump_time"], safety["needed_surgery"], safety["pump_years"]]
        rows.append(["total", *total, safety["complications_per_100_pump_years"], safety["ci_low"], safety["ci_high"]])
        return cols, rows
    if name == "literature":
        cols = ["figure", "rate", "ci_low", "ci_high", "published_low", "published_high", "verdict"]
        rows = [
            [r["figure"], r["rate"], r["ci_low"], r["ci_high"], r["low"], r["high"], r["verdict"]]
            for r in safety["literature"]
        ]
        return cols, rows
    if name == "sites":
        cols = [
            "site",
            "pump_years",
            "complications",
            "per_100_pump_years",
            "ci_low",
            "ci_high",
            "refills_closed",
            "refills_late",
            "late_share",
        ]
        return cols, _columns(report["by_site"], cols)
    if name == "goals":
        goals = report["goals"]
        cols = [
            "category",
            "goals",
            "reviewed",
            "not_reviewed",
            "at_or_above_expected",
            "share_at_or_above_expected",
            "mean_score",
        ]
        rows = _columns(goals["by_category"], cols)
        rows.append(["total", *[goals[c] for c in cols[1:-1]], ""])
        rows.append(["mean_t_score", goals["mean_t_score"], "patients", goals["patients_with_t_score"], "", "", ""])
        rows.append(
            [
                "single_goal_mean_t_score",
                goals["single_goal_mean_t_score"],
                "patients",
                goals["single_goal_patients"],
                "",
                "",
                "",
            ]
        )
        return cols, rows
    if name == "follow-ups":
        keys = ["due", "completed", "completed_late", "missed", "open", "cancelled", "adherence"]
        return _measures(report["follow_ups"], keys)
    if name == "reminders":
        keys = ["events", "reached", "failed", "cancelled", "not_sent", "acknowledged", "reached_share"]
        return _measures(report["reminders"], [*keys, "median_hours_to_acknowledgement"])
    if name == "reminder-channels":
        cols = ["channel", "messages", "delivered", "failed", "cancelled", "acknowledged"]
        return cols, _columns(report["reminders"]["by_channel"], cols)
    raise KeyError(name)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """``value`` as a CSV cell a spreadsheet shows as text: a leading formula character gets a quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: list[str], rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def long_rows(report: dict) -> list[list]:
    """Every table in one tidy CSV (table, row, column, value) for ``program_report --format csv``."""
    rows = []
    for name in TABLES:
        header, body = table(report, name)
        for r in body:
            rows += [[name, r[0], col, value] for col, value in zip(header[1:], r[1:], strict=True)]
    return rows
