"""Spreadsheet import of a whole program (XLSX or CSV) through the registry services."""

from registry.imports.program import ImportResult, import_program
from registry.imports.reading import Problem
from registry.imports.template import template_workbook

__all__ = ["ImportResult", "Problem", "import_program", "template_workbook"]
