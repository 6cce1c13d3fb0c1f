"""Hand-made program spreadsheets: a clean small program and one with an error of every kind.

The clean program (site in Europe/London, dates written day first, closed Saturday and Sunday,
safety margin 7 days, maximum interval 180 days), worked out by hand:

- Nora Quinn, MRN 000101 (leading zeros kept), referred 2018-03-05, pump S-1 implanted
  2019-01-07 (40 mL, alarm at 2 mL). Refill 2026-09-01 10:00: 40 mL of 500 mcg/mL at 100 mcg/day
  uses 0.2 mL a day, so 38 mL last 190 days: alarm 2027-03-10. Alarm minus 7 days is 2027-03-03,
  but the refill plus 180 days, 2027-02-28, is earlier; a Sunday, so due Friday 2027-02-26.
- Omar Reyes, MRN 4711 (a number cell), referred 05/03/2019 (5 March 2019, day first), pump S-2
  implanted 2019-06-03, replaced by S-3 on 2025-06-02. Refill 2026-10-05 (no time: noon) of
  20 mL at 1000 mcg/mL, 200 mcg/day (0.2 mL a day); from 2026-11-04 noon 400 mcg/day (0.4 mL a
  day). By then about 6 mL are used, 14 mL remain, 12 mL above the alarm volume: 30 days more,
  alarm 2026-12-04; due 7 days before, Friday 2026-11-27.
- Pia Sato, MRN 000303, referred 2026-10-01 written as the Excel date number 46296, evaluating
  from 2026-10-15, a clinic review booked for 2027-01-11.

Program report 2018..2026: referrals 1 in 2018, 1 in 2019, 1 in 2026; implants 2 in 2019
(S-1, S-2); replacements 1 in 2025 (S-3); refills in 2026: 2, both first fills of their pump.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

from registry.imports import specs

D = dt.date


def header(sheet: specs.Sheet) -> list[str]:
    return [c.label for c in sheet.columns]


def row(sheet: specs.Sheet, **values) -> list:
    """A row in the sheet's column order, from values given by field."""
    unknown = set(values) - {c.field for c in sheet.columns}
    assert not unknown, unknown
    return [values.get(c.field) for c in sheet.columns]


def clean_sheets() -> dict[str, list[list]]:
    P, S, IN, PU, R, DC, F, G, GR = specs.SHEETS  # noqa: N806 - the sheets, in the file's order
    return {
        P.name: [
            header(P),
            row(
                P,
                mrn="000101",
                given_name="  Nora ",
                family_name="Quinn ",
                date_of_birth=D(2010, 5, 4),
                sex="Female",
                referred_on="2018-03-05",
            ),
            row(
                P,
                mrn=4711,
                given_name="Omar",
                family_name="Reyes",
                date_of_birth="17/08/2001",
                sex="male",
                referred_on="05/03/2019",
                contact_email="reyes@example.org",
                consent_email="yes",
            ),
            row(P, mrn="000303", given_name="Pia", family_name="Sato", date_of_birth=D(2015, 2, 2), referred_on=46296),
        ],
        S.name: [
            header(S),
            row(S, mrn="000101", on=D(2019, 1, 7), to_status="Implanted"),
            row(S, mrn="000303", on="2026-10-15", to_status="evaluating", reason="First clinic"),
        ],
        IN.name: [
            header(IN),
            row(IN, mrn="000101", diagnosis="Cerebral palsy", gmfcs_level=4, is_primary="Yes"),
            row(IN, mrn="4711", diagnosis="spinal_cord_injury"),
        ],
        PU.name: [
            header(PU),
            row(
                PU,
                mrn="000101",
                serial_number="S-1",
                implant_date=D(2019, 1, 7),
                reservoir_volume_ml=40,
                alarm_volume_ml=2,
            ),
            row(
                PU,
                mrn="4711",
                serial_number="S-2",
                implant_date="2019-06-03",
                reservoir_volume_ml=20,
                alarm_volume_ml=2,
            ),
            row(
                PU,
                mrn="4711",
                serial_number="S-3",
                implant_date="2025-06-02",
                reservoir_volume_ml=20,
                alarm_volume_ml=2,
                replaces_serial="S-2",
            ),
        ],
        R.name: [
            header(R),
            row(
                R,
                mrn="000101",
                pump_serial="S-1",
                performed_on=D(2026, 9, 1),
                performed_time="10:00",
                volume_after_ml=40,
                concentration_mcg_per_ml=500,
                daily_dose_mcg=100,
            ),
            row(
                R,
                mrn="4711",
                pump_serial="S-3",
                performed_on="2026-10-05",
                volume_after_ml=20,
                concentration_mcg_per_ml=1000,
                daily_dose_mcg=200,
            ),
        ],
        DC.name: [
            header(DC),
            row(DC, mrn="4711", pump_serial="S-3", effective_on="04/11/2026", daily_dose_mcg=400),
        ],
        F.name: [
            header(F),
            row(F, mrn="000303", kind="Clinic review", due_date="2027-01-11"),
            row(F, mrn="000101", kind="post_op", due_date="2019-01-21", status="Completed", completed_on="2019-01-22"),
        ],
        G.name: [
            header(G),
            row(G, mrn="000101", ref="G1", category="Comfort", description="Sleeps through", set_on="2018-06-01"),
        ],
        GR.name: [
            header(GR),
            row(GR, mrn="000101", ref="G1", reviewed_on="2019-06-03", score=1),
        ],
    }


