"""Reads of patients: search, one patient's page, the reservoir chart and the timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from registry import scheduling
from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    RefillAppointment,
    Reminder,
    ScreeningTrial,
    StatusChange,
)
from registry.selectors.rules import with_refill_status


def search_patients(
    patients: QuerySet[Patient], *, query: str = "", status: str = "", diagnosis: str = ""
) -> QuerySet[Patient]:
    """Patients matching every word of ``query`` (name or MRN), a status and a diagnosis."""
    qs = patients
    for word in query.replace(",", " ").split():
        qs = qs.filter(Q(given_name__icontains=word) | Q(family_name__icontains=word) | Q(mrn__icontains=word))
    if status:
        qs = qs.filter(status=status)
    if diagnosis:
        qs = qs.filter(pk__in=Patient.objects.filter(indications__diagnosis=diagnosis).values("pk"))
    primary = Prefetch(
        "indications", queryset=Indication.objects.filter(is_primary=True), to_attr="primary_indications"
    )
    return with_refill_status(qs.select_related("site", "primary_clinician").prefetch_related(primary)).order_by(
        "family_name", "given_name", "id"
    )


def patient_detail(patients: QuerySet[Patient], pk: int) -> Patient:
    """One patient (from a queryset already scoped to the user) with the records its page shows."""
    return (
        patients.select_related("site", "primary_clinician")
        .prefetch_related(
            Prefetch("pumps", queryset=Pump.objects.order_by("implant_date", "id")),
            "indications",
            Prefetch("follow_ups", queryset=FollowUp.objects.order_by("due_date", "id")),
            Prefetch("goals__reviews", queryset=GoalReview.objects.order_by("reviewed_on", "id")),
            Prefetch(
                "refill_appointments",
                queryset=RefillAppointment.objects.filter(status=RefillAppointment.Status.BOOKED).select_related("site"),
                to_attr="open_refill_visits",
            ),
        )
        .get(pk=pk)
    )


@dataclass(frozen=True)
class ReservoirCurve:
    """The projected reservoir of the current refill cycle, for the patient page's chart."""

    points: list[tuple[dt.datetime, Decimal]]
    reservoir_ml: Decimal
    alarm_ml: Decimal
    refill: Refill


def patient_reservoir_curve(patient: Patient) -> ReservoirCurve | None:
    """The curve from the active pump's latest refill through its later dose changes, or None."""
    pump = patient.active_pump
    if pump is None:
        return None
    refill = Refill.objects.filter(pump=pump).order_by("-performed_at").first()
    if refill is None:
        return None
    changes = DoseChange.objects.filter(pump=pump, effective_at__gt=refill.performed_at).order_by("effective_at")
    fill = scheduling.FillState(
        refill.performed_at, refill.volume_after_ml, refill.concentration_mcg_per_ml, refill.daily_dose_mcg
    )
    steps = [scheduling.DoseStep(c.effective_at, c.daily_dose_mcg) for c in changes]
    return ReservoirCurve(
        scheduling.reservoir_curve(fill, steps), pump.reservoir_volume_ml, pump.alarm_volume_ml, refill
    )


@dataclass(frozen=True)
class TimelineEvent:
    on: dt.date
    at: dt.datetime | None
    kind: str
    title: str
    detail: str = ""


def patient_timeline(patient: Patient) -> list[TimelineEvent]:
    """Everything that happened to ``patient``, newest first, in a fixed number of queries."""
    zone = patient.site.zone
    events: list[TimelineEvent] = []

    def instant(kind: str, at: dt.datetime, title: str, detail: str = "") -> None:
        events.append(TimelineEvent(at.astimezone(zone).date(), at.astimezone(zone), kind, title, detail))

    for c in StatusChange.objects.filter(patient=patient).select_related("changed_by"):
        old = _status_label(c.from_status) if c.from_status else "—"
        title = f"Status: {old} → {_status_label(c.to_status)}"
        events.append(TimelineEvent(c.changed_on, None, "status", title, c.reason))
    for t in ScreeningTrial.objects.filter(patient=patient):
        detail = f"{t.get_route_display()}, {t.test_dose_mcg} mcg"
        if t.ashworth_before or t.ashworth_after:
            detail += f"; Ashworth {t.ashworth_before or '?'} → {t.ashworth_after or '?'}"
        events.append(
            TimelineEvent(t.performed_on, None, "trial", f"Screening trial: {t.get_response_display()}", detail)
        )
    for p in Pump.objects.filter(patient=patient):
        title = "Pump replaced" if p.replaces_id else "Pump implanted"
        detail = f"{p.manufacturer} {p.model} {p.serial_number}, {p.reservoir_volume_ml} mL".replace("  ", " ")
        events.append(TimelineEvent(p.implant_date, None, "pump", title, detail))
        if p.explant_date:
            events.append(TimelineEvent(p.explant_date, None, "pump", "Pump explanted", p.explant_reason))
    for r in Refill.objects.filter(pump__patient=patient).select_related("performed_by"):
        detail = f"{r.volume_after_ml} mL at {r.concentration_mcg_per_ml} mcg/mL, {r.daily_dose_mcg} mcg/day"
        if r.timeliness:
            detail += f"; {r.get_timeliness_display().lower()}"
        if r.residual_discrepancy:
            detail += f"; residual discrepancy (removed {r.volume_removed_ml} mL, expected {r.expected_residual_ml} mL)"
        instant("refill", r.performed_at, "Refill", detail)
    for d in DoseChange.objects.filter(pump__patient=patient):
        instant("dose", d.effective_at, f"Dose change to {d.daily_dose_mcg} mcg/day", d.notes)
    for f in FollowUp.objects.filter(patient=patient):
        events.append(
            TimelineEvent(
                f.completed_on or f.due_date,
                None,
                "follow_up",
                f"{f.get_kind_display()}: {f.get_status_display().lower()}",
                f.outcome_notes,
            )
        )
    for g in patient.goals.all():
        events.append(TimelineEvent(g.set_on, None, "goal", f"Goal set: {g.get_category_display()}", g.description))
        for review in g.reviews.all():
            events.append(
                TimelineEvent(
                    review.reviewed_on,
                    None,
                    "goal_review",
                    f"Goal review: GAS {review.score:+d}",
                    f"{g.get_category_display()}. {review.notes}".strip(),
                )
            )
    for c in Complication.objects.filter(patient=patient):
        detail = f"{c.get_severity_display()}" + ("; needed surgery" if c.needed_surgery else "")
        if c.resolved_on:
            detail += f"; resolved {c.resolved_on:%d %b %Y}"
        events.append(
            TimelineEvent(c.occurred_on, None, "complication", f"Complication: {c.get_kind_display()}", detail)
        )
    for m in Reminder.objects.filter(patient=patient).order_by("-created_at")[:100]:
        instant(
            "reminder",
            m.created_at,
            f"Reminder: {m.get_kind_display()}",
            f"for {m.due_date:%d %b %Y}, {m.get_channel_display().lower()} — {m.get_status_display().lower()}",
        )
    midnight = dt.time(0, 0)
    events.sort(key=lambda e: (e.on, (e.at.time() if e.at else midnight), e.kind), reverse=True)
    return events


def _status_label(value: str) -> str:
    return PatientStatus(value).label if value in PatientStatus.values else value

