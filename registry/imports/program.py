"""Bring a whole program in from a spreadsheet: check every row, then write the clean patients.

Two passes over the file, memory flat whatever its size: the rows are read as a stream, their
cells parsed (problems reported by sheet, row and column), and spooled to a temporary SQLite file
sorted by MRN. Then each patient's rows are checked in memory by the registry services' own rule
functions (``registry.services.new_patients``: the same errors as a typed entry) and the checked
patient is spooled too. Only when the whole file is clean, and it is not a dry run, are the checked
patients written: 250 at a time, each table in bulk, in one transaction; a group the database
refuses is written again one patient per transaction, and the patient it refuses is reported.
A patient whose MRN is already registered at the site is left as it is: importing the same file
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError

from registry.imports import cells, specs
from registry.imports.reading import FileError, Problem, Row, read_rows
from registry.models import FollowUp, Patient, PatientStatus, Pump, Site
from registry.services.constraints import constraint_message
from registry.services.new_patients import NewPatient, write_new_patients
from registry.services.schedule import site_rules

Progress = Callable[[str, int, int], None]
MAX_LISTED = 1000  # problems listed in full; the count covers all
NOON = dt.time(12, 0)
_SHEET_INDEX = {s.name: i for i, s in enumerate(specs.SHEETS)}
# Statuses recorded after the day's other events (a death on the day of a refill follows it).
_LAST = {PatientStatus.DECEASED, PatientStatus.DISCONTINUED, PatientStatus.TRANSFERRED}


@dataclass
class ImportResult:
    dry_run: bool
    patients: int = 0
    written: int = 0
    already_registered: int = 0
    records: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def clean(self) -> bool:
        return self.problem_count == 0

    def report(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "patients": self.patients,
            "written": self.written,
            "already_registered": self.already_registered,
            "records": dict(self.records),
            "problem_count": self.problem_count,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class Parsed:
    sheet: str
    row: int
    values: dict  # field -> value (None when blank)
    raw: dict  # field -> the cell as text, for the report


BROKEN = "broken"  # marks a Patients row whose cells had problems


# --- Pass 1: cells -------------------------------------------------------------------------------


def _parse(row: Row, order: str, result: ImportResult) -> Parsed | None:
    values, raw, ok = {}, {}, True
    for column in row.sheet.columns:
        cell = row.cells.get(column.field)
        value = cell.value if cell else None
        raw[column.field] = cells.text(value) if not isinstance(value, dt.date) else value.isoformat()[:10]
        try:
            values[column.field] = cells.read(
                value, column, order=order, number_format=cell.number_format if cell else ""
            )
        except cells.CellError as error:
            result.report(Problem(row.sheet.name, row.number, column.label, raw[column.field], str(error)))
            ok = False
            continue
        if column.required and values[column.field] is None:
            result.report(Problem(row.sheet.name, row.number, column.label, "", "This column must be filled in."))
            ok = False
    return Parsed(row.sheet.name, row.number, values, raw) if ok else None


def _spool(path: Path, site: Site, result: ImportResult, spool: sqlite3.Connection) -> int:
    spool.execute("CREATE TABLE rows (mrn TEXT, sheet INTEGER, number INTEGER, data BLOB)")
    problems: list[Problem] = []
    batch = []
    for row in read_rows(path, problems):
        parsed = _parse(row, site.date_order, result)
        if parsed is None:
            if row.sheet is not specs.PATIENTS:
                continue
            # The patient's other rows wait for this one to be fixed: no "no such patient" for each.
            mrn = cells.mrn(row.cells["mrn"].value, row.cells["mrn"].number_format) if "mrn" in row.cells else ""
            if not mrn:
                continue
            parsed = Parsed(row.sheet.name, row.number, {"mrn": mrn, BROKEN: True}, {})
        result.records[row.sheet.name] += 1
        batch.append((parsed.values["mrn"], _SHEET_INDEX[row.sheet.name], row.number, pickle.dumps(parsed)))
        if len(batch) >= 5000:
            spool.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
            batch.clear()
    spool.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
    for problem in problems:
        result.report(problem)
    spool.execute("CREATE INDEX rows_mrn ON rows (mrn, sheet, number)")
    return spool.execute("SELECT COUNT(DISTINCT mrn) FROM rows").fetchone()[0]


def _patients(spool: sqlite3.Connection) -> Iterator[tuple[str, list[Parsed]]]:
    cursor = spool.execute("SELECT mrn, data FROM rows ORDER BY mrn, sheet, number")
    for mrn, group in itertools.groupby(cursor, key=lambda r: r[0]):
        # Our own rows, pickled a moment ago into a private temporary file.
        yield mrn, [pickle.loads(data) for _, data in group]  # noqa: S301


# --- Pass 2: one patient -------------------------------------------------------------------------


class _PatientImport:
    """Checks one patient's rows by the services' rules, in the order the events happened."""

    def __init__(self, site: Site, rows: list[Parsed], result: ImportResult, *, by, rules, serials: set):
        self.site, self.rows, self.result = site, rows, result
        self.serials = serials  # (manufacturer, serial) of the database's pumps and the file's earlier patients
        self.new_serials: set = set()  # this patient's, added to ``serials`` by the caller
        self.failed = False
        self.new = NewPatient(site, by=by, rules=rules)
        self.patient: Patient | None = None
        self.pumps: dict[str, object] = {}
        self.goals: dict[str, object] = {}

    def of(self, sheet: specs.Sheet) -> list[Parsed]:
        return [r for r in self.rows if r.sheet == sheet.name]

    def problem(self, row: Parsed, field_name: str, message: str) -> None:
        sheet = specs.BY_NAME[row.sheet.casefold()]
        column = sheet.column(field_name)
        label = column.label if column else ""
        value = row.raw.get(column.field, "") if column else ""
        self.result.report(Problem(row.sheet, row.row, label, value, message))
        self.failed = True

    def call(self, row: Parsed, check, **kwargs):
        """One record checked; a refusal is reported against the row's columns and the record left out."""
        try:
            return check(**kwargs)
        except ValidationError as error:
            for key, messages in error.message_dict.items() if hasattr(error, "error_dict") else [("", error.messages)]:
                for message in messages:
                    self.problem(row, "" if key == NON_FIELD_ERRORS else key, message)
        return None

    def run(self) -> None:
        patients = self.of(specs.PATIENTS)
        if not patients:
            for row in self.rows:
                self.problem(row, "mrn", "There is no patient with this MRN on the Patients sheet.")
            return
        for extra in patients[1:]:
            self.problem(extra, "mrn", f"This MRN is already on row {patients[0].row} of the Patients sheet.")
        head = patients[0].values
        if head.get(BROKEN):
            self.failed = True
            return
        implants = [r.values["implant_date"] for r in self.of(specs.PUMPS)]
        before = [r for r in self.of(specs.STATUS_CHANGES) if implants and r.values["on"] < min(implants)]
        # Programs rarely kept the evaluation's dates: without them, a pump's patient was a candidate.
        status = PatientStatus.CANDIDATE if implants and not before else PatientStatus.REFERRED
        fields = {k: v for k, v in head.items() if v is not None and k != "referred_on"}
        self.patient = self.call(
            patients[0], self.new.register, status=status, referred_on=head["referred_on"], **fields
        )
        if self.patient is None:
            return
        for row in sorted(self.of(specs.INDICATIONS), key=lambda r: not r.values["is_primary"]):
            values = {k: v for k, v in row.values.items() if v is not None and k != "mrn"}
            self.call(row, self.new.records.indication, **values)
        for _, _, _, step in sorted(self.events(), key=lambda e: e[:3]):
            step()
        if not self.failed:
            self.new.finish()

    def events(self) -> Iterator[tuple]:
        """(date, rank, order, step): same-day events run implant, refills, visits, then departures."""
        implants = {r.values["implant_date"] for r in self.of(specs.PUMPS)}
        for n, row in enumerate(self.of(specs.STATUS_CHANGES)):
            v = row.values
            if v["to_status"] == PatientStatus.IMPLANTED and v["on"] in implants:
                continue  # the pump's implant records this change
            yield v["on"], 5 if v["to_status"] in _LAST else 0, n, partial(self.status, row)
        for n, row in enumerate(self.of(specs.PUMPS)):
            yield row.values["implant_date"], 1, n, partial(self.implant, row)
            if row.values["explant_date"] and not self.replaced(row):
                yield row.values["explant_date"], 3, n, partial(self.explant, row)
        for sheet, day, time in (
            (specs.REFILLS, "performed_on", "performed_time"),
            (specs.DOSE_CHANGES, "effective_on", "effective_time"),
        ):
            for row in self.of(sheet):
                at = dt.datetime.combine(row.values[day], row.values[time] or NOON)
                yield row.values[day], 2, at, partial(self.pump_record, row, sheet)
        for n, row in enumerate(self.of(specs.FOLLOW_UPS)):
            yield row.values["due_date"], 4, n, partial(self.follow_up, row)
        for n, row in enumerate(self.of(specs.GOALS)):
            yield row.values["set_on"], 4, n, partial(self.goal, row)
        for n, row in enumerate(self.of(specs.GOAL_REVIEWS)):
            yield row.values["reviewed_on"], 4, 10**6 + n, partial(self.review, row)

    def replaced(self, row: Parsed) -> bool:
        serial = row.values["serial_number"]
        return any(r.values["replaces_serial"] == serial for r in self.of(specs.PUMPS))

    def status(self, row: Parsed) -> None:
        v = row.values
        self.call(row, self.new.change_status, to_status=v["to_status"], on=v["on"], reason=v["reason"] or "Imported")

    def implant(self, row: Parsed) -> None:
        v = row.values
        serial = v["serial_number"]
        if serial in self.pumps:
            return self.problem(row, "serial_number", "This serial number is already on another row for this patient.")
        fields = {
            k: v[k]
            for k in (
                "serial_number",
                "manufacturer",
                "model",
                "reservoir_volume_ml",
                "alarm_volume_ml",
                "catheter_tip_level",
                "eri_date",
            )
            if v[k] is not None
        }
        key = (v["manufacturer"] or "Medtronic", serial)
        if key in self.serials or key in self.new_serials:
            return self.problem(row, "serial_number", _SERIAL_TAKEN)
        replaced = v["replaces_serial"]
        if replaced:
            old = self.pumps.get(replaced)
            if old is None:
                return self.problem(
                    row,
                    "replaces_serial",
                    "No pump of this patient has this serial number (on an earlier implant date).",
                )
            old_row = next(r for r in self.of(specs.PUMPS) if r.values["serial_number"] == replaced)
            if old_row.values["explant_date"] not in (None, v["implant_date"]):
                return self.problem(
                    old_row, "explant_date", "A replaced pump is explanted on its replacement's implant date."
                )
            reason = old_row.values["explant_reason"] or "Replaced"
            pump = self.call(row, self.new.replace, pump=old, implant_date=v["implant_date"], reason=reason, **fields)
        else:
            pump = self.call(row, self.new.implant, implant_date=v["implant_date"], **fields)
        if pump is not None:
            self.pumps[serial] = pump
            self.new_serials.add(key)

    def explant(self, row: Parsed) -> None:
        pump = self.pumps.get(row.values["serial_number"])
        if pump is not None:
            self.call(
                row,
                self.new.explant,
                pump=pump,
                explant_date=row.values["explant_date"],
                reason=row.values["explant_reason"] or "",
            )

    def pump_record(self, row: Parsed, sheet: specs.Sheet) -> None:
        v = row.values
        pump = self.pumps.get(v["pump_serial"])
        if pump is None:
            day = v["performed_on"] if sheet is specs.REFILLS else v["effective_on"]
            pump_row = next((r for r in self.of(specs.PUMPS) if r.values["serial_number"] == v["pump_serial"]), None)
            if pump_row is None:
                self.problem(row, "pump_serial", "This patient has no pump with this serial on the Pumps sheet.")
            elif day < pump_row.values["implant_date"]:
                implant = pump_row.values["implant_date"]
                field_name = "performed_on" if sheet is specs.REFILLS else "effective_on"
                self.problem(row, field_name, f"This is before the pump's implant date ({implant}).")
            return  # otherwise the pump's own row says what is wrong with it
        zone = self.site.zone
        if sheet is specs.REFILLS:
            at = dt.datetime.combine(v["performed_on"], v["performed_time"] or NOON, tzinfo=zone)
            optional = {
                k: v[k]
                for k in ("volume_removed_ml", "expected_residual_ml", "programmer_alarm_date")
                if v[k] is not None
            }
            self.call(
                row,
                self.new.refill,
                pump=pump,
                performed_at=at,
                volume_after_ml=v["volume_after_ml"],
                concentration_mcg_per_ml=v["concentration_mcg_per_ml"],
                daily_dose_mcg=v["daily_dose_mcg"],
                notes=v["notes"] or "",
                confirmed=bool(v["confirmed"]),
                **optional,
            )
        else:
            at = dt.datetime.combine(v["effective_on"], v["effective_time"] or NOON, tzinfo=zone)
            self.call(
                row,
                self.new.dose_change,
                pump=pump,
                effective_at=at,
                daily_dose_mcg=v["daily_dose_mcg"],
                notes=v["notes"] or "",
                confirmed=bool(v["confirmed"]),
            )

    def follow_up(self, row: Parsed) -> None:
        v = row.values
        status = v["status"] or FollowUp.Status.SCHEDULED
        if status == FollowUp.Status.COMPLETED and v["completed_on"] is None:
            return self.problem(row, "completed_on", "A completed visit needs the date it was completed.")
        if status != FollowUp.Status.COMPLETED and v["completed_on"] is not None:
            return self.problem(row, "completed_on", "Only a completed visit has a completion date.")
        initial = FollowUp.Status.MISSED if status == FollowUp.Status.MISSED else FollowUp.Status.SCHEDULED
        records = self.new.records
        visit = self.call(
            row,
            records.follow_up,
            kind=v["kind"],
            due_date=v["due_date"],
            status=initial,
            outcome_notes=v["outcome_notes"] or "",
        )
        if visit is None:
            return
        if status == FollowUp.Status.COMPLETED:
            self.call(row, records.complete, follow_up=visit, completed_on=v["completed_on"])
        elif status == FollowUp.Status.CANCELLED:
            self.call(row, records.cancel, follow_up=visit)

    def goal(self, row: Parsed) -> None:
        v = row.values
        if v["ref"] in self.goals:
            return self.problem(row, "ref", "This goal reference is already used for this patient.")
        extra = {k: v[k] for k in ("baseline_score", "expected_outcome", "weight") if v[k] is not None}
        goal = self.call(
            row,
            self.new.records.goal,
            category=v["category"],
            description=v["description"],
            set_on=v["set_on"],
            **extra,
        )
        if goal is not None:
            self.goals[v["ref"]] = goal

    def review(self, row: Parsed) -> None:
        v = row.values
        goal = self.goals.get(v["ref"])
        if goal is None:
            if not any(r.values["ref"] == v["ref"] for r in self.of(specs.GOALS)):
                self.problem(row, "ref", "This patient has no goal with this reference on the Goals sheet.")
            return
        self.call(
            row,
            self.new.records.review,
            goal=goal,
            reviewed_on=v["reviewed_on"],
            score=v["score"],
            notes=v["notes"] or "",
        )


