"""The definitions in ``docs/reporting.md``, generated from the docstrings that compute each figure.

Every published figure is defined once, in the docstring of the function that computes it; the
document's definitions section is that text, so the two cannot drift apart
(``tests/reporting/test_reporting_docs.py`` fails when they differ). After changing a definition::

    python -m reporting.definitions
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "reporting.md"
BEGIN = "<!-- BEGIN DEFINITIONS: generated from the code's docstrings by `python -m reporting.definitions` -->"
END = "<!-- END DEFINITIONS -->"


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def markdown() -> str:
    """The definitions section as Markdown."""
    from reporting import anonymity, rates, reports

    parts = ["## Figures", *[_doc(fn) for fn in reports.DEFINITIONS]]
    parts += ["## Rates and confidence intervals", _doc(rates), _doc(rates.funnel_curve)]
    parts += ["## Comparison with the literature"]
    rows = ["| Figure | Published range per 100 pump-years | Sources |", "|---|---|---|"]
    for ref in reports.LITERATURE:
        span = f"{ref['low']}" if ref["low"] == ref["high"] else f"{ref['low']}–{ref['high']}"
        rows.append(f"| {ref['figure']} | {span} | {' '.join(ref['sources'])} |")
    parts.append("\n".join(rows))
    parts += ["## Research exports", _doc(reports.patient_export), _doc(reports.pump_year_export), _doc(anonymity)]
    return "\n\n".join(parts) + "\n"


def current() -> str:
    """The definitions section as it stands in ``docs/reporting.md``."""
    text = DOC.read_text()
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n") + "\n"


def write() -> None:
    text = DOC.read_text()
    head, tail = text[: text.index(BEGIN) + len(BEGIN)], text[text.index(END) :]
    DOC.write_text(f"{head}\n\n{markdown()}\n{tail}")


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    write()
