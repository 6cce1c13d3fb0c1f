"""De-identified research exports: one row per patient, and one per pump-year, k-anonymous."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field

from django.db.models import (
    Count,
    F,
    FilteredRelation,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import Window
from django.db.models.functions import ExtractYear, RowNumber

from registry.models import (
    Complication,
    Patient,
    Pump,
    Refill,
    Site,
    SiteStay,
)
from reporting import anonymity
from reporting.reports.census import indications_at
from reporting.reports.outcomes import _goal_sums_sql
from reporting.reports.scope import (
    DAYS_PER_YEAR,
    NOT_RECORDED,
    Scope,
    _days,
    _death_date,
    _happened_at,
    _in_sites,
    _local_date,
    _pump_days_by,
    _rows,
    _status_at,
    age_in_years,
    gas_t_score_from_sums,
)
from reporting.reports.tables import to_csv

PATIENT_EXPORT_COLUMNS = [
    "study_id",
    "site",
    "sex",
    "age_band",
    "primary_indication",
    "gmfcs_level",
    "status",
    "first_implant_period",
    "pumps",
    "pump_years",
    "refills",
    "refills_on_time",
    "refills_late",
    "refills_after_alarm",
    "complications",
    "infections",
    "goals_reviewed",
    "gas_t_score",
]
PUMP_YEAR_COLUMNS = ["study_id", "pump", "year", "days_implanted", "refills", "complications"]
DATA_DICTIONARY = {
    "study_id": "Random research identifier of the patient (Patient.study_id): stable across exports, "
    "derived from nothing about the person.",
    "site": "Site where the patient was cared for on the period's last day. Quasi-identifier.",
    "sex": "female, male, other or unknown. Quasi-identifier.",
    "age_band": "Age in whole years on the period's last day (on the date of death for a patient who "
    "died: ages stop at death), in 5-year bands (20-year bands when needed for k), 80+ top-coded. "
    "Quasi-identifier.",
    "primary_indication": "Diagnosis of the primary indication in force on the period's last day; "
    "not_recorded without one. Quasi-identifier.",
    "gmfcs_level": "GMFCS level (1-5) of that indication; empty when not recorded. Quasi-identifier.",
    "status": "Program status on the period's last day. Quasi-identifier.",
    "first_implant_period": "5-year period of the patient's first pump implant; empty if never implanted. "
    "Quasi-identifier.",
    "pumps": "Pumps implanted by the period's end.",
    "pump_years": "Pump-years in the period at the sites exported (days implanted / 365.25).",
    "refills": "Refills done in the period at the sites exported.",
    "refills_on_time": "Of those, closing a cycle on time.",
    "refills_late": "Of those, after the due date.",
    "refills_after_alarm": "Of those, after the alarm date.",
    "complications": "Complications dated in the period at the sites exported.",
    "infections": "Of those, infections.",
    "goals_reviewed": "Goals with a review in the period (each goal's latest review).",
    "gas_t_score": "GAS T-score over those goals (50 + 10·Σwx / sqrt(0.7·Σw² + 0.3·(Σw)²)); a value "
    "from a single goal is only a rescaled score: read it with goals_reviewed.",
    "pump": "The pump's ordinal in the patient's history (1 = first implant).",
    "year": "Calendar year.",
    "days_implanted": "Days of that year, inside the period, with the pump in place.",
}
ANONYMITY_COLUMNS = {"age_band", "first_implant_period"}


@dataclass
class ResearchExport:
    """A de-identified export with what a reader must know about it: k, suppression, dictionary."""

    kind: str
    header: list[str]
    rows: list[list]
    start: dt.date
    end: dt.date
    sites: list[str]
    k_requested: int
    k_achieved: int | None
    suppressed: int
    generalised: dict[str, int]
    # The registry's ids of the patients in the file, for the access log; never written into it.
    patient_ids: list[int] = field(default_factory=list)

    def dictionary_rows(self) -> list[list[str]]:
        return [[c, DATA_DICTIONARY[c]] for c in self.header]

    def readme(self) -> str:
        generalised = ", ".join(f"{c}: {n}" for c, n in sorted(self.generalised.items())) or "none"
        lines = [
            f"ITB registry research export: {self.kind}",
            f"Period: {self.start} to {self.end}",
            f"Sites: {', '.join(self.sites) or 'none'}",
            f"Rows: {len(self.rows)}",
            f"k requested: {self.k_requested}",
            f"k achieved: {self.k_achieved if self.k_achieved is not None else 'no row released'}",
            f"Patients suppressed (left out): {self.suppressed}",
            f"Values generalised or withheld, by column: {generalised}",
            f"Quasi-identifiers: {', '.join(anonymity.QUASI_IDENTIFIERS)}",
            "",
            "Every combination of the quasi-identifiers in the patients file is shared by at least k",
            "patients. A withheld value is '*'. The pump-year file leaves out the suppressed patients.",
            "Columns are described in data_dictionary.csv; definitions in the registry's docs/reporting.md.",
        ]
        return "\n".join(lines) + "\n"

    def bundle(self) -> bytes:
        """A zip of the rows, the data dictionary and a README stating the k achieved."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{self.kind}.csv", to_csv(self.header, self.rows))
            z.writestr("data_dictionary.csv", to_csv(["column", "description"], self.dictionary_rows()))
            z.writestr("README.txt", self.readme())
        return out.getvalue()