# --- The whole file ------------------------------------------------------------------------------

_SERIAL_TAKEN = constraint_message(Pump, "pump_serial_unique_per_manufacturer")
_REFUSED = "The database refused this patient: a record conflicts with one saved since the file was checked."
WRITE_GROUP = 250  # patients written in one transaction


def _check(site: Site, spool: sqlite3.Connection, total: int, result: ImportResult, *, by, progress) -> None:
    """Check every patient; spool each clean, new one, ready to be written."""
    spool.execute("CREATE TABLE checked (mrn TEXT PRIMARY KEY, row INTEGER, data BLOB)")
    rules = site_rules(site)
    serials: set = set()
    done = 0
    for chunk in _chunks(_patients(spool), 200):
        registered = _registered(site, [mrn for mrn, _ in chunk])
        wanted = {r.values["serial_number"] for _, rows in chunk for r in rows if r.sheet == specs.PUMPS.name}
        serials |= set(Pump.objects.filter(serial_number__in=wanted).values_list("manufacturer", "serial_number"))
        checked = []
        for mrn, rows in chunk:
            done += 1
            if mrn in registered:
                result.already_registered += 1
                continue
            one = _PatientImport(site, rows, result, by=by, rules=rules, serials=serials)
            one.run()
            serials |= one.new_serials
            if not one.failed:
                one.new.pump_records = None  # keyed by the objects of this process: not kept
                row = next(r.row for r in rows if r.sheet == specs.PATIENTS.name)
                checked.append((mrn, row, pickle.dumps(one.new, pickle.HIGHEST_PROTOCOL)))
        spool.executemany("INSERT INTO checked VALUES (?, ?, ?)", checked)
        if progress:
            progress("checking", done, total)


