"""How the reports page and the PDF show a report: labels for keys, shares as percentages with their counts.

The figures themselves come from ``reporting.reports``; this only words them for people (the CSVs
and the API keep the keys and the fractions).
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt

from registry.models import Complication, Goal, Indication, PatientStatus
from reporting import definitions, reports

LABELS = {
    **dict(PatientStatus.choices),
    **dict(Indication.Diagnosis.choices),
    **dict(Complication.Kind.choices),
    **dict(Goal.Category.choices),
    reports.NOT_RECORDED: "Not recorded",
    **{str(n): f"GMFCS {roman}" for n, roman in enumerate(["I", "II", "III", "IV", "V"], start=1)},
    "active": "Active (in the care pathway)",
    "total": "Total",
    "gmfcs_level": "GMFCS level",
    "patients_trialled": "Patients trialled",
    "patients_positive": "Patients with a positive trial",
    "positive_rate": "Positive trial rate",
    "first": "First fill",
    "on_time": "On time",
    "after_alarm": "After the alarm date",
    "closed": "Closed cycles",
    "on_time_rate": "On-time rate",
    "late_share": "Late share",
    "intervals": "Refill intervals",
    "median_interval_days": "Median interval (days)",
    "without_pump_time": "Without pump time",
    "pump_years": "Pump-years",
    "per_100_pump_years": "Per 100 pump-years",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "published_low": "Published low",
    "published_high": "Published high",
    "refills_closed": "Closed refill cycles",
    "refills_late": "Late refills",
    "at_or_above_expected": "At or above expected",
    "share_at_or_above_expected": "Share at or above expected",
    "mean_t_score": "Mean GAS T-score (two goals or more)",
    "single_goal_mean_t_score": "Single-goal GAS T-score",
    "completed_late": "Completed late",
    "not_sent": "Not sent",
    "reached_share": "Reached share",
    "median_hours_to_acknowledgement": "Median hours to acknowledgement",
    "email": "E-mail",
    "family_sms": "Text message to the family",
    "inbox": "Inbox",
}

# Each share's (numerator, denominator) from the other figures of its row or section.
SHARES = {
    ("activity", "positive_rate"): lambda f: (f["patients_positive"], f["patients_trialled"]),
    ("refills", "on_time_rate"): lambda f: (f["on_time"], f["closed"]),
    ("refills", "late_share"): lambda f: (f["late"] + f["after_alarm"], f["closed"]),
    ("sites", "late_share"): lambda f: (f["refills_late"], f["refills_closed"]),
    ("goals", "share_at_or_above_expected"): lambda f: (f["at_or_above_expected"], f["reviewed"]),
    ("follow-ups", "adherence"): lambda f: (f["completed"], f["completed"] + f["missed"]),
    ("reminders", "reached_share"): lambda f: (f["reached"], f["events"] - f["cancelled"]),
}


def label(value) -> str:
    """A key's words; anything else (a site's name, a year) as it is."""
    return LABELS.get(str(value), str(value))


def heading(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def share(table: str, key: str, figures: dict) -> str:
    """``figures[key]`` (a fraction) as "60.0% (3 of 5)", or "—" when it has no denominator."""
    value = figures[key]
    if not isinstance(value, int | float):
        return "—" if value is None else value
    part, whole = SHARES[table, key](figures)
    return f"{value * 100:.1f}% ({part} of {whole})"


def shown_rows(table: str, header: list[str], rows: list[list]) -> list[list]:
    """A table's rows in words: keys labelled, shares in percent with their counts."""
    if header == ["measure", "value"]:
        figures = dict(rows)
        return [[heading(k), share(table, k, figures) if (table, k) in SHARES else v] for k, v in rows]
    shown = []
    for row in rows:
        figures = dict(zip(header, row, strict=True))
        cells = [share(table, k, figures) if (table, k) in SHARES else figures[k] for k in header[1:]]
        shown.append([label(row[0]), *cells])
    return shown


def headline(report: dict) -> list[tuple[str, str]]:
    """The few figures shown first, each with what it is out of."""
    refills, safety, goals, reminders = report["refills"], report["safety"], report["goals"], report["reminders"]
    rate = safety["complications_per_100_pump_years"]
    complications = "—"
    if rate is not None:
        complications = (
            f"{rate} (95% CI {safety['ci_low']}–{safety['ci_high']}): {safety['with_pump_time']} complications "
            f"over {safety['pump_years']} pump-years; {safety['without_pump_time']} more without pump time"
        )
    return [
        ("Refills performed", refills["performed"]),
        ("On-time rate (of closed cycles)", share("refills", "on_time_rate", refills)),
        ("Late share (of closed cycles)", share("refills", "late_share", refills)),
        ("Median refill interval (days)", _or_dash(refills["median_interval_days"])),
        ("Complications per 100 pump-years", complications),
        ("Goals at or above expected (of reviewed)", share("goals", "share_at_or_above_expected", goals)),
        ("Follow-up adherence", share("follow-ups", "adherence", report["follow_ups"])),
        (LABELS["mean_t_score"], f"{_or_dash(goals['mean_t_score'])} ({goals['patients_with_t_score']} patients)"),
        (
            "Single-goal GAS T-score, apart",
            f"{_or_dash(goals['single_goal_mean_t_score'])} ({goals['single_goal_patients']} patients)",
        ),
        ("Reminder events reached", share("reminders", "reached_share", reminders)),
        ("Reminder events acknowledged", reminders["acknowledged"]),
    ]


def _or_dash(value) -> str:
    return "—" if value is None else str(value)


@cache
def definitions_html() -> str:
    """The definitions section of ``docs/reporting.md`` (generated from the docstrings) as HTML."""
    return MarkdownIt("commonmark").enable("table").render(definitions.markdown())
