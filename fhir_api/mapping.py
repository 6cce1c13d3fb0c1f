"""Registry records as FHIR R4 resources (plain dicts, ready for JSON).

One function per kind of record; each reads only the instance it is given and the related rows
its reader loaded (``fhir_api.readers``), so a page or an export never queries per record.
Codes and units come from ``fhir_api.codes``; the mapping is documented in docs/fhir.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.conf import settings

from fhir_api import codes
from registry.models import (
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    PatientStatus,
    Pump,
    Refill,
    RefillAppointment,
    ScreeningTrial,
)


def number(value: Decimal) -> int | float:
    """A FHIR decimal: whole numbers without a fraction, others as written."""
    return int(value) if value == value.to_integral_value() else float(value)


def quantity(value: Decimal, unit: str) -> dict:
    return {"value": number(value), "unit": codes.UNIT_TEXT[unit], "system": codes.UCUM, "code": unit}


def ref(resource_type: str, pk) -> dict:
    return {"reference": f"{resource_type}/{pk}"}


def ext(name: str, **value) -> dict:
    return {"url": codes.extension(name), **value}


def when(value: dt.date | dt.datetime) -> str:
    """A FHIR date, or an instant with its offset (UTC written as Z, as FHIR libraries write it)."""
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def note(text: str) -> list[dict]:
    return [{"text": text}] if text else []


def compact(resource: dict) -> dict:
    """FHIR forbids empty elements: drop keys whose value is None, "" or an empty list."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


# --- Patient --------------------------------------------------------------------------------


def patient(p: Patient) -> dict:
    deceased = p.status == PatientStatus.DECEASED
    return compact(
        {
            "resourceType": "Patient",
            "id": str(p.pk),
            "extension": [ext("program-status", valueCode=p.status)],
            "identifier": [
                {
                    "use": "usual",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    "system": codes.mrn_system(p.site_id),
                    "value": p.mrn,
                }
            ],
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "gender": p.sex,
            "birthDate": when(p.date_of_birth),
            "deceasedDateTime": when(p.status_changed_on) if deceased and p.status_changed_on else None,
            "deceasedBoolean": True if deceased and not p.status_changed_on else None,
            "managingOrganization": {"display": p.site.name},
        }
    )


# --- Condition (indications) ----------------------------------------------------------------


def condition(i: Indication) -> dict:
    extensions = [ext("tone-type", valueCode=i.tone_type), ext("primary-indication", valueBoolean=i.is_primary)]
    if i.distribution:
        extensions.append(ext("tone-distribution", valueCode=i.distribution))
    if i.gmfcs_level is not None:
        extensions.append(ext("gmfcs-level", valueInteger=i.gmfcs_level))
    return compact(
        {
            "resourceType": "Condition",
            "id": str(i.pk),
            "extension": extensions,
            "code": {
                "coding": [{"system": codes.ICD10, "code": i.icd10_code}],
                "text": i.get_diagnosis_display(),
            },
            "subject": ref("Patient", i.patient_id),
            "note": note(i.notes),
        }
    )


# --- Device and the procedures on it --------------------------------------------------------


def device(pump: Pump) -> dict:
    properties = [
        {"type": codes.RESERVOIR_VOLUME, "valueQuantity": [quantity(pump.reservoir_volume_ml, codes.ML)]},
        {"type": codes.ALARM_VOLUME, "valueQuantity": [quantity(pump.alarm_volume_ml, codes.ML)]},
    ]
    if pump.catheter_tip_level:
        properties.append({"type": codes.CATHETER_TIP, "valueCode": [{"text": pump.catheter_tip_level}]})
    extensions = [ext("battery-eri-date", valueDate=when(pump.eri_date))] if pump.eri_date else []
    return compact(
        {
            "resourceType": "Device",
            "id": str(pump.pk),
            "extension": extensions,
            "status": "active" if pump.explant_date is None else "inactive",
            "manufacturer": pump.manufacturer,
            "serialNumber": pump.serial_number,
            "deviceName": [{"name": pump.model, "type": "model-name"}],
            "modelNumber": pump.model,
            "type": {"text": "Implanted intrathecal drug infusion pump"},
            "property": properties,
            "patient": ref("Patient", pump.patient_id),
            "note": note(pump.catheter_notes),
        }
    )


def implant_kind(pump: Pump) -> str:
    return "replacement" if pump.replaces_id else "implant"


def implant_procedure(pump: Pump) -> dict:
    """The implant of ``pump``; a replacement when it replaced an earlier pump (removed the same day)."""
    kind = implant_kind(pump)
    focal = [{"action": {"text": "Implanted"}, "manipulated": ref("Device", pump.pk)}]
    if pump.replaces_id:
        focal.append({"action": {"text": "Removed"}, "manipulated": ref("Device", pump.replaces_id)})
    return {
        "resourceType": "Procedure",
        "id": f"{kind}-{pump.pk}",
        "status": "completed",
        "code": codes.procedure_code(kind),
        "subject": ref("Patient", pump.patient_id),
        "performedDateTime": when(pump.implant_date),
        "focalDevice": focal,
    }


