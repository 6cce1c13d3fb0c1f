"""The research export is k-anonymous, proven on a program built to break it."""

import csv
import datetime as dt
import io
import zipfile
from collections import Counter

import pytest
import time_machine

from registry import services
from reporting import anonymity, reports
from tests.factories import SiteFactory, make_patient

pytestmark = pytest.mark.django_db
END = dt.date(2026, 12, 31)
QI = anonymity.QUASI_IDENTIFIERS


def _people(site, n, *, born, sex, diagnosis, gmfcs=None, status="evaluating"):
    made = []
    for _ in range(n):
        patient = make_patient(site, dob=born, sex=sex, status=status, status_on=dt.date(2026, 3, 1))
        services.add_indication(patient=patient, diagnosis=diagnosis, gmfcs_level=gmfcs)
        made.append(patient)
    return made


@pytest.fixture
def breakable():
    """Sixteen patients; at site B one 47-year-old woman with MS whom the quasi-identifiers single out."""
    with time_machine.travel(dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC), tick=False):
        a, b = SiteFactory(name="Site A"), SiteFactory(name="Site B")
        _people(a, 6, born=dt.date(1984, 5, 1), sex="female", diagnosis="cerebral_palsy", gmfcs=3)
        _people(a, 4, born=dt.date(1964, 5, 1), sex="male", diagnosis="multiple_sclerosis", status="referred")
        _people(b, 5, born=dt.date(2004, 5, 1), sex="male", diagnosis="spinal_cord_injury")
        (target,) = _people(b, 1, born=dt.date(1979, 3, 1), sex="female", diagnosis="multiple_sclerosis")
    return target


def combinations(rows: list[dict]) -> Counter:
    return Counter(tuple(r[c] for c in QI) for r in rows)


def released(export) -> list[dict]:
    with zipfile.ZipFile(io.BytesIO(export.bundle())) as z:
        return list(csv.DictReader(io.StringIO(z.read("patients.csv").decode())))


def test_without_k_anonymity_the_woman_at_site_b_is_alone(breakable):
    rows = released(reports.patient_export(sites=None, start=dt.date(2026, 1, 1), end=END, k=1))
    hers = next(r for r in rows if r["study_id"] == breakable.study_id)
    assert (hers["site"], hers["sex"], hers["age_band"], hers["primary_indication"]) == (
        "Site B",
        "female",
        "45-49",
        "multiple_sclerosis",
    )
    assert combinations(rows)[tuple(hers[c] for c in QI)] == 1


@pytest.mark.parametrize("k", [3, 5])
def test_every_released_combination_is_shared_by_k_patients(breakable, k):
    export = reports.patient_export(sites=None, start=dt.date(2026, 1, 1), end=END, k=k)
    rows = released(export)
    sizes = combinations(rows)
    # Counted here from the file itself, not taken from the code's own report.
    assert rows and min(sizes.values()) >= k
    assert export.k_achieved == min(sizes.values())
    assert export.suppressed == 16 - len(rows)
    with zipfile.ZipFile(io.BytesIO(export.bundle())) as z:
        readme = z.read("README.txt").decode()
    assert f"k requested: {k}" in readme and f"k achieved: {export.k_achieved}" in readme
    # Whatever is released about her is shared by at least k patients, or she is left out.
    hers = [r for r in rows if r["study_id"] == breakable.study_id]
    assert not hers or sizes[tuple(hers[0][c] for c in QI)] >= k


def test_k_anonymise_keeps_large_groups_whole():
    big = [
        {
            "site": "A",
            "sex": "f",
            "age_band": "40-44",
            "primary_indication": "cp",
            "gmfcs_level": "3",
            "status": "implanted",
            "first_implant_period": "2020-2024",
        }
    ] * 5
    rare = [{**big[0], "gmfcs_level": "5"}]
    result = anonymity.k_anonymise(big + rare, 5)
    # The rare row loses its GMFCS level and joins no group of 5 with it ("*" differs from "3"): it is
    # generalised further, then suppressed; the group of five is untouched.
    assert [r["gmfcs_level"] for r in result.rows] == ["3"] * 5
    assert (result.suppressed, result.k_achieved) == (1, 5)
    with pytest.raises(ValueError):
        anonymity.k_anonymise(big, 0)
