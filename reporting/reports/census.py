"""The census, the indications and the year-by-year activity of the program."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import (
    Count,
    Q,
)
from django.db.models.functions import ExtractYear

from registry.models import (
    Indication,
    PatientStatus,
    Pump,
    ScreeningTrial,
    StatusChange,
)
from reporting.reports.scope import (
    ACTIVE_STATUSES,
    NOT_RECORDED,
    Scope,
    _happened_at,
    _happened_at_sql,
    _rate,
    _rows,
)


def indications_at(scope: Scope, end: dt.date) -> dict[int, tuple[str, int | None]]:
    """**Indication in force** at the end of the period (census and research export).

    The census and the export read each patient's primary indication (diagnosis and GMFCS level)
    as it stood at the end of the period's last day (UTC), from the indication's audit history:
    an indication changed, made primary or removed later still counts as it was then. An
    indication first recorded after the period counts as first recorded (records are often
    entered after the fact). Returns only the patients whose indications were recorded or changed
    after the period, as {patient id: (diagnosis or "", GMFCS level)}; everyone else's current
    primary indication is the one in force.
    """
    History = Indication.history.model
    cutoff = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    touched = History.objects.filter(history_date__gte=cutoff).values("patient_id")
    rows = (
        History.objects.filter(patient_id__in=touched)
        .filter(_happened_at(scope, "patient_id", end))
        .values_list("id", "patient_id", "diagnosis", "gmfcs_level", "is_primary", "history_type", "history_date")
        .order_by("id", "history_date", "history_id")
    )
    versions: dict[int, tuple] = {}
    patients: set[int] = set()
    for pk, patient, diagnosis, gmfcs, primary, kind, when in rows:
        patients.add(patient)
        if pk not in versions or when < cutoff:
            versions[pk] = (patient, diagnosis, gmfcs, primary, kind)
    found = {p: ("", None) for p in patients}
    for patient, diagnosis, gmfcs, primary, kind in versions.values():
        if primary and kind != "-":
            found[patient] = (diagnosis, gmfcs)
    return found


def _statuses_at(scope: Scope, end: dt.date, patients: list[int] | None = None) -> list[tuple]:
    """Each patient's status at the end of ``end`` with their current primary indication.

    Grouped as (status, diagnosis, GMFCS level, patients); for ``patients`` one row per patient,
    (patient id, status, diagnosis, GMFCS level). A patient's status then is that of their one
    status change dated by ``end`` and not superseded by then (the stored date of the next one,
    kept by triggers): the current ones read from their partial index, the few superseded since
    from the index on that date. The primary indication is the copy on each status change (kept
    by triggers), so the indications are not joined.
    """
    in_scope, params = _happened_at_sql(scope, "sc.patient_id", "%(end)s")
    params["end"] = end
    if patients is None:
        columns, group = "sc.to_status, sc.primary_diagnosis, sc.primary_gmfcs_level, COUNT(*)", "GROUP BY 1, 2, 3"
        chosen = "1 = 1"
    else:
        columns, group = "sc.patient_id, sc.to_status, sc.primary_diagnosis, sc.primary_gmfcs_level", ""
        params.update({f"patient_{i}": pk for i, pk in enumerate(patients)})
        chosen = f"sc.patient_id IN ({', '.join(f'%(patient_{i})s' for i in range(len(patients)))})"
    copied = "patient_id, to_status, primary_diagnosis, primary_gmfcs_level"
    sql = f"""
        SELECT {columns}
          FROM (SELECT {copied} FROM registry_statuschange
                 WHERE superseded_on IS NULL AND changed_on <= %(end)s
                UNION ALL
                SELECT {copied} FROM registry_statuschange
                 WHERE superseded_on > %(end)s AND changed_on <= %(end)s) sc
         WHERE {in_scope} AND {chosen}
         {group}
    """  # noqa: S608 (only the code's own SQL is interpolated)
    return _rows(sql, params)


def _census(scope: Scope, end: dt.date) -> dict:
    """**Census** (as of ``end``).

    Patients registered by ``end`` (a status-history row dated on or before it) whose stay on
    ``end`` is at a site in scope. Status is the ``to_status`` of the latest ``StatusChange`` dated
    on or before ``end`` (the later id wins a same-day tie). Indication and GMFCS level are those
    of the primary indication in force at the end ("not_recorded" without one), each also counted
    among the implanted. **Active** patients are those in the care pathway on ``end``: referred,
    evaluating, screening, candidate or implanted (explanted, not a candidate, discontinued,
    transferred and deceased patients are not); **with a pump** are the implanted.
    """
    counts: Counter = Counter()
    for status, dx, gmfcs, n in _statuses_at(scope, end):
        counts[(status, dx or "", gmfcs)] += n
    edited = indications_at(scope, end)
    # No id is -1: the query runs (and is counted) whether or not anyone was edited.
    for pk, status, dx, gmfcs in _statuses_at(scope, end, patients=list(edited) or [-1]):
        counts[(status, dx or "", gmfcs)] -= 1
        counts[(status, *edited[pk])] += 1
    by_status = dict.fromkeys(PatientStatus.values, 0)
    by_indication: dict[str, dict] = {}
    by_gmfcs: dict[str, dict] = {}
    for (status, dx, gmfcs), n in counts.items():
        if not n:
            continue
        by_status[status] += n
        implanted = n if status == PatientStatus.IMPLANTED else 0
        level = str(gmfcs) if gmfcs else NOT_RECORDED
        for table, key in ((by_indication, dx or NOT_RECORDED), (by_gmfcs, level)):
            row = table.setdefault(key, {"patients": 0, "implanted": 0})
            row["patients"] += n
            row["implanted"] += implanted
    dx_order = [*Indication.Diagnosis.values, NOT_RECORDED]
    gmfcs_order = ["1", "2", "3", "4", "5", NOT_RECORDED]
    return {
        "as_of": end.isoformat(),
        "patients": sum(by_status.values()),
        "active": sum(by_status[s] for s in ACTIVE_STATUSES),
        "with_pump": by_status[PatientStatus.IMPLANTED],
        "by_status": by_status,
        "by_indication": [{"indication": k, **by_indication[k]} for k in dx_order if k in by_indication],
        "by_gmfcs": [{"gmfcs_level": k, **by_gmfcs[k]} for k in gmfcs_order if k in by_gmfcs],
    }


def _activity(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Referrals, trials, implants, replacements and explants**, by calendar year.

    Each is counted at the site where the patient's stay held its date. **Referrals**:
    registrations (first history row) plus re-referrals (a change to "referred"), dated in the
    period. **Trials**: screening trials performed in the period; the positive rate is per
    *patient*: patients with at least one positive trial / patients trialled (a 50 mcg dose that
    failed before a 100 mcg dose worked is one positive patient). **Implants**: pumps implanted in
    the period that replace no pump (first implants and re-implants). **Replacements**: pumps
    implanted in the period that replace one. **Explants**: pumps explanted in the period with no
    successor (a replaced pump's explant is the replacement).
    """
    years = {
        y: {
            "year": y,
            "referrals": 0,
            "trials": 0,
            "patients_trialled": 0,
            "patients_positive": 0,
            "positive_rate": None,
            "implants": 0,
            "replacements": 0,
            "explants": 0,
        }
        for y in range(start.year, end.year + 1)
    }
    referrals = (
        StatusChange.objects.filter(changed_on__gte=start, changed_on__lte=end)
        .filter(Q(from_status="") | Q(to_status=PatientStatus.REFERRED))
        .filter(_happened_at(scope, "patient_id", "changed_on"))
        .annotate(year=ExtractYear("changed_on"))
        .values("year")
        .annotate(n=Count("*"))  # COUNT(*), not of the id: the id is not in the covering index
        .order_by()
    )
    for r in referrals:
        years[r["year"]]["referrals"] = r["n"]
    positive = Q(response=ScreeningTrial.Response.POSITIVE)
    trial_rows = ScreeningTrial.objects.filter(performed_on__gte=start, performed_on__lte=end).filter(
        _happened_at(scope, "patient_id", "performed_on")
    )
    trials = (
        trial_rows.annotate(year=ExtractYear("performed_on"))
        .values("year")
        .annotate(
            n=Count("*"),
            patients=Count("patient", distinct=True),
            positive_patients=Count("patient", distinct=True, filter=positive),
        )
        .order_by()
    )
    for r in trials:
        years[r["year"]].update(
            trials=r["n"], patients_trialled=r["patients"], patients_positive=r["positive_patients"]
        )
    implants = (
        Pump.objects.filter(implant_date__gte=start, implant_date__lte=end)
        .filter(_happened_at(scope, "patient_id", "implant_date"))
        .annotate(year=ExtractYear("implant_date"))
        .values("year")
        .annotate(
            new=Count("implant_date", filter=Q(replaces__isnull=True)),
            replaced=Count("implant_date", filter=Q(replaces__isnull=False)),
        )
        .order_by()
    )
    for r in implants:
        years[r["year"]].update(implants=r["new"], replacements=r["replaced"])
    explants = (
        Pump.objects.filter(explant_date__gte=start, explant_date__lte=end, replaced_by__isnull=True)
        .filter(_happened_at(scope, "patient_id", "explant_date"))
        .annotate(year=ExtractYear("explant_date"))
        .values("year")
        .annotate(n=Count("*"))
        .order_by()
    )
    for r in explants:
        years[r["year"]]["explants"] = r["n"]
    rows = list(years.values())
    for row in rows:
        row["positive_rate"] = _rate(row["patients_positive"], row["patients_trialled"])
    keys = ("referrals", "trials", "implants", "replacements", "explants")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    # Patients are counted once over the whole period, not once per year.
    whole = trial_rows.aggregate(
        patients=Count("patient", distinct=True), positive_patients=Count("patient", distinct=True, filter=positive)
    )
    totals.update(
        patients_trialled=whole["patients"],
        patients_positive=whole["positive_patients"],
        positive_rate=_rate(whole["positive_patients"], whole["patients"]),
    )
    return {"by_year": rows, "totals": totals}
