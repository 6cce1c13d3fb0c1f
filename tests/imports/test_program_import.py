"""Importing a program: every kind of error reported where the coordinator fixes it, nothing written
until the file is clean, then the schedules and the program report worked out by hand."""

import csv
import datetime as dt
import io
import zipfile

import pytest
import time_machine
from django.core.management import CommandError, call_command

from registry import services
from registry.imports import import_program, specs, template_workbook
from registry.imports.cells import CellError, date
from registry.models import FollowUp, GoalReview, Patient, Pump, Refill, StatusChange
from reporting import reports
from tests.factories import SiteFactory
from tests.imports.program_files import D, broken_sheets, clean_sheets, row, write_xlsx

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TABLES = (Patient, StatusChange, Pump, Refill, FollowUp, GoalReview)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def site(db):
    return SiteFactory(name="Imported clinic", time_zone="Europe/London", date_order="dmy")


def counts():
    return {model.__name__: model.objects.count() for model in TABLES}


def test_every_kind_of_error_is_reported_where_it_is_and_nothing_is_written(site, tmp_path):
    sheets, expected = broken_sheets()
    path = write_xlsx(tmp_path / "program.xlsx", sheets)
    before = counts()
    for dry_run in (True, False):
        result = import_program(path, site, dry_run=dry_run)
        found = sorted((p.sheet, p.row or 0, p.column, p.value, p.message) for p in result.problems)
        assert len(found) == len(expected), "\n".join(map(str, found))
        for (sheet, number, column, value, fragment), problem in zip(
            sorted(expected, key=lambda e: (e[0], e[1] or 0, e[2])), found, strict=True
        ):
            assert problem[:4] == (sheet, number or 0, column, value), problem
            assert fragment in problem[4], problem
        assert result.written == 0
        assert counts() == before


def test_a_clean_program_imports_with_its_schedules_and_report(site, tmp_path):
    path = write_xlsx(tmp_path / "program.xlsx", clean_sheets())
    checked = import_program(path, site, dry_run=True)
    assert checked.clean and checked.patients == 3 and checked.written == 0
    assert not Patient.objects.exists()

    result = import_program(path, site, dry_run=False)
    assert result.clean, [str(p) for p in result.problems]
    assert result.written == 3

    nora = Patient.objects.get(mrn="000101")
    assert (nora.given_name, nora.family_name, nora.referred_on, nora.status) == (
        "Nora",
        "Quinn",
        D(2018, 3, 5),
        "implanted",
    )
    assert (nora.alarm_date, nora.next_refill_due, nora.refill_due_basis) == (
        D(2027, 3, 10),
        D(2027, 2, 26),
        "max_interval",
    )

    omar = Patient.objects.get(mrn="4711")
    assert omar.referred_on == D(2019, 3, 5) and omar.date_of_birth == D(2001, 8, 17)
    assert (omar.alarm_date, omar.next_refill_due, omar.refill_due_basis) == (
        D(2026, 12, 4),
        D(2026, 11, 27),
        "alarm_margin",
    )
    old, new = Pump.objects.filter(patient=omar).order_by("implant_date")
    assert (old.explant_date, new.replaces_id) == (D(2025, 6, 2), old.pk)
    assert omar.consent_email and omar.contact_email == "reyes@example.org"

    pia = Patient.objects.get(mrn="000303")
    assert (pia.referred_on, pia.status, pia.status_changed_on, pia.next_refill_due) == (
        D(2026, 10, 1),
        "evaluating",
        D(2026, 10, 15),
        None,
    )
    assert FollowUp.objects.get(patient=pia).due_date == D(2027, 1, 11)
    assert list(StatusChange.objects.filter(patient=nora).values_list("to_status", "changed_on")) == [
        ("candidate", D(2018, 3, 5)),
        ("implanted", D(2019, 1, 7)),
    ]

    summary = reports.summary(sites=None, start=D(2018, 1, 1), end=D(2026, 12, 31))
    by_year = {row["year"]: row for row in summary["activity"]["by_year"]}
    assert [by_year[y]["referrals"] for y in (2018, 2019, 2025, 2026)] == [1, 1, 0, 1]
    assert (by_year[2019]["implants"], by_year[2025]["replacements"]) == (2, 1)
    assert (summary["refills"]["performed"], summary["refills"]["first"]) == (2, 2)
    assert summary["census"]["by_status"]["implanted"] == 2