def _write(site: Site, spool: sqlite3.Connection, total: int, result: ImportResult, *, by, progress) -> None:
    """Write the checked patients, a group to a transaction; a refused group again patient by patient."""
    done = 0
    cursor = spool.execute("SELECT mrn, row, data FROM checked ORDER BY mrn")
    for chunk in _chunks(cursor, WRITE_GROUP):
        registered = _registered(site, [mrn for mrn, _, _ in chunk])
        group = [(row, data) for mrn, row, data in chunk if mrn not in registered]
        result.already_registered += len(chunk) - len(group)  # registered since the check
        try:
            write_new_patients([_unpickled(data) for _, data in group], by=by)
            result.written += len(group)
        except DatabaseError:
            for row, data in group:  # afresh from the spool: the failed group's objects hold its ids
                new = _unpickled(data)
                try:
                    write_new_patients([new], by=by)
                    result.written += 1
                except DatabaseError:
                    result.report(Problem(specs.PATIENTS.name, row, "MRN", new.patient.mrn, _REFUSED))
        done += len(chunk)
        if progress:
            progress("writing", done, total)


def _registered(site: Site, mrns: list[str]) -> set[str]:
    return set(Patient.objects.filter(site=site, mrn__in=mrns).values_list("mrn", flat=True))


def _unpickled(data: bytes) -> NewPatient:
    return pickle.loads(data)  # noqa: S301 (our own objects, pickled into a private temporary file)


def _chunks(items, size):
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def import_program(
    path: Path | str, site: Site, *, by=None, dry_run: bool = True, progress: Progress | None = None
) -> ImportResult:
    """Check (and unless ``dry_run``, then write) the program in ``path`` for ``site``."""
    result = ImportResult(dry_run=dry_run)
    with tempfile.TemporaryDirectory(prefix="itb-import-") as tmp:
        spool = sqlite3.connect(Path(tmp) / "rows.sqlite3")
        try:
            try:
                total = _spool(Path(path), site, result, spool)
            except FileError as error:
                result.report(Problem(Path(path).name, None, "", "", str(error)))
                return result
            result.patients = total
            if progress:
                progress("reading", total, total)
            _check(site, spool, total, result, by=by, progress=progress)
            if result.clean and not dry_run:
                _write(site, spool, total, result, by=by, progress=progress)
        finally:
            spool.close()
    return result
