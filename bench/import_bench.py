"""Time the import of a generated program spreadsheet on PostgreSQL, and its memory.

    createdb -h 127.0.0.1 -U postgres itb_import_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_import_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itb_import_bench .venv/bin/python bench/import_bench.py \
        --patients 10000

Writes a workbook of N patients with their histories (written as a stream: openpyxl's write-only
mode; or, for a --file ending .zip, a ZIP of one CSV file a sheet, written much faster), each: a
referral, a primary indication, for seven in ten an implanted pump (one in ten of
those replaced once) with a refill every 90 days up to last month and a dose change, two
follow-ups, a goal and its review. Then imports it for a new site (the dry run, then the writes)
and prints the time of each phase, the rows per second and the process's resident memory sampled
at every progress report (flat: the same at the tenth and the last chunk of patients).
"""

import argparse
import csv
import datetime as dt
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from openpyxl import Workbook  # noqa: E402

from registry.imports import import_program, specs  # noqa: E402
from registry.models import Site  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _CsvSheet:
    """One sheet as a CSV file in a temporary folder, as a coordinator exports it (ISO dates)."""

    def __init__(self, folder: Path, name: str):
        self.path = folder / f"{name}.csv"
        self.stream = self.path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.stream)

    def append(self, values: list) -> None:
        cells = ["" if v is None else v.strftime("%H:%M") if isinstance(v, dt.time) else v for v in values]
        self.writer.writerow(cells)


def _sheets(path: Path, folder: Path):
    if path.suffix == ".zip":
        return None, {s.name: _CsvSheet(folder, s.name) for s in specs.SHEETS}
    workbook = Workbook(write_only=True)
    return workbook, {s.name: workbook.create_sheet(s.name) for s in specs.SHEETS}


def generate(path: Path, n: int, seed: int, today: dt.date) -> int:
    """The program as an XLSX workbook, or (``path`` ending .zip) a ZIP of one CSV file a sheet."""
    rnd = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="itb-import-bench-"))
    workbook, sheets = _sheets(path, folder)
    for s in specs.SHEETS:
        sheets[s.name].append([c.label for c in s.columns])

    def add(sheet: specs.Sheet, **values):
        sheets[sheet.name].append([values.get(c.field) for c in sheet.columns])

    rows = 0
    for i in range(n):
        mrn = f"{i:08d}"
        implanted = rnd.random() < 0.7
        implant = today - dt.timedelta(days=rnd.randint(120, 20 * 365))
        referred = implant - dt.timedelta(days=rnd.randint(60, 400)) if implanted else today - dt.timedelta(days=200)
        dob = referred - dt.timedelta(days=rnd.randint(4 * 365, 60 * 365))
        add(
            specs.PATIENTS,
            mrn=mrn,
            given_name="Bench",
            family_name=f"Patient {i}",
            date_of_birth=dob,
            referred_on=referred,
            sex=rnd.choice(["Female", "Male"]),
        )
        add(specs.INDICATIONS, mrn=mrn, diagnosis="Cerebral palsy", gmfcs_level=rnd.randint(1, 5))
        add(
            specs.FOLLOW_UPS,
            mrn=mrn,
            kind="Clinic review",
            due_date=referred + dt.timedelta(days=30),
            status="Completed",
            completed_on=referred + dt.timedelta(days=30),
        )
        add(specs.FOLLOW_UPS, mrn=mrn, kind="Annual review", due_date=today + dt.timedelta(days=rnd.randint(5, 300)))
        add(specs.GOALS, mrn=mrn, ref="G1", category="Comfort", description="Sleeps through", set_on=referred)
        add(
            specs.GOAL_REVIEWS,
            mrn=mrn,
            ref="G1",
            reviewed_on=referred + dt.timedelta(days=60),
            score=rnd.randint(-1, 2),
        )
        rows += 6
        if not implanted:
            continue
        serial = f"B{i:08d}"
        add(specs.PUMPS, mrn=mrn, serial_number=serial, implant_date=implant, reservoir_volume_ml=40, alarm_volume_ml=2)
        pump, rows = serial, rows + 1
        replaced = rnd.random() < 0.1 and (today - implant).days > 400
        replace_on = implant + dt.timedelta(days=(today - implant).days // 2) if replaced else None
        day = implant
        while day < today - dt.timedelta(days=30):
            if replace_on and day >= replace_on:
                add(
                    specs.PUMPS,
                    mrn=mrn,
                    serial_number=f"R{i:08d}",
                    implant_date=replace_on,
                    reservoir_volume_ml=40,
                    alarm_volume_ml=2,
                    replaces_serial=serial,
                )
                pump, replace_on, day, rows = f"R{i:08d}", None, replace_on, rows + 1
            add(
                specs.REFILLS,
                mrn=mrn,
                pump_serial=pump,
                performed_on=day,
                performed_time=dt.time(10, 0),
                volume_after_ml=40,
                concentration_mcg_per_ml=500,
                daily_dose_mcg=rnd.choice([80, 100, 120]),
            )
            rows += 1
            day += dt.timedelta(days=90)
        add(
            specs.DOSE_CHANGES,
            mrn=mrn,
            pump_serial=pump,
            effective_on=day - dt.timedelta(days=70),  # 20 days after the last refill, never in the future
            daily_dose_mcg=rnd.choice([90, 110]),
        )
        rows += 1
    if workbook is not None:
        workbook.save(path)
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for sheet in sheets.values():
                sheet.stream.close()
                archive.write(sheet.path, sheet.path.name)
    shutil.rmtree(folder)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--file", default="var/import_bench.xlsx", help="A .xlsx workbook or a .zip of CSV files.")
    parser.add_argument("--reuse", action="store_true", help="Import the file already written by an earlier run.")
    args = parser.parse_args()
    path = Path(args.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not (args.reuse and path.exists()):
        rows = generate(path, args.patients, args.seed, dt.date.today() - dt.timedelta(days=1))
        print(
            f"generated {args.patients} patients, {rows} rows, {path.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
    site = Site.objects.create(name=f"Import bench {time.strftime('%Y%m%d-%H%M%S')}", time_zone="Europe/London")
    phases: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    clock = time.perf_counter()

    def progress(phase: str, done: int, total: int) -> None:
        phases.setdefault(phase, [time.perf_counter(), 0.0])[1] = time.perf_counter()
        memory.setdefault(phase, []).append(rss_mb())
        at, rss = time.perf_counter() - clock, memory[phase][-1]
        print(f"  {phase} {done}/{total} at {at:.1f} s, RSS {rss:.0f} MB, load {os.getloadavg()[0]:.2f}", flush=True)

    result = import_program(path, site, dry_run=False, progress=progress)
    total = time.perf_counter() - clock
    rows = sum(result.records.values())
    print(f"problems: {result.problem_count}, written: {result.written} patients, {rows} rows read")
    for problem in result.problems[:5]:
        print(f"  {problem}")
    previous = clock
    for phase, (_first, last) in phases.items():
        print(f"{phase:<9} {last - previous:8.1f} s   RSS {min(memory[phase]):.0f}..{max(memory[phase]):.0f} MB")
        previous = last
    print(f"total     {total:8.1f} s   {rows / total:.0f} rows/s, {args.patients / total:.1f} patients/s")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak RSS  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