def test_importing_the_same_file_again_changes_nothing(site, tmp_path):
    path = write_xlsx(tmp_path / "program.xlsx", clean_sheets())
    assert import_program(path, site, dry_run=False).written == 3
    before = counts()
    schedules = list(Patient.objects.order_by("mrn").values_list("mrn", "next_refill_due", "alarm_date"))
    again = import_program(path, site, dry_run=False)
    assert again.clean and again.written == 0 and again.already_registered == 3
    assert counts() == before
    assert list(Patient.objects.order_by("mrn").values_list("mrn", "next_refill_due", "alarm_date")) == schedules


def test_a_zip_of_csv_files_imports_the_same_program(site, tmp_path):
    path = tmp_path / "program.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in clean_sheets().items():
            text = io.StringIO()
            csv.writer(text).writerows([[v.isoformat() if isinstance(v, dt.date) else v for v in r] for r in rows])
            archive.writestr(f"{name.lower().replace(' ', '_')}.csv", text.getvalue())
    result = import_program(path, site, dry_run=False)
    assert result.clean and result.written == 3, [str(p) for p in result.problems]
    assert Patient.objects.get(mrn="4711").next_refill_due == D(2026, 11, 27)


def test_the_template_is_a_clean_program_of_one_example_patient(site, tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(template_workbook())
    result = import_program(path, site, dry_run=True)
    assert result.clean, [str(p) for p in result.problems]
    assert result.patients == 1 and sum(result.records.values()) == 9


def test_the_command_checks_then_imports(site, tmp_path):
    path = write_xlsx(tmp_path / "program.xlsx", clean_sheets())
    out = io.StringIO()
    call_command("import_program", str(path), "--site", site.name, "--dry-run", stdout=out)
    assert "nothing was written" in out.getvalue() and not Patient.objects.exists()
    call_command("import_program", str(path), "--site", site.name, stdout=out)
    assert "3 patients imported" in out.getvalue() and Patient.objects.count() == 3


def test_the_command_refuses_a_file_with_problems(site, tmp_path):
    sheets, _ = broken_sheets()
    path = write_xlsx(tmp_path / "program.xlsx", sheets)
    out = io.StringIO()
    with pytest.raises(CommandError, match="problems to fix"):
        call_command("import_program", str(path), "--site", site.name, stdout=out)
    assert "Patients, row 7, Date of birth: “05/03/12”" in out.getvalue()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    "value,order,expected",
    [
        ("03/04/2019", "dmy", D(2019, 4, 3)),
        ("03/04/2019", "mdy", D(2019, 3, 4)),
        ("2019-04-03", "mdy", D(2019, 4, 3)),
        (43558, "dmy", D(2019, 4, 3)),
        ("43558", "dmy", D(2019, 4, 3)),
        (dt.datetime(2019, 4, 3, 0, 0), "dmy", D(2019, 4, 3)),
        ("31.12.2019", "dmy", D(2019, 12, 31)),
    ],
)
def test_dates_as_spreadsheets_hold_them(value, order, expected):
    assert date(value, order) == expected


@pytest.mark.parametrize(
    "value,order", [("12/31/2019", "dmy"), ("31/12/2019", "mdy"), ("3/4/19", "dmy"), ("30/02/2019", "dmy")]
)
def test_dates_that_cannot_be_read_surely_are_refused(value, order):
    with pytest.raises(CellError):
        date(value, order)


