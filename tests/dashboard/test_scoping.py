"""A coordinator never sees another site's patients, on any page."""

import pytest
from django.urls import reverse

from registry.models import FollowUp, Reminder

pytestmark = pytest.mark.django_db

PATIENT_PAGES = [
    "patient",
    "status_change",
    "trial_create",
    "pump_implant",
    "pump_replace",
    "pump_explant",
    "refill_create",
    "dose_change_create",
    "follow_up_create",
    "goal_create",
    "complication_create",
]


def test_other_sites_patients_are_invisible_everywhere(client, coordinator, program):
    outsider = program["outsider"]
    client.force_login(coordinator)
    for url in [reverse("worklist"), reverse("patient_list"), reverse("patient_list") + "?q=OUT1"]:
        html = client.get(url).content.decode()
        assert "Outsider" not in html and f"/patients/{outsider.pk}/" not in html, url
    assert "0 patients" in client.get(reverse("patient_list"), {"q": "OUT1"}).content.decode()
    assert "Critical" in client.get(reverse("patient_list")).content.decode()
    for name in PATIENT_PAGES:
        assert client.get(reverse(name, args=[outsider.pk])).status_code == 404, name
    assert client.post(reverse("refill_create", args=[outsider.pk]), {"volume_after_ml": "20"}).status_code == 404
    assert client.post(reverse("refill_preview", args=[outsider.pk]), {}).status_code == 404
    visit = FollowUp.objects.create(
        patient=outsider, kind="clinic_review", due_date=outsider.site.patients.first().date_of_birth
    )
    assert client.get(reverse("follow_up_complete", args=[outsider.pk, visit.pk])).status_code == 404
    # Another patient's follow-up under one's own patient id is not found either.
    assert client.get(reverse("follow_up_complete", args=[program["critical"].pk, visit.pk])).status_code == 404


def test_new_patient_form_offers_only_own_sites(client, coordinator, program, other_site):
    client.force_login(coordinator)
    html = client.get(reverse("patient_create")).content.decode()
    assert other_site.name not in html
    response = client.post(
        reverse("patient_create"),
        {
            "site": other_site.pk,
            "mrn": "X1",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "2010-01-01",
            "sex": "unknown",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not other_site.patients.filter(mrn="X1").exists()


def test_inbox_lists_only_own_reminders(client, coordinator, program):
    from tests.factories import UserFactory
    from tests.registry.test_reminders_inbox import make_reminder

    someone = UserFactory(role="coordinator", role__sites=[program["critical"].site])
    make_reminder(program["critical"], someone)
    client.force_login(coordinator)
    assert "Critical" not in client.get(reverse("inbox")).content.decode().split("<main")[1]
    assert Reminder.objects.count() == 1
