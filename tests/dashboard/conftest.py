import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from registry import services
from tests.factories import UserFactory, at, make_implanted

# A Tuesday. Fills of 40 mL at 2000 mcg/mL and 400 mcg/day last 190 days to the 2 mL alarm; the
# 180-day maximum interval sets the due date.
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def refilled(site, family_name, refill_day, **fields):
    patient, pump = make_implanted(site, family_name=family_name, **fields)
    services.record_refill(
        pump=pump,
        performed_at=at(refill_day, tz=site.time_zone),
        volume_after_ml=D("40"),
        concentration_mcg_per_ml=D("2000"),
        daily_dose_mcg=D("400"),
    )
    patient.refresh_from_db()
    return patient, pump


@pytest.fixture
def program(frozen, site, other_site, coordinator):
    """One patient of each worklist section at ``site``, and a critical one at ``other_site``."""
    doctor = UserFactory(username="drwho", first_name="Wendy", last_name="Who", role="clinician", role__sites=[site])
    p = {}
    p["critical"], _ = refilled(site, "Critical", dt.date(2025, 8, 1), primary_clinician=doctor)
    p["overdue"], _ = refilled(site, "Overdue", dt.date(2025, 9, 5))
    p["due"], _ = refilled(site, "Duesoon", dt.date(2025, 9, 15))
    p["upcoming"], _ = refilled(site, "Upcoming", dt.date(2025, 10, 1))
    p["battery"], pump = refilled(site, "Battery", dt.date(2026, 2, 1))
    services.update_pump(pump=pump, eri_date=dt.date(2026, 6, 1))
    p["battery"].refresh_from_db()
    p["missed"], _ = refilled(site, "Missedvisit", dt.date(2026, 3, 2))
    services.schedule_follow_up(patient=p["missed"], kind="clinic_review", due_date=dt.date(2026, 2, 25))
    p["outsider"], _ = refilled(other_site, "Outsider", dt.date(2025, 8, 1), mrn="OUT1")
    p["doctor"] = doctor
    return p