def _refill_row(day: str, **values) -> list:
    plain = {"volume_after_ml": 40, "concentration_mcg_per_ml": 500, "daily_dose_mcg": 100}
    return row(specs.REFILLS, mrn="000101", pump_serial="S-1", performed_on=day, **{**plain, **values})


def test_a_pump_history_imports_in_time_order_with_the_schedule_a_recompute_gives(site, tmp_path):
    sheets = clean_sheets()
    sheets[specs.REFILLS.name] += [_refill_row(day) for day in ("2026-06-01", "2026-03-01", "2025-12-01")]
    sheets[specs.DOSE_CHANGES.name].append(
        row(specs.DOSE_CHANGES, mrn="000101", pump_serial="S-1", effective_on="2026-04-01", daily_dose_mcg=150)
    )
    result = import_program(write_xlsx(tmp_path / "program.xlsx", sheets), site, dry_run=False)
    assert result.clean, [str(p) for p in result.problems]

    nora = Patient.objects.get(mrn="000101")
    facts = Refill.objects.filter(pump__patient=nora).order_by("performed_at")
    assert list(facts.values_list("performed_on", "interval_days", "timeliness")) == [
        (D(2025, 12, 1), None, "first"),
        (D(2026, 3, 1), 90, "on_time"),
        (D(2026, 6, 1), 92, "on_time"),
        (D(2026, 9, 1), 92, "on_time"),
    ]
    assert all(r.history.count() == 1 for r in facts)
    fields = ("next_refill_due", "alarm_date", "empty_date", "refill_due_basis", "last_refill_at")
    stored = {f: getattr(nora, f) for f in fields}
    assert stored["next_refill_due"] is not None
    services.recompute_schedule(nora)
    nora.refresh_from_db()
    assert {f: getattr(nora, f) for f in fields} == stored


def test_a_pump_history_with_mistakes_is_refused_row_by_row(site, tmp_path):
    sheets = clean_sheets()
    sheets[specs.REFILLS.name].append(_refill_row("2026-09-01", performed_time="10:00"))
    sheets[specs.DOSE_CHANGES.name].append(
        row(specs.DOSE_CHANGES, mrn="000101", pump_serial="S-1", effective_on="2026-09-15", daily_dose_mcg=1800)
    )
    before = counts()
    for dry_run in (True, False):
        result = import_program(write_xlsx(tmp_path / "program.xlsx", sheets), site, dry_run=dry_run)
        found = sorted((p.sheet, p.row, p.message) for p in result.problems)
        assert [f[:2] for f in found] == [(specs.DOSE_CHANGES.name, 3), (specs.REFILLS.name, 4)], found
        assert "unusual: check it and confirm" in found[0][2]
        assert "already recorded at this date and time" in found[1][2]
        assert counts() == before


def test_a_patient_the_database_refuses_after_the_check_is_reported_and_the_others_written(site, tmp_path):
    path = write_xlsx(tmp_path / "program.xlsx", clean_sheets())
    serial = Pump.objects.none()

    def progress(phase, done, total):
        nonlocal serial
        if phase == "checking" and done == total:  # someone registers Omar's old pump meanwhile
            other = services.create_patient(
                site=site,
                mrn="X1",
                given_name="Ann",
                family_name="Other",
                date_of_birth=D(2000, 1, 1),
                status="candidate",
                referred_on=D(2025, 1, 1),
            )
            serial = services.implant_pump(
                patient=other, implant_date=D(2026, 1, 5), serial_number="S-2", reservoir_volume_ml=40
            )

    result = import_program(path, site, dry_run=False, progress=progress)
    assert serial.serial_number == "S-2"
    assert result.written == 2 and result.problem_count == 1
    problem = result.problems[0]
    assert (problem.sheet, problem.column, problem.value) == ("Patients", "MRN", "4711")
    assert "refused this patient" in problem.message
    assert set(Patient.objects.values_list("mrn", flat=True)) == {"000101", "000303", "X1"}
    assert Pump.objects.filter(serial_number="S-2").count() == 1
