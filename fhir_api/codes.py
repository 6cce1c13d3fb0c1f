"""Every code system, code and unit the FHIR interface writes, with where each comes from.

Standard systems wherever a code is well known; the registry's own values (program status, tone
type, GAS, the kind of pump procedure) go out under code systems of this server's canonical base
(``FHIR_CANONICAL_BASE``), documented in docs/fhir.md. Nothing else in ``fhir_api`` spells a code.
"""

from __future__ import annotations

from django.conf import settings

from registry.models import FollowUp, RefillAppointment

FHIR_VERSION = "4.0.1"  # FHIR R4 (hl7.org/fhir/R4)

# --- Code systems ---------------------------------------------------------------------------
# FHIR R4 terminology, "External code systems": the URIs FHIR assigns to these systems.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
# CPT: the codes US payers use for these procedures (AMA CPT, as published in CMS fee schedules).
CPT = "http://www.ama-assn.org/go/cpt"


def canonical(path: str) -> str:
    """A URI under this server's canonical base: the registry's own code systems and extensions."""
    return f"{settings.FHIR_CANONICAL_BASE}/{path}"


def mrn_system(site_id: int) -> str:
    """Each site numbers its own patients, so each site's MRNs are their own identifier system."""
    return canonical(f"sid/mrn/site-{site_id}")


def local(name: str) -> str:
    return canonical(f"CodeSystem/{name}")


def extension(name: str) -> str:
    return canonical(f"StructureDefinition/{name}")


# --- Units (UCUM, unitsofmeasure.org, "The Unified Code for Units of Measure") --------------
ML = "mL"
UG = "ug"
UG_PER_ML = "ug/mL"
UG_PER_DAY = "ug/d"
UNIT_TEXT = {ML: "mL", UG: "mcg", UG_PER_ML: "mcg/mL", UG_PER_DAY: "mcg/day"}

# --- The drug and its route -----------------------------------------------------------------
# SNOMED CT 387342009 "Baclofen (substance)"; WHO ATC M03BX01 baclofen (muscle relaxant, centrally acting).
BACLOFEN = [
    {"system": SNOMED, "code": "387342009", "display": "Baclofen (substance)"},
    {"system": ATC, "code": "M03BX01", "display": "baclofen"},
]
# SNOMED CT 72607000 "Intrathecal route (qualifier value)", in FHIR R4's SNOMED route value set.
INTRATHECAL = [{"system": SNOMED, "code": "72607000", "display": "Intrathecal route"}]

# --- Procedures on the pump -----------------------------------------------------------------
# No SNOMED CT concept for these four could be confirmed from a published source, so the kind is
# a local code; CPT (AMA) adds the billing code hospitals already record:
#   62362 implantation or replacement of a programmable intrathecal/epidural infusion pump;
#   62365 removal of a subcutaneous reservoir or pump for intrathecal/epidural infusion;
#   95990 refilling and maintenance of an implantable pump for spinal (intrathecal) drug delivery.
PROCEDURES = {
    "implant": ("Implantation of intrathecal baclofen pump", "62362"),
    "replacement": ("Replacement of intrathecal baclofen pump", "62362"),
    "explant": ("Removal of intrathecal baclofen pump", "62365"),
    "refill": ("Refill of intrathecal baclofen pump", "95990"),
}


def procedure_code(kind: str) -> dict:
    display, cpt = PROCEDURES[kind]
    return {
        "coding": [
            {"system": local("pump-procedure"), "code": kind, "display": display},
            {"system": CPT, "code": cpt},
        ],
        "text": display,
    }


# --- Observations ---------------------------------------------------------------------------
# SNOMED CT 765771006 "Modified Ashworth Scale (assessment scale)" (Bohannon and Smith, 1987).
ASHWORTH = {
    "coding": [{"system": SNOMED, "code": "765771006", "display": "Modified Ashworth Scale (assessment scale)"}],
    "text": "Modified Ashworth Scale",
}
# Goal Attainment Scaling (Kiresuk and Sherman, 1968): -2 to +2, 0 the expected outcome. No
# standard code exists for the score, so it is local.
GAS_SCORE = {
    "coding": [{"system": local("gas"), "code": "gas-score", "display": "Goal attainment scaling score"}],
    "text": "Goal attainment scaling score",
}
GAS_EXPECTED_LEVEL = 0
# FHIR R4 observation-category (terminology.hl7.org/CodeSystem/observation-category).
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
EXAM = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam", "display": "Exam"}]}
SURVEY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}

# --- Pump properties ------------------------------------------------------------------------
RESERVOIR_VOLUME = {
    "coding": [{"system": local("pump-property"), "code": "reservoir-volume"}],
    "text": "Reservoir volume",
}
ALARM_VOLUME = {
    "coding": [{"system": local("pump-property"), "code": "alarm-volume"}],
    "text": "Low reservoir alarm volume",
}
CATHETER_TIP = {
    "coding": [{"system": local("pump-property"), "code": "catheter-tip-level"}],
    "text": "Catheter tip level",
}

# --- Appointments ---------------------------------------------------------------------------
# FollowUp.Status -> FHIR R4 appointmentstatus; a visit not yet given a time is only proposed.
_VISIT = FollowUp.Status
APPOINTMENT_STATUS = {_VISIT.COMPLETED: "fulfilled", _VISIT.MISSED: "noshow", _VISIT.CANCELLED: "cancelled"}
# RefillAppointment.Status -> FHIR R4 appointmentstatus; an open booking whose day has passed is a no-show.
_BOOKING = RefillAppointment.Status
REFILL_VISIT_STATUS = {
    _BOOKING.BOOKED: "booked",
    _BOOKING.ATTENDED: "fulfilled",
    _BOOKING.NO_SHOW: "noshow",
    _BOOKING.CANCELLED: "cancelled",
}