# Each error: the change to the clean file, then what the report must say (sheet, row, column,
# value, a piece of the message).
def broken_sheets() -> tuple[dict[str, list[list]], list[tuple]]:
    sheets = clean_sheets()
    P, S, IN, PU, R, DC, F, G, GR = specs.SHEETS  # noqa: N806
    sheets[P.name][0].append("Colour")  # an unknown column
    sheets[P.name] += [
        row(P, mrn="000505", given_name="", family_name="Ueda", date_of_birth=D(2012, 1, 1), referred_on="2020-01-01"),
        row(
            P, mrn="000606", given_name="Vera", family_name="Voss", date_of_birth="12/31/2012", referred_on="2021-01-01"
        ),
        row(P, mrn="000707", given_name="Wim", family_name="Wolf", date_of_birth="05/03/12", referred_on="2021-01-01"),
        row(P, mrn="000808", given_name="Xia", family_name="Xu", date_of_birth=D(2012, 1, 1), referred_on="soon"),
        row(P, mrn="000909", given_name="Yan", family_name="Yu", date_of_birth=D(2999, 1, 1), referred_on="2021-01-01"),
        row(
            P,
            mrn="000101",
            given_name="Nora",
            family_name="Again",
            date_of_birth=D(2010, 5, 4),
            referred_on="2018-03-05",
        ),
        row(P, mrn="001010", given_name="Zoe", family_name="Zane", date_of_birth=D(2012, 1, 1), referred_on=-5),
    ]
    sheets[IN.name].append(row(IN, mrn="000303", diagnosis="Spasticity"))
    sheets[S.name].append(row(S, mrn="000303", on="2026-10-20", to_status="Active"))
    sheets[PU.name].append(
        row(PU, mrn="000303", serial_number="S-9", implant_date="2026-10-20", reservoir_volume_ml="forty")
    )
    sheets[R.name] += [
        row(
            R,
            mrn="000101",
            pump_serial="S-1",
            performed_on="2026-06-01",
            volume_after_ml=45,
            concentration_mcg_per_ml=500,
            daily_dose_mcg=100,
        ),
        row(
            R,
            mrn="000101",
            pump_serial="S-1",
            performed_on="2026-07-01",
            volume_after_ml=40,
            concentration_mcg_per_ml=2500,
            daily_dose_mcg=100,
        ),
        row(
            R,
            mrn="000101",
            pump_serial="S-1",
            performed_on="2018-12-01",
            volume_after_ml=40,
            concentration_mcg_per_ml=500,
            daily_dose_mcg=100,
        ),
        row(
            R,
            mrn="000101",
            pump_serial="S-7",
            performed_on="2026-08-01",
            volume_after_ml=40,
            concentration_mcg_per_ml=500,
            daily_dose_mcg=100,
        ),
    ]
    sheets[F.name].append(row(F, mrn="999999", kind="Clinic review", due_date="2027-01-11"))
    sheets[GR.name].append(row(GR, mrn="000101", ref="G7", reviewed_on="2019-06-03", score=0))
    sheets["Notes"] = [["Anything"], ["free text"]]
    expected = [
        ("Notes", None, "", "", "not one the import reads"),
        (P.name, 1, "Colour", "", "not one of the sheet's columns"),
        (P.name, 5, "Given name", "", "must be filled in"),
        (P.name, 6, "Date of birth", "12/31/2012", "reads only month first"),
        (P.name, 7, "Date of birth", "05/03/12", "two-digit year"),
        (P.name, 8, "Referred on", "soon", "is not a date"),
        (P.name, 9, "Date of birth", "2999-01-01", "cannot be in the future"),
        (P.name, 10, "MRN", "000101", "already on row 2 of the Patients sheet"),
        (P.name, 11, "Referred on", "-5", "out of range"),
        (IN.name, 4, "Diagnosis", "Spasticity", "not a known diagnosis"),
        (S.name, 4, "New status", "Active", "not a known new status"),
        (PU.name, 5, "Reservoir (mL)", "forty", "not a number"),
        (R.name, 4, "Volume after (mL)", "45", "holds at most 40"),
        (R.name, 5, "Concentration (mcg/mL)", "2500", "unusual: check it and confirm"),
        (R.name, 6, "Date", "2018-12-01", "before the pump's implant date"),
        (R.name, 7, "Pump serial", "S-7", "no pump with this serial"),
        (F.name, 4, "MRN", "999999", "no patient with this MRN"),
        (GR.name, 3, "Goal reference", "G7", "no goal with this reference"),
    ]
    return sheets, expected


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        ws = workbook.create_sheet(name)
        for values in rows:
            ws.append(values)
    workbook.save(path)
    return path
