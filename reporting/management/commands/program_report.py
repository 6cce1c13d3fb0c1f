"""``manage.py program_report --year 2026 [--site NAME_OR_ID ...] [--format csv|json] [--output PATH]``.

The annual program report for scheduled runs (cron, Celery beat): the same figures as the reports
page and ``/api/v1/reports/summary/``. JSON is the nested summary; CSV is every table in one tidy
file of (table, row, column, value) rows, so a single file loads into any spreadsheet or R.
"""

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from registry.models import Site
from reporting import reports


class Command(BaseCommand):
    help = "Print (or write) the program report of one calendar year, for all sites or some."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, help="Calendar year, e.g. 2026.")
        parser.add_argument("--site", action="append", default=[], help="Site name or id; repeat for several.")
        parser.add_argument("--format", choices=["csv", "json"], default="json")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, year, site, format, output, **options):
        if not 1900 <= year <= 9998:
            raise CommandError("--year must be a calendar year such as 2026.")
        sites = None
        if site:
            wanted = Q()
            for value in site:
                wanted |= Q(name=value) | (Q(pk=int(value)) if value.isdigit() else Q())
            sites = Site.objects.filter(wanted)
            found = {s.name for s in sites} | {str(s.pk) for s in sites}
            missing = [v for v in site if v not in found]
            if missing:
                raise CommandError(f"No such site: {', '.join(missing)}")
        report = reports.summary(sites=sites, start=dt.date(year, 1, 1), end=dt.date(year, 12, 31))
        if format == "json":
            text = json.dumps(report, indent=2) + "\n"
        else:
            text = reports.to_csv(["table", "row", "column", "value"], reports.long_rows(report))
        if output:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            self.stderr.write(f"Wrote the {year} report to {output}")
        else:
            sys.stdout.write(text)
