"""Program reporting: the figures a program publishes, computed in SQL.

``summary(sites=..., start=..., end=...)`` returns one JSON-ready dict of nested sections; ``table``
turns it into the rows of every CSV table, and ``patient_export`` / ``pump_year_export`` give the
de-identified research rows. Every section is a fixed number of aggregate queries, so the number
of queries does not grow with the number of patients. Medians and confidence intervals are taken
in Python over a few aggregated rows.

Each figure's definition is the docstring of the function that computes it (``DEFINITIONS``);
``docs/reporting.md`` is generated from those docstrings and a test keeps the two identical.

The modules: ``scope`` (who is counted, shared query helpers), one module per group of sections
(``census``, ``refills``, ``safety``, ``outcomes``), ``summary`` (the whole report), ``tables``
(CSV) and ``research`` (de-identified exports).
"""

from reporting.reports.census import indications_at
from reporting.reports.refills import pump_days_by_site, pump_years, refill_intervals
from reporting.reports.research import (
    DATA_DICTIONARY,
    PATIENT_EXPORT_COLUMNS,
    PUMP_YEAR_COLUMNS,
    ResearchExport,
    patient_export,
    pump_year_export,
)
from reporting.reports.safety import LITERATURE
from reporting.reports.scope import GAS_RHO, NOT_RECORDED, Scope, age_in_years, gas_t_score, gas_t_score_from_sums
from reporting.reports.summary import DEFINITIONS, summary
from reporting.reports.tables import TABLES, long_rows, table, to_csv

__all__ = [
    "DATA_DICTIONARY",
    "DEFINITIONS",
    "GAS_RHO",
    "LITERATURE",
    "NOT_RECORDED",
    "PATIENT_EXPORT_COLUMNS",
    "PUMP_YEAR_COLUMNS",
    "TABLES",
    "ResearchExport",
    "Scope",
    "age_in_years",
    "gas_t_score",
    "gas_t_score_from_sums",
    "indications_at",
    "long_rows",
    "patient_export",
    "pump_days_by_site",
    "pump_year_export",
    "pump_years",
    "refill_intervals",
    "summary",
    "table",
    "to_csv",
]