def _patient_rows(scope: Scope, start: dt.date, end: dt.date) -> list[dict]:
    """One dict per patient registered by ``end`` and at a site in scope on ``end``."""
    refills = {
        r["pump__patient_id"]: r
        for r in Refill.objects.filter(_in_sites(scope, "site_id"))
        .annotate(local_date=_local_date("performed_at", "site_id", scope))
        .filter(local_date__gte=start, local_date__lte=end)
        .values("pump__patient_id")
        .annotate(
            n=Count("id"),
            on_time=Count("id", filter=Q(timeliness=Refill.Timeliness.ON_TIME)),
            late=Count("id", filter=Q(timeliness=Refill.Timeliness.LATE)),
            after_alarm=Count("id", filter=Q(timeliness=Refill.Timeliness.AFTER_ALARM)),
        )
        .order_by()
    }
    complications = {
        r["patient_id"]: r
        for r in Complication.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
        .filter(_happened_at(scope, "patient_id", "occurred_on"))
        .values("patient_id")
        .annotate(n=Count("id"), infections=Count("id", filter=Q(kind=Complication.Kind.INFECTION)))
        .order_by()
    }
    pumps = _pump_summaries(scope, start, end)
    head, params = _goal_sums_sql(scope, start, end)
    sums = _rows(head + " SELECT patient, swx, sw2, sw, n FROM sums", params)  # noqa: S608
    goals = {patient: (gas_t_score_from_sums(swx, sw2, sw), n) for patient, swx, sw2, sw, n in sums}
    edited = indications_at(scope, end)
    site_at_end = Subquery(
        SiteStay.objects.filter(patient_id=OuterRef("pk"))
        .filter(Q(started_on__isnull=True) | Q(started_on__lte=end), Q(ended_on__isnull=True) | Q(ended_on__gt=end))
        .values("site__name")[:1]
    )
    patients = (
        Patient.objects.filter(_happened_at(scope, "pk", end), study_id__isnull=False)
        .annotate(
            status_at_end=_status_at(end),
            died=_death_date("pk"),
            site_at_end=site_at_end,
            primary_indication=FilteredRelation("indications", condition=Q(indications__is_primary=True)),
        )
        .filter(status_at_end__isnull=False)
        .values_list(
            "pk",
            "study_id",
            "site_at_end",
            "sex",
            "date_of_birth",
            "died",
            "primary_indication__diagnosis",
            "primary_indication__gmfcs_level",
            "status_at_end",
        )
        .order_by("study_id")
    )
    rows = []
    for pk, study_id, site, sex, born, died, dx, gmfcs, status in patients:
        if pk in edited:
            dx, gmfcs = edited[pk]
        r, c, p = refills.get(pk, {}), complications.get(pk, {}), pumps.get(pk, {})
        t_score, reviewed = goals.get(pk, (None, 0))
        rows.append(
            {
                "patient_id": pk,
                "study_id": study_id,
                "site": site,
                "sex": sex,
                "age_band": anonymity.age_band(age_in_years(born, min(end, died or end))),
                "primary_indication": dx or NOT_RECORDED,
                "gmfcs_level": str(gmfcs) if gmfcs else "",
                "status": status,
                "first_implant_period": anonymity.implant_period(p.get("first_year")),
                "pumps": p.get("n", 0),
                "pump_years": p.get("pump_years", 0.0),
                "refills": r.get("n", 0),
                "refills_on_time": r.get("on_time", 0),
                "refills_late": r.get("late", 0),
                "refills_after_alarm": r.get("after_alarm", 0),
                "complications": c.get("n", 0),
                "infections": c.get("infections", 0),
                "goals_reviewed": reviewed,
                "gas_t_score": round(t_score, 2) if t_score is not None else "",
            }
        )
    return rows


