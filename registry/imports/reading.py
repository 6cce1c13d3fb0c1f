"""Rows out of the uploaded file, streamed: an XLSX workbook (openpyxl's read-only mode reads one
row at a time), one CSV file named after its sheet, or a ZIP of such CSV files."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from registry.imports import specs

GUIDE = "Column guide"


@dataclass(frozen=True)
class Problem:
    """One thing to fix in the file, said as a coordinator finds it in the spreadsheet."""

    sheet: str
    row: int | None
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.sheet}, row {self.row}" if self.row else self.sheet
        if self.column:
            where += f", {self.column}"
        shown = f" “{self.value}”" if self.value else ""
        return f"{where}:{shown} {self.message}"


@dataclass(frozen=True)
class Cell:
    value: object
    number_format: str = ""


@dataclass(frozen=True)
class Row:
    sheet: specs.Sheet
    number: int
    cells: dict[str, Cell]  # by column field


class FileError(ValueError):
    """The file as a whole cannot be read (not a spreadsheet, no known sheet)."""


def _header(sheet: specs.Sheet, values: list, problems: list[Problem]) -> dict[int, specs.Column]:
    by_label = {c.label.casefold(): c for c in sheet.columns}
    positions: dict[int, specs.Column] = {}
    for index, value in enumerate(values):
        label = " ".join(str(value or "").split())
        if not label:
            continue
        column = by_label.get(label.casefold())
        if column is None:
            problems.append(
                Problem(
                    sheet.name, 1, label, "", "This column is not one of the sheet's columns (see the column guide)."
                )
            )
        else:
            positions[index] = column
    for column in sheet.columns:
        if column.required and column not in positions.values():
            problems.append(Problem(sheet.name, 1, column.label, "", "This column is missing."))
    return positions


def _rows(sheet: specs.Sheet, lines: Iterator[list[Cell]], problems: list[Problem]) -> Iterator[Row]:
    header = next(lines, None)
    if header is None:
        return
    positions = _header(sheet, [c.value for c in header], problems)
    for number, cells in enumerate(lines, start=2):
        if all(c.value is None or str(c.value).strip() == "" for c in cells):
            continue
        yield Row(sheet, number, {col.field: cells[i] for i, col in positions.items() if i < len(cells)})


def _xlsx_lines(ws) -> Iterator[list[Cell]]:
    for row in ws.iter_rows():
        yield [Cell(c.value, getattr(c, "number_format", "") or "") for c in row]


def _csv_lines(stream: io.TextIOBase) -> Iterator[list[Cell]]:
    for values in csv.reader(stream):
        yield [Cell(v) for v in values]


def _sheet(name: str, problems: list[Problem]) -> specs.Sheet | None:
    sheet = specs.sheet_named(name)
    if sheet is None and name != GUIDE:
        known = ", ".join(s.name for s in specs.SHEETS)
        problems.append(
            Problem(name, None, "", "", f"This sheet is not one the import reads. The sheets are: {known}.")
        )
    return sheet


def read_rows(path: Path | str, problems: list[Problem]) -> Iterator[Row]:
    """Every non-empty data row of every known sheet; header problems go to ``problems``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises several kinds for a file that is not a workbook
            raise FileError("This file is not an Excel workbook (.xlsx) that can be read.") from error
        try:
            for ws in workbook.worksheets:
                sheet = _sheet(ws.title, problems)
                if sheet is not None:
                    yield from _rows(sheet, _xlsx_lines(ws), problems)
        finally:
            workbook.close()
    elif suffix == ".csv":
        sheet = _sheet(path.name, problems)
        if sheet is not None:
            with path.open(newline="", encoding="utf-8-sig") as stream:
                yield from _rows(sheet, _csv_lines(stream), problems)
    elif suffix == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise FileError("This file is not a ZIP of CSV files that can be read.") from error
        with archive:
            for name in sorted(n for n in archive.namelist() if n.lower().endswith(".csv")):
                sheet = _sheet(name, problems)
                if sheet is not None:
                    with archive.open(name) as raw:
                        yield from _rows(sheet, _csv_lines(io.TextIOWrapper(raw, "utf-8-sig", newline="")), problems)
    else:
        raise FileError("Upload an Excel workbook (.xlsx), a CSV file named after its sheet, or a ZIP of CSV files.")
