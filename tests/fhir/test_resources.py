"""Every resource type the FHIR interface serves validates with fhir.resources, and says what the registry holds."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from fhir_api import codes
from fhir_api.readers import RESOURCE_TYPES
from fhir_api.search import params_of
from registry import services
from tests.factories import at, make_implanted
from tests.fhir.conftest import FHIR_JSON, entries, validated

pytestmark = pytest.mark.django_db


def search(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == FHIR_JSON
    validated(response.json())
    return entries(response.json())


def of_patient(admin_api, record, resource_type):
    return search(admin_api, f"/fhir/{resource_type}?patient=Patient/{record.patient.pk}")


def test_every_resource_validates_and_reads_back_by_id(admin_api, record):
    for resource_type in RESOURCE_TYPES:
        found = search(admin_api, f"/fhir/{resource_type}?_count=200")
        assert found, f"no {resource_type} served"
        for resource in found:
            assert validated(resource).id == resource["id"]
            read = admin_api.get(f"/fhir/{resource_type}/{resource['id']}")
            assert read.status_code == 200
            assert read["Content-Type"] == FHIR_JSON
            assert read.json() == resource


def test_capability_statement_validates_and_says_exactly_what_is_served(admin_api, record):
    response = admin_api.get("/fhir/metadata", HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == FHIR_JSON
    statement = response.json()
    validated(statement)
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    served = {r["type"]: r for r in rest["resource"]}
    assert set(served) == {*RESOURCE_TYPES, "Group"}
    assert [o["name"] for o in rest["operation"]] == ["export"]
    assert [o["name"] for o in served["Patient"]["operation"]] == ["everything", "export"]
    for resource_type in RESOURCE_TYPES:
        names = {p["name"] for p in served[resource_type]["searchParam"]}
        assert names == {p.name for p in params_of(resource_type)} | {"_count"}
        for name in names - {"_count"}:  # each listed parameter is answered, not refused
            value = {"patient": record.patient.pk, "_id": record.patient.pk, "identifier": "x"}.get(
                name, "ge2018-01-01"
            )
            assert admin_api.get(f"/fhir/{resource_type}?{name}={value}").status_code == 200, (resource_type, name)
    assert admin_api.get("/fhir/Encounter").status_code == 404
    assert admin_api.get("/fhir/Group/1").status_code == 404  # only its $export is served


def test_patient(admin_api, record, site):
    (patient,) = search(admin_api, f"/fhir/Patient?identifier={codes.mrn_system(site.pk)}|FULL-1")
    assert patient["identifier"][0]["value"] == "FULL-1"
    assert patient["name"] == [{"use": "official", "family": "Fullrecord", "given": ["Ada"]}]
    assert (patient["gender"], patient["birthDate"]) == ("female", "2008-05-17")
    assert patient["managingOrganization"]["display"] == site.name
    assert search(admin_api, "/fhir/Patient?identifier=FULL-1")[0]["id"] == patient["id"]
    assert search(admin_api, "/fhir/Patient?identifier=http://elsewhere.test/mrn|FULL-1") == []


def test_condition_codes_and_extensions(admin_api, record):
    primary, secondary = of_patient(admin_api, record, "Condition")
    assert primary["code"]["coding"] == [{"system": codes.ICD10, "code": "G80.0"}]
    ext = {e["url"].rsplit("/", 1)[1]: e for e in primary["extension"]}
    assert ext["gmfcs-level"]["valueInteger"] == 4
    assert ext["tone-type"]["valueCode"] == "mixed"
    assert ext["tone-distribution"]["valueCode"] == "quadriplegia"
    assert ext["primary-indication"]["valueBoolean"] is True
    assert secondary["code"]["coding"][0]["code"] == "G24.2"


def test_devices_and_procedures(admin_api, record):
    first, second = of_patient(admin_api, record, "Device")
    assert (first["serialNumber"], first["status"], second["status"]) == ("FULL-1-P1", "inactive", "inactive")
    assert first["property"][0]["valueQuantity"] == [{"value": 40, "unit": "mL", "system": codes.UCUM, "code": "mL"}]
    procedures = {p["id"]: p for p in of_patient(admin_api, record, "Procedure")}
    one, two = record.first_pump.pk, record.second_pump.pk
    refills = sorted(i for i in procedures if i.startswith("refill-"))
    assert set(procedures) == {f"implant-{one}", f"explant-{one}", f"replacement-{two}", f"explant-{two}", *refills}
    assert len(refills) == 3
    assert procedures[f"replacement-{two}"]["performedDateTime"] == "2018-09-03"
    assert procedures[f"explant-{two}"]["reasonCode"] == [{"text": "Pocket infection"}]
    assert {c["code"] for c in procedures[refills[0]]["code"]["coding"]} == {"refill", "95990"}
    ext = {e["url"].rsplit("/", 1)[1]: e.get("valueQuantity") for e in procedures[refills[1]]["extension"]}
    assert ext["concentration"] == {"value": 1000, "unit": "mcg/mL", "system": codes.UCUM, "code": "ug/mL"}
    assert ext["daily-dose"]["code"] == "ug/d" and ext["daily-dose"]["value"] == 150
    assert ext["volume-removed"]["value"] == 12.5


def test_medication_statements_are_the_dose_periods(admin_api, record):
    periods = of_patient(admin_api, record, "MedicationStatement")
    doses = [p["dosage"][0]["doseAndRate"][0]["rateQuantity"]["value"] for p in periods]
    assert doses == [100, 125.5, 150, 200]
    strengths = [p["contained"][0]["ingredient"][0]["strength"]["numerator"]["value"] for p in periods]
    assert strengths == [500, 500, 1000, 2000]  # a dose change keeps the last refill's concentration
    for earlier, later in zip(periods[:2], periods[1:3], strict=True):  # the first pump's periods
        assert earlier["effectivePeriod"]["end"] == later["effectivePeriod"]["start"]
    assert periods[2]["effectivePeriod"]["end"] == "2018-09-03"  # its replacement ends its last period
    assert periods[3]["effectivePeriod"]["end"] == "2019-01-10"  # and the explant the replacement's
    assert {p["status"] for p in periods} == {"completed"}
    assert periods[0]["dosage"][0]["route"]["coding"][0]["code"] == "72607000"
    assert periods[0]["contained"][0]["code"]["coding"][0]["code"] == "387342009"


def test_appointments_goal_and_observations(admin_api, record):
    visits = {a["description"]: a for a in of_patient(admin_api, record, "Appointment")}
    assert visits["Clinic review"]["status"] == "booked" and visits["Clinic review"]["start"].startswith("2027-02-01")
    assert visits["Annual review"]["status"] == "proposed" and "start" not in visits["Annual review"]
    assert visits["Post-operative check"]["status"] == "fulfilled"
    assert visits["Titration"]["status"] == "cancelled"
    assert visits["Goal review"]["status"] == "noshow"
    (goal,) = of_patient(admin_api, record, "Goal")
    observations = {o["id"]: o for o in of_patient(admin_api, record, "Observation")}
    gas = [observations[r["reference"].removeprefix("Observation/")] for r in goal["outcomeReference"]]
    assert [o["valueInteger"] for o in gas] == [-1, 1]
    ashworth = [o for o in observations.values() if o["code"] == codes.ASHWORTH]
    assert [o["valueCodeableConcept"]["text"] for o in ashworth] == ["3", "1+"]


def test_search_by_date(admin_api, record):
    after = search(admin_api, f"/fhir/Procedure?patient={record.patient.pk}&date=ge2018-09-01")
    assert {p["id"].split("-")[0] for p in after} == {"replacement", "explant", "refill"}
    assert all(p["performedDateTime"] >= "2018-09" for p in after)
    on_day = search(admin_api, "/fhir/Observation?date=2018-06-01")
    assert [o["valueInteger"] for o in on_day] == [-1]
    during = search(admin_api, "/fhir/MedicationStatement?effective=ge2018-04-01&effective=lt2018-05-01")
    assert [p["dosage"][0]["doseAndRate"][0]["rateQuantity"]["value"] for p in during] == [125.5]
    assert search(admin_api, "/fhir/Goal?start-date=lt2018-01-01") == []
    assert len(search(admin_api, "/fhir/Appointment?date=ge2027-01-01")) == 2


BAD_SEARCHES = [
    ("/fhir/Procedure?date=2018-13-01", "is not a date"),
    ("/fhir/Procedure?colour=red", "cannot be searched by colour"),
    ("/fhir/Condition?date=2018-01-01", "cannot be searched by date"),
    ("/fhir/Device?patient=abc", "not a patient reference"),
    ("/fhir/Device?_count=0", "_count must be"),
    ("/fhir/Device?_page=9.x", "_page is not a page link"),
]


def test_bad_search_is_a_400_in_words(admin_api):
    for url, words in BAD_SEARCHES:
        response = admin_api.get(url)
        assert response.status_code == 400, url
        outcome = response.json()
        validated(outcome)
        assert words in outcome["issue"][0]["diagnostics"]


def test_paging_walks_every_source_once(admin_api, record, implanted):
    expected = {p["id"] for p in search(admin_api, "/fhir/Procedure?_count=200")}
    seen, url, pages = [], "/fhir/Procedure?_count=2", 0
    while url:
        body = admin_api.get(url).json()
        seen += [e["resource"]["id"] for e in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        pages += 1
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert pages >= 4


def test_an_active_pump_has_an_open_dose_period(admin_api, implanted):
    patient, pump, _ = implanted
    (period,) = search(admin_api, f"/fhir/MedicationStatement?patient={patient.pk}")
    assert period["status"] == "active" and "end" not in period["effectivePeriod"]
    (device,) = search(admin_api, f"/fhir/Device?patient={patient.pk}")
    assert device["status"] == "active"
    assert dt.date.fromisoformat(search(admin_api, f"/fhir/Procedure?patient={patient.pk}")[0]["performedDateTime"])


def test_booked_refill_visits_are_appointments_until_recorded_missed_or_cancelled(admin_api, site):
    patient, pump = make_implanted(site)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False):
        services.record_refill(
            pump=pump, performed_at=at(dt.date(2026, 3, 2), 8), volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"), daily_dose_mcg=D("100"),
        )  # fmt: skip
        cancelled = services.book_refill_visit(patient=patient, site=site, starts_at=at(dt.date(2026, 3, 10), 9))
        services.cancel_refill_visit(visit=cancelled, reason="Family asked for another week")
        booked = services.book_refill_visit(patient=patient, site=site, starts_at=at(dt.date(2026, 3, 17), 10, 30))
        visits = {a["id"]: a for a in search(admin_api, f"/fhir/Appointment?patient={patient.pk}")}
        assert visits[f"refill-{cancelled.pk}"]["status"] == "cancelled"
        assert visits[f"refill-{cancelled.pk}"]["comment"] == "Family asked for another week"
        visit = visits[f"refill-{booked.pk}"]
        assert (visit["status"], visit["description"]) == ("booked", "Pump refill")
        assert visit["start"] == "2026-03-17T10:30:00Z" and visit["end"] == "2026-03-17T11:00:00Z"
        assert visit["participant"][0]["actor"]["reference"] == f"Patient/{patient.pk}"
    with time_machine.travel(dt.datetime(2026, 3, 18, 9, tzinfo=dt.UTC), tick=False):
        read = admin_api.get(f"/fhir/Appointment/refill-{booked.pk}")
        assert read.status_code == 200 and validated(read.json()).status == "noshow"
        services.record_refill(
            pump=pump, performed_at=at(dt.date(2026, 3, 18), 8), volume_after_ml=D("40"),
            concentration_mcg_per_ml=D("500"), daily_dose_mcg=D("100"),
        )  # fmt: skip
        later = services.book_refill_visit(patient=patient, site=site, starts_at=at(dt.date(2026, 5, 5), 9))
        everything = entries(admin_api.get(f"/fhir/Patient/{patient.pk}/$everything").json())
        assert f"refill-{later.pk}" in {r["id"] for r in everything if r["resourceType"] == "Appointment"}