def patient_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date, k: int = 5) -> ResearchExport:
    """One row per patient registered by ``end``, k-anonymous: no name, MRN, contact or date of birth.

    The study id is the random ``Patient.study_id`` (stable across exports, unrelated to the MRN).
    Quasi-identifiers are generalised and rare combinations suppressed (``reporting.anonymity``)
    until every combination is shared by at least ``k`` patients; the k achieved, the rows left
    out and the values generalised come with the file. Ages stop at death. Rows are ordered by
    study id, never by name. Counts cover the period, as in ``summary``.
    """
    scope = Scope.of(sites)
    result = anonymity.k_anonymise(_patient_rows(scope, start, end), k)
    rows = [[r[c] for c in PATIENT_EXPORT_COLUMNS] for r in result.rows]
    return ResearchExport(
        "patients",
        PATIENT_EXPORT_COLUMNS,
        rows,
        start,
        end,
        list(scope.names.values()),
        k,
        result.k_achieved,
        result.suppressed,
        result.generalised,
        [r["patient_id"] for r in result.rows],
    )


def _pump_summaries(scope: Scope, start: dt.date, end: dt.date) -> dict[int, dict]:
    """Per patient: pumps implanted by ``end``, the first implant year, pump-years in the period."""
    counts = {
        r["patient_id"]: r
        for r in Pump.objects.filter(implant_date__lte=end)
        .values("patient_id")
        .annotate(n=Count("id"), first_year=ExtractYear(Min("implant_date")))
        .order_by()
    }
    days = _pump_days_by(scope, start, end, "patient")
    for patient, d in days:
        if patient in counts:
            counts[patient]["pump_years"] = round(max(_days(d), 0) / DAYS_PER_YEAR, 3)
    return counts


def pump_year_export(*, sites: QuerySet[Site] | None, start: dt.date, end: dt.date, k: int = 5) -> ResearchExport:
    """One row per pump and calendar year of the period in which it was implanted for a day or more.

    ``pump`` is the pump's ordinal in the patient's history (1 = first implant), counted over all
    their pumps. Refills are counted by the local year of the site where each was done,
    complications by the pump they were recorded against (complications without a pump appear
    only in the patient export). Patients suppressed from the k-anonymous patient export of the
    same period and sites are left out here too.
    """
    patients = patient_export(sites=sites, start=start, end=end, k=k)
    released = {r[0]: pk for r, pk in zip(patients.rows, patients.patient_ids, strict=True)}
    scope = Scope.of(sites)
    ordinal = Window(RowNumber(), partition_by=[F("patient_id")], order_by=[F("implant_date").asc(), F("id").asc()])
    pumps = (
        Pump.objects.filter(implant_date__lte=end, patient__study_id__isnull=False)
        .annotate(ordinal=ordinal, death=_death_date())
        .values_list("pk", "patient__study_id", "ordinal", "implant_date", "explant_date", "death")
    )
    local = _local_date("performed_at", "site_id", scope)
    refills = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Refill.objects.filter(_in_sites(scope, "site_id"))
        .annotate(local_date=local)
        .filter(local_date__gte=start, local_date__lte=end)
        .annotate(year=ExtractYear("local_date"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    complications = {
        (r["pump_id"], r["year"]): r["n"]
        for r in Complication.objects.filter(pump__isnull=False, occurred_on__gte=start, occurred_on__lte=end)
        .annotate(year=ExtractYear("occurred_on"))
        .values("pump_id", "year")
        .annotate(n=Count("id"))
        .order_by()
    }
    rows = []
    for pk, study_id, number, implanted, explanted, died in pumps:
        if study_id not in released:
            continue
        for year in range(start.year, end.year + 1):
            first = max(implanted, start, dt.date(year, 1, 1))
            stop = min(
                explanted or dt.date.max, died or dt.date.max, end + dt.timedelta(days=1), dt.date(year + 1, 1, 1)
            )
            days = (stop - first).days
            if days <= 0:
                continue
            rows.append([study_id, number, year, days, refills.get((pk, year), 0), complications.get((pk, year), 0)])
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return ResearchExport(
        "pump-years",
        PUMP_YEAR_COLUMNS,
        rows,
        start,
        end,
        patients.sites,
        k,
        patients.k_achieved,
        patients.suppressed,
        patients.generalised,
        list(dict.fromkeys(released[r[0]] for r in rows)),
    )