def explant_procedure(pump: Pump) -> dict:
    return compact(
        {
            "resourceType": "Procedure",
            "id": f"explant-{pump.pk}",
            "status": "completed",
            "code": codes.procedure_code("explant"),
            "subject": ref("Patient", pump.patient_id),
            "performedDateTime": when(pump.explant_date),
            "reasonCode": [{"text": pump.explant_reason}] if pump.explant_reason else [],
            "focalDevice": [{"action": {"text": "Removed"}, "manipulated": ref("Device", pump.pk)}],
        }
    )


def refill_procedure(r: Refill, patient_id: int) -> dict:
    extensions = [
        ext("volume-removed", valueQuantity=quantity(r.volume_removed_ml, codes.ML)),
        ext("volume-after-refill", valueQuantity=quantity(r.volume_after_ml, codes.ML)),
        ext("concentration", valueQuantity=quantity(r.concentration_mcg_per_ml, codes.UG_PER_ML)),
        ext("daily-dose", valueQuantity=quantity(r.daily_dose_mcg, codes.UG_PER_DAY)),
    ]
    if r.expected_residual_ml is not None:
        extensions.append(ext("expected-residual", valueQuantity=quantity(r.expected_residual_ml, codes.ML)))
    if r.programmer_alarm_date:
        extensions.append(ext("programmer-alarm-date", valueDate=when(r.programmer_alarm_date)))
    return compact(
        {
            "resourceType": "Procedure",
            "id": f"refill-{r.pk}",
            "extension": extensions,
            "status": "completed",
            "code": codes.procedure_code("refill"),
            "subject": ref("Patient", patient_id),
            "performedDateTime": when(r.performed_at),
            "focalDevice": [{"action": {"text": "Refilled"}, "manipulated": ref("Device", r.pump_id)}],
            "note": note(r.notes),
        }
    )


# --- MedicationStatement: the dose periods of one pump --------------------------------------


def medication_statements(pump: Pump, refills: Iterable[Refill], dose_changes: Iterable[DoseChange]) -> Iterator[dict]:
    """One statement per period at one concentration and daily dose.

    A period starts at a refill (new concentration and dose) or a dose change (new dose, the
    last refill's concentration) and ends where the next one starts, or at the explant.
    ``refills`` and ``dose_changes`` are this pump's, each in time order.
    """
    events = sorted(
        [(r.performed_at, 0, r) for r in refills] + [(d.effective_at, 1, d) for d in dose_changes],
        key=lambda e: (e[0], e[1]),
    )
    concentration = None
    for n, (start, _, event) in enumerate(events):
        if isinstance(event, Refill):
            concentration = event.concentration_mcg_per_ml
        end = events[n + 1][0] if n + 1 < len(events) else None
        yield medication_statement(pump, event, start, end, concentration)


def medication_statement(pump: Pump, event, start: dt.datetime, end: dt.datetime | None, concentration) -> dict:
    is_refill = isinstance(event, Refill)
    medication = {
        "resourceType": "Medication",
        "id": "baclofen",
        "code": {"coding": codes.BACLOFEN, "text": "Baclofen"},
    }
    if concentration is not None:
        medication["ingredient"] = [
            {
                "itemCodeableConcept": {"coding": codes.BACLOFEN, "text": "Baclofen"},
                "strength": {
                    "numerator": quantity(concentration, codes.UG),
                    "denominator": quantity(Decimal(1), codes.ML),
                },
            }
        ]
    period = {"start": when(start)}
    if end is not None:
        period["end"] = when(end)
    elif pump.explant_date is not None:
        period["end"] = when(pump.explant_date)
    dose = event.daily_dose_mcg
    return compact(
        {
            "resourceType": "MedicationStatement",
            "id": f"{'refill' if is_refill else 'dose'}-{event.pk}",
            "contained": [medication],
            "status": "active" if "end" not in period else "completed",
            "medicationReference": {"reference": "#baclofen"},
            "subject": ref("Patient", pump.patient_id),
            "effectivePeriod": period,
            "derivedFrom": [ref("Procedure", f"refill-{event.pk}")] if is_refill else [],
            "note": note(event.notes),
            "dosage": [
                {
                    "text": f"{number(dose)} mcg/day intrathecal, continuous infusion by implanted pump",
                    "route": {"coding": codes.INTRATHECAL, "text": "Intrathecal"},
                    "doseAndRate": [{"rateQuantity": quantity(dose, codes.UG_PER_DAY)}],
                }
            ],
            "extension": [ext("pump", valueReference=ref("Device", pump.pk))],
        }
    )


