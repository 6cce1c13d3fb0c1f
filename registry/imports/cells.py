"""Cell values as a spreadsheet holds them, turned into Python values or a message in words.

Dates come as date cells, Excel serial numbers, ISO text (2019-04-03) or text in the site's
day/month order; a two-digit year, or a text date that only reads in the other order, is reported,
never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from openpyxl.utils.datetime import from_excel

from registry.imports import specs

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_TEXT_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}
# Excel serials of 1900-01-01 .. 9999-12-31.
_SERIALS = (1, 2958465)


class CellError(ValueError):
    """A value that cannot be read; the message says why in words."""


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def mrn(value, number_format: str = "") -> str:
    """An MRN as written: a number cell formatted with leading zeros ("0000000") keeps them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer():
            digits = str(int(value))
            zeros = re.fullmatch(r"0+", number_format or "")
            return digits.zfill(len(number_format)) if zeros else digits
    return text(value)


def _date(year: int, month: int, day: int, raw: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError(f"“{raw}” is not a date.") from None


def date(value, order: str = "dmy") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not _SERIALS[0] <= value <= _SERIALS[1]:
            raise CellError(f"{text(value)} is not a date (as an Excel date number it is out of range).")
        return from_excel(value).date()
    raw = text(value)
    if raw.isdigit():
        return date(int(raw), order)
    if m := _ISO.match(raw):
        return _date(int(m[1]), int(m[2]), int(m[3]), raw)
    m = _TEXT_DATE.match(raw)
    if not m:
        raise CellError(f"“{raw}” is not a date: write it as 2019-04-03, or as a date cell.")
    first, second, year = int(m[1]), int(m[2]), m[3]
    if len(year) == 2:
        raise CellError(f"“{raw}” has a two-digit year: write the year in full (or as 2019-04-03).")
    day, month = (first, second) if order == "dmy" else (second, first)
    other = "month first" if order == "dmy" else "day first"
    mine = "day first" if order == "dmy" else "month first"
    if month > 12 and day <= 12:
        raise CellError(
            f"“{raw}” reads only {other}, but this site writes dates {mine}: it is ambiguous, write it as {year}-MM-DD."
        )
    return _date(int(year), month, day, raw)


def time(value) -> dt.time:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    if isinstance(value, float) and 0 <= value < 1:  # Excel stores a time as a fraction of a day
        minutes = round(value * 24 * 60)
        return dt.time(minutes // 60, minutes % 60)
    raw = text(value)
    m = _TIME.match(raw)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise CellError(f"“{raw}” is not a time of day: write it as 14:30.")
    return dt.time(int(m[1]), int(m[2]))


def decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not a number.")
    raw = text(value)
    if "," in raw and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise CellError(f"“{raw}” is not a number.") from None
    if not number.is_finite():
        raise CellError(f"“{raw}” is not a number.")
    return number


def integer(value) -> int:
    number = decimal(value)
    if number != number.to_integral_value():
        raise CellError(f"“{text(value)}” is not a whole number.")
    return int(number)


def yes_no(value) -> bool:
    raw = text(value).casefold()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise CellError(f"“{text(value)}” is not yes or no.")


def choice(value, column: specs.Column) -> str:
    """A code or its label, in any case: "Cerebral palsy" and "cerebral_palsy" both mean the code."""
    raw = text(value)
    key = raw.casefold()
    for code, label in column.choices:
        if key in (code.casefold(), label.casefold()):
            return code
    names = ", ".join(label for _, label in column.choices)
    raise CellError(f"“{raw}” is not a known {column.label.lower()}. Use one of: {names}.")


def read(value, column: specs.Column, *, order: str, number_format: str = ""):
    """The value of one cell for ``column``; None when blank."""
    if column.kind == specs.MRN:
        return mrn(value, number_format) or None
    if blank(value):
        return None
    if column.kind == specs.TEXT:
        return text(value)
    if column.kind == specs.DATE:
        return date(value, order)
    if column.kind == specs.TIME:
        return time(value)
    if column.kind == specs.DECIMAL:
        return decimal(value)
    if column.kind == specs.INTEGER:
        return integer(value)
    if column.kind == specs.YES_NO:
        return yes_no(value)
    return choice(value, column)
