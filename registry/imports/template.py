"""The downloadable template: every sheet with its header and one example row, and a column guide."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from registry.imports import specs
from registry.imports.reading import GUIDE

_BOLD = Font(bold=True)


def _example(column: specs.Column):
    if column.kind == specs.DATE and column.example:
        return dt.date.fromisoformat(column.example)
    return column.example if column.example != "" else None


def template_workbook() -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in specs.SHEETS:
        ws = workbook.create_sheet(sheet.name)
        ws.append([c.label for c in sheet.columns])
        ws.append([_example(c) for c in sheet.columns])
        for index, column in enumerate(sheet.columns, start=1):
            letter = get_column_letter(index)
            ws.cell(1, index).font = _BOLD
            ws.column_dimensions[letter].width = max(12, len(column.label) + 2)
            # Text columns stay text when typed into: an MRN keeps its leading zeros.
            fmt = {specs.DATE: "yyyy-mm-dd", specs.TIME: "hh:mm"}.get(column.kind, "@")
            if column.kind in (specs.DECIMAL, specs.INTEGER):
                fmt = "General"
            for row in range(2, 501):
                ws.cell(row, index).number_format = fmt
        ws.freeze_panes = "A2"
    guide = workbook.create_sheet(GUIDE)
    guide.append(["Sheet", "Column", "Required", "What to write", "Accepted values"])
    for cell in guide[1]:
        cell.font = _BOLD
    for sheet in specs.SHEETS:
        guide.append([sheet.name, "", "", sheet.help, ""])
        guide.cell(guide.max_row, 1).font = _BOLD
        for column in sheet.columns:
            accepted = ", ".join(label for _, label in column.choices) or {
                specs.DATE: "A date cell, 2019-04-03, or the site's day/month order with a 4-digit year",
                specs.TIME: "14:30",
                specs.YES_NO: "Yes or No",
                specs.DECIMAL: "A number",
                specs.INTEGER: "A whole number",
            }.get(column.kind, "Text")
            guide.append([sheet.name, column.label, "Yes" if column.required else "", column.help, accepted])
    for letter, width in zip("ABCDE", (16, 24, 10, 70, 60), strict=True):
        guide.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