# --- Appointment (follow-up and refill visits) ---------------------------------------------------------


def appointment(f: FollowUp, zone) -> dict:
    """A follow-up visit. Booked with a time: that time; otherwise its day in the site's zone.

    A visit without a booked time that is still to come is only ``proposed`` (requested for its
    due date); visits that happened, were missed or cancelled keep the day they concern.
    """
    status = codes.APPOINTMENT_STATUS.get(f.status, "booked" if f.scheduled_at else "proposed")
    resource = {
        "resourceType": "Appointment",
        "id": str(f.pk),
        "status": status,
        "appointmentType": {"coding": [{"system": codes.local("follow-up-kind"), "code": f.kind}]},
        "description": f.get_kind_display(),
        "requestedPeriod": [{"start": when(f.due_date), "end": when(f.due_date)}],
        "participant": [{"actor": ref("Patient", f.patient_id), "status": "accepted"}],
        "comment": f.outcome_notes,
    }
    if f.scheduled_at is not None:
        resource["start"] = when(f.scheduled_at)
        resource["end"] = when(f.scheduled_at + dt.timedelta(minutes=settings.FHIR_VISIT_MINUTES))
    elif status != "proposed" and status != "cancelled":
        day = f.completed_on or f.due_date
        start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        resource["start"] = when(start)
        resource["end"] = when(start + dt.timedelta(days=1))
    if f.completed_on:
        resource["extension"] = [ext("completed-on", valueDate=when(f.completed_on))]
    return compact(resource)


def refill_visit(v: RefillAppointment, today: dt.date) -> dict:
    """A booked refill visit at its clinic (``today`` is the clinic's date).

    ``booked`` while open and still to come, ``fulfilled`` once the refill is recorded, ``noshow``
    when its day passed without one, ``cancelled``; the id is ``refill-<booking>``, beside the
    follow-up visits' bare numbers.
    """
    status = codes.REFILL_VISIT_STATUS[v.status]
    if v.status == RefillAppointment.Status.BOOKED and v.starts_on < today:
        status = "noshow"
    return compact(
        {
            "resourceType": "Appointment",
            "id": f"refill-{v.pk}",
            "status": status,
            "appointmentType": {"coding": [{"system": codes.local("visit-kind"), "code": "refill"}]},
            "description": "Pump refill",
            "start": when(v.starts_at),
            "end": when(v.starts_at + dt.timedelta(minutes=settings.FHIR_VISIT_MINUTES)),
            "participant": [{"actor": ref("Patient", v.patient_id), "status": "accepted"}],
            "comment": v.cancel_reason or v.note,
        }
    )


# --- Goal and its GAS reviews ---------------------------------------------------------------


def goal(g: Goal, reviews: Iterable[GoalReview]) -> dict:
    extensions = [ext("gas-baseline", valueInteger=g.baseline_score), ext("gas-weight", valueInteger=g.weight)]
    if g.expected_outcome:
        extensions.append(ext("gas-expected-outcome", valueString=g.expected_outcome))
    return compact(
        {
            "resourceType": "Goal",
            "id": str(g.pk),
            "extension": extensions,
            "lifecycleStatus": "active",
            "category": [{"coding": [{"system": codes.local("goal-category"), "code": g.category}]}],
            "description": {"text": g.description},
            "subject": ref("Patient", g.patient_id),
            "startDate": when(g.set_on),
            "target": [{"measure": codes.GAS_SCORE, "detailInteger": codes.GAS_EXPECTED_LEVEL}],
            "outcomeReference": [ref("Observation", f"gas-{r.pk}") for r in reviews],
        }
    )


def gas_observation(r: GoalReview, patient_id: int) -> dict:
    return compact(
        {
            "resourceType": "Observation",
            "id": f"gas-{r.pk}",
            "status": "final",
            "category": [codes.SURVEY],
            "code": codes.GAS_SCORE,
            "subject": ref("Patient", patient_id),
            "focus": [ref("Goal", r.goal_id)],
            "effectiveDateTime": when(r.reviewed_on),
            "valueInteger": r.score,
            "note": note(r.notes),
        }
    )


# --- Observation: Modified Ashworth scores of a screening trial -----------------------------


def ashworth_observations(t: ScreeningTrial) -> list[dict]:
    return [
        {
            "resourceType": "Observation",
            "id": f"mas-{moment}-{t.pk}",
            "extension": [ext("screening-trial-moment", valueCode=moment)],
            "status": "final",
            "category": [codes.EXAM],
            "code": codes.ASHWORTH,
            "subject": ref("Patient", t.patient_id),
            "effectiveDateTime": when(t.performed_on),
            "valueCodeableConcept": {
                "coding": [{"system": codes.local("ashworth-grade"), "code": grade}],
                "text": grade,
            },
        }
        for moment, grade in (("before", t.ashworth_before), ("after", t.ashworth_after))
        if grade
    ]
