"""A new patient's history checked in memory and written at once (the import) equals the same history
typed in through the services, over random histories, on the real database.

Each example implants twins on the same day and gives both the same pump history in the same
order (refills and dose changes at random minutes, some unusual, some confirmed; replacements,
explants, a final status): one through the services a form calls, each in its own savepoint; the
other through ``NewPatient``, then ``write_new_patients``. The refusals (with their words), the
stored refills, dose changes, pumps, status history and schedule are the same, and the schedule is
what a fresh recompute gives.
"""

import datetime as dt
import itertools
import os
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from registry import services
from registry.models import DoseChange, Patient, Pump, Refill, Site
from registry.services.new_patients import NewPatient, write_new_patients
from registry.services.schedule import EMPTY_SCHEDULE
from tests.factories import SiteFactory, make_implanted

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
IMPLANT = dt.date(2025, 1, 20)
FACTS = ("performed_at", "performed_on", "interval_days", "timeliness", "due_date_at_refill", "residual_discrepancy")
SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 500)) // 4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

minute_ago = st.integers(0, 420 * 24 * 60).map(lambda m: NOW - dt.timedelta(minutes=m))
day_ago = st.integers(0, 420).map(lambda d: (NOW - dt.timedelta(days=d)).date())
dose = st.sampled_from(["0.01", "20", "100", "400", "1800"])  # 0.01: a reservoir lasting past the calendar
step = st.one_of(
    st.tuples(
        st.just("refill"),
        minute_ago,
        st.sampled_from(["1", "20", "40", "45"]),
        st.sampled_from(["500", "2000", "2500"]),
        dose,
        st.booleans(),
    ),
    st.tuples(st.just("dose"), minute_ago, dose, st.booleans()),
    st.tuples(st.just("replace"), day_ago),
    st.tuples(st.just("explant"), day_ago),
    st.tuples(st.just("status"), st.sampled_from(["discontinued", "deceased", "explanted"]), day_ago),
)
_serials = itertools.count()


def _calls(step, pump, *, new: NewPatient | None, patient):
    """The step as a call: through ``new`` (in memory) or the typed services."""
    kind, *values = step
    if kind == "refill":
        at, volume, concentration, mcg, confirmed = values
        fields = {
            "performed_at": at,
            "volume_after_ml": Decimal(volume),
            "concentration_mcg_per_ml": Decimal(concentration),
            "daily_dose_mcg": Decimal(mcg),
            "confirmed": confirmed,
        }
        return lambda: (new.refill if new else services.record_refill)(pump=pump, **fields)
    if kind == "dose":
        at, mcg, confirmed = values
        fields = {"effective_at": at, "daily_dose_mcg": Decimal(mcg), "confirmed": confirmed}
        return lambda: (new.dose_change if new else services.record_dose_change)(pump=pump, **fields)
    if kind == "replace":
        fields = {"implant_date": values[0], "reason": "Battery", "serial_number": f"P-{next(_serials)}"}
        return lambda: (new.replace if new else services.replace_pump)(pump=pump, **fields)
    if kind == "explant":
        fields = {"explant_date": values[0], "reason": "Infection"}
        return lambda: (new.explant if new else services.explant_pump)(pump=pump, **fields)
    fields = {"to_status": values[0], "on": values[1], "reason": "Left"}
    return lambda: new.change_status(**fields) if new else services.change_status(patient=patient, **fields)


def _run(history, pump, *, new=None, patient=None) -> list:
    outcomes = []
    for step in history:
        try:
            with transaction.atomic():
                result = _calls(step, pump, new=new, patient=patient)()
            if step[0] == "replace":
                pump = result  # the next steps are on the new pump
            outcomes.append(None)
        except ValidationError as error:
            outcomes.append(error.message_dict)
    return outcomes


def _stored(patient: Patient) -> dict:
    pumps = list(Pump.objects.filter(patient=patient).order_by("implant_date", "id"))
    index = {p.pk: n for n, p in enumerate(pumps)}
    refills = Refill.objects.filter(pump__patient=patient).order_by("performed_at")
    return {
        "schedule": Patient.objects.filter(pk=patient.pk).values(*EMPTY_SCHEDULE).get(),
        "status": list(patient.status_changes.order_by("changed_on", "id").values_list("to_status", "changed_on")),
        "pumps": [(p.implant_date, p.explant_date, index.get(p.replaces_id)) for p in pumps],
        "refills": [(index[r.pump_id], *(getattr(r, f) for f in FACTS)) for r in refills],
        "doses": [
            (index[c.pump_id], c.effective_at, c.daily_dose_mcg)
            for c in DoseChange.objects.filter(pump__patient=patient).order_by("effective_at")
        ],
    }


class NewPatientProperties(TestCase):
    @SETTINGS
    @given(st.lists(step, max_size=8))
    def test_a_history_checked_in_memory_is_the_history_typed_in(self, history):
        import time_machine

        with time_machine.travel(NOW, tick=False):
            site = Site.objects.get(pk=SiteFactory(time_zone="Europe/London").pk)
            typed, pump = make_implanted(site, implant_date=IMPLANT)
            by_hand = _run(history, pump, patient=typed)

            new = NewPatient(site)
            new.register(
                mrn=f"NEW-{typed.pk}",
                given_name="Alex",
                family_name="Example",
                date_of_birth=dt.date(2010, 3, 1),
                status="candidate",
                status_on=IMPLANT - dt.timedelta(days=30),
            )
            pump = new.implant(implant_date=IMPLANT, reservoir_volume_ml=Decimal("40"), alarm_volume_ml=Decimal("2"))
            assert _run(history, pump, new=new) == by_hand
            new.finish()
            write_new_patients([new])

            stored = _stored(new.patient)
            assert stored == _stored(typed)
            assert services.recompute_schedule(Patient.objects.get(pk=new.patient.pk)) == stored["schedule"]
