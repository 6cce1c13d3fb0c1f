"""Import a whole program from a spreadsheet: ``manage.py import_program FILE --site NAME [--dry-run]``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from registry.imports import import_program
from registry.models import Site

PHASES = {"reading": "Reading the file", "checking": "Checking (dry run)", "writing": "Writing"}


class Command(BaseCommand):
    help = "Import patients and their histories from an XLSX workbook, a CSV file or a ZIP of CSV files."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--site", required=True, help="The site's name (or id) the patients belong to.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and write nothing.")

    def handle(self, *args, file, site, dry_run, **options):
        found = Site.objects.filter(pk=int(site)) if site.isdigit() else Site.objects.filter(name=site)
        chosen = found.first()
        if chosen is None:
            raise CommandError(f"No site named “{site}”.")
        console = Console(file=self.stdout._out, stderr=False)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            tasks = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(PHASES[phase], total=total)
                bar.update(tasks[phase], completed=done)

            result = import_program(file, chosen, dry_run=dry_run, progress=progress)
        for problem in result.problems:
            self.stdout.write(str(problem))
        if result.problem_count > len(result.problems):
            self.stdout.write(f"... and {result.problem_count - len(result.problems)} more problems.")
        summary = (
            f"{result.patients} patients in the file, {result.already_registered} already registered, "
            f"{sum(result.records.values())} rows."
        )
        self.stdout.write(summary)
        if not result.clean:
            raise CommandError(f"{result.problem_count} problems to fix in the file; nothing was written.")
        if dry_run:
            self.stdout.write(self.style.SUCCESS("The file is clean: nothing was written (dry run)."))
        else:
            self.stdout.write(self.style.SUCCESS(f"{result.written} patients imported."))
