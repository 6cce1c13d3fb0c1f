"""``manage.py generate_registry --patients N [--seed S] [--sites K] [--clear]``.

A synthetic program of any size for benchmarks; see ``devdata.synthetic`` for the
shapes and for why it writes in bulk rather than through the services. Deterministic for a seed
on a given day; bulk rows carry no django-simple-history rows.
"""

from django.core.management.base import BaseCommand, CommandError

from devdata import synthetic


class Command(BaseCommand):
    help = "Generate a synthetic ITB program of N patients (bulk inserts; COPY on PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, required=True, help="How many patients to add.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (same seed, same program).")
        parser.add_argument("--sites", type=int, default=None, help="Number of clinics (default: 1 per 2,500).")
        parser.add_argument("--batch", type=int, default=2000, help="Patients per transaction.")
        parser.add_argument(
            "--workers", type=int, default=None, help="Processes building rows (default: one per CPU; 1 = none)."
        )
        parser.add_argument("--clear", action="store_true", help="Wipe the registry tables and sites first.")
        parser.add_argument("--quiet", action="store_true", help="No progress line.")

    def handle(self, *args, patients, seed, sites, batch, workers, clear, quiet, **options):
        if patients < 1:
            raise CommandError("--patients must be at least 1.")
        if sites is not None and sites < 1:
            raise CommandError("--sites must be at least 1.")
        if clear:
            synthetic.clear_registry()
        result = synthetic.generate(
            patients=patients,
            seed=seed,
            sites=sites,
            batch=batch,
            workers=workers,
            progress=None if quiet else synthetic.stderr_progress,
        )
        rows = ", ".join(f"{count:,} {name}" for name, count in result.rows.items())
        self.stdout.write(
            self.style.SUCCESS(f"Generated {result.patients:,} patients in {result.seconds:.1f} s: {rows}.")
        )
