"""Time a FHIR bulk export of a large generated program and show its memory stays flat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_fhir_100k \
        .venv/bin/python bench/fhir_export_bench.py --patients 100000

Migrates the database, generates the program with ``manage.py generate_registry`` unless that many
patients are already there, then runs the export's writer (``fhir_api.export.run``, what the Celery
task runs) for the whole program into a temporary folder. A thread samples the process's resident
memory every 0.2 s; the table gives, per resource type, the resources written, the file size, the
time and the resident memory when the type finished, then the peak. Streamed batch by batch, the
memory after the first type stays where it is whatever the size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from fhir_api import export  # noqa: E402
from fhir_api.models import BulkExport  # noqa: E402
from fhir_api.readers import RESOURCE_TYPES, Query  # noqa: E402
from registry.models import Patient  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if Patient.objects.count() != args.patients:
        print(f"generating {args.patients:,} patients ...", flush=True)
        call_command("generate_registry", patients=args.patients, seed=args.seed, clear=True, quiet=True)
    user, _ = get_user_model().objects.get_or_create(username="fhir-bench", defaults={"is_superuser": True})
    settings.FHIR_EXPORT_DIR = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    job = BulkExport.objects.create(
        requested_by=user, request_url="bench", site_ids=None, resource_types=RESOURCE_TYPES
    )
    sampler = Sampler()
    sampler.start()
    start_rss = rss_mb()
    started = time.perf_counter()
    # Types one by one through the writer's own function, to time and measure each.
    rows = []
    folder = export.directory(job.pk)
    folder.mkdir(parents=True)
    for resource_type in RESOURCE_TYPES:
        t0 = time.perf_counter()
        count = export.write_ndjson(folder, resource_type, Query(None))
        size = (folder / export.file_name(resource_type)).stat().st_size
        rows.append((resource_type, count, size, time.perf_counter() - t0, rss_mb()))
    total = time.perf_counter() - started
    sampler.running = False
    database = settings.DATABASES["default"]["NAME"]
    print(f"\nFHIR bulk export of {Patient.objects.count():,} patients (database {database})")
    print(f"{'type':<22}{'resources':>12}{'MB':>10}{'seconds':>10}{'RSS MB':>10}")
    for resource_type, count, size, seconds, rss in rows:
        print(f"{resource_type:<22}{count:>12,}{size / 2**20:>10.1f}{seconds:>10.1f}{rss:>10.1f}")
    resources = sum(r[1] for r in rows)
    print(f"{'total':<22}{resources:>12,}{sum(r[2] for r in rows) / 2**20:>10.1f}{total:>10.1f}")
    print(f"RSS at start {start_rss:.1f} MB, peak {sampler.peak:.1f} MB; {resources / total:,.0f} resources/s")
    BulkExport.objects.filter(pk=job.pk).delete()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
