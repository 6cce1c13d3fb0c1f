"""A session's user is read with their staff profile and the data version in one statement, and
refused as Django's backend refuses it."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import ModelBackend
from registry.roles import Role, role_of
from registry.selectors import data_version
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_user_their_role_and_the_data_version_in_one_statement(coordinator, site):
    with CaptureQueriesContext(connection) as read:
        user = ModelBackend().get_user(str(coordinator.pk))
        assert role_of(user) == Role.COORDINATOR
        assert list(user.staff.sites.values_list("pk", flat=True)) == [site.pk]
    assert len(read) == 2  # the user with the profile, then the profile's sites
    assert user == coordinator and user.username == coordinator.username
    assert user.data_version == data_version()


def test_a_superuser_without_a_profile_has_none_and_asks_nothing_more():
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    with CaptureQueriesContext(connection) as read:
        user = ModelBackend().get_user(admin.pk)
        assert getattr(user, "staff", None) is None and role_of(user) == Role.ADMINISTRATOR
    assert len(read) == 1


@pytest.mark.parametrize("user_id", ["not a number", "999999"])
def test_an_unknown_or_malformed_id_is_no_user(user_id):
    assert ModelBackend().get_user(user_id) is None


def test_an_inactive_user_is_refused_and_logged_out(client, site):
    user = UserFactory(role="coordinator", role__sites=[site])
    client.force_login(user)
    assert client.get(reverse("worklist")).status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(reverse("worklist")).status_code == 302
