"""Password guessing: django-axes locks out an account, and separately a client address, after
LOGIN_FAILURE_LIMIT failures, on the dashboard, the admin and the token endpoint; the address is
the socket's or the one the trusted proxies saw (NUM_PROXIES), never one a client writes."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery staple"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def _login(client, url, username, password, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_an_account_is_locked_after_the_failure_limit_even_with_the_right_password(client, admin_user, url, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    codes = [_login(client, url, "root", f"guess{n}", REMOTE_ADDR=f"10.0.0.{n}").status_code for n in range(5)]
    assert codes == [200] * 4 + [429]  # the form again with its error, then the lockout at the fifth
    locked = _login(client, url, "root", RIGHT, REMOTE_ADDR="10.9.9.9")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_client_address_is_locked_after_the_failure_limit_whatever_account_it_tries(client, coordinator):
    for n in range(5):
        _login(client, "/accounts/login/", f"someone{n}", "guess")
    assert _login(client, "/accounts/login/", "coord", RIGHT).status_code == 429
    # The same account from another address is not locked: the lockout is per client there.
    assert _login(client, "/accounts/login/", "coord", RIGHT, REMOTE_ADDR="10.1.1.1").status_code == 302


def test_a_different_x_forwarded_for_on_each_try_is_the_same_client(client, coordinator):
    for n in range(5):
        _login(client, "/accounts/login/", f"someone{n}", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    locked = _login(client, "/accounts/login/", "coord", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert locked.status_code == 429


def test_behind_one_trusted_proxy_each_client_is_counted_apart(client, coordinator, settings):
    settings.NUM_PROXIES = 1
    for n in range(5):
        _login(client, "/accounts/login/", f"someone{n}", "guess", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    spoofed = "203.0.113.8, 203.0.113.7"  # the client's own first hop is ignored: the proxy saw .7
    assert _login(client, "/accounts/login/", "coord", RIGHT, HTTP_X_FORWARDED_FOR=spoofed).status_code == 429
    other = _login(client, "/accounts/login/", "coord", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert other.status_code == 302


def test_a_successful_log_in_resets_the_count(client, coordinator):
    for _ in range(4):
        _login(client, "/accounts/login/", "coord", "guess")
    assert _login(client, "/accounts/login/", "coord", RIGHT).status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "/accounts/login/", "coord", "guess")
    assert _login(client, "/accounts/login/", "coord", RIGHT).status_code == 302


def test_the_token_endpoint_locks_out_with_a_json_429(coordinator, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    api = APIClient()
    codes = [
        api.post(
            "/api/v1/auth/token/", {"username": "coord", "password": f"guess{n}"}, REMOTE_ADDR=f"10.0.1.{n}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [400] * 4 + [429]
    locked = api.post("/api/v1/auth/token/", {"username": "coord", "password": RIGHT}, REMOTE_ADDR="10.0.2.1")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.json()["detail"]


def test_the_lockout_ends_after_the_cool_off(client, coordinator, settings):
    import datetime as dt

    import time_machine

    for _ in range(5):
        _login(client, "/accounts/login/", "coord", "guess")
    assert _login(client, "/accounts/login/", "coord", RIGHT).status_code == 429
    with time_machine.travel(dt.datetime.now(dt.UTC) + settings.AXES_COOLOFF_TIME + dt.timedelta(minutes=1)):
        assert _login(client, "/accounts/login/", "coord", RIGHT).status_code == 302


def test_another_users_lockout_does_not_touch_a_colleague(client, coordinator, site):
    UserFactory(username="colleague", role="coordinator", role__sites=[site])
    for n in range(5):
        _login(client, "/accounts/login/", "coord", "guess", REMOTE_ADDR=f"10.2.0.{n}")
    assert _login(client, "/accounts/login/", "colleague", RIGHT, REMOTE_ADDR="10.3.0.1").status_code == 302


def test_a_staff_session_ends_after_the_idle_timeout(client, coordinator, settings):
    import datetime as dt

    import time_machine

    settings.SESSION_IDLE_TIMEOUT_MINUTES = 30
    start = dt.datetime.now(dt.UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(coordinator)
        assert client.get("/reminders/").status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assert client.get("/reminders/").status_code == 200  # activity keeps it alive
    with time_machine.travel(start + dt.timedelta(minutes=58), tick=False):
        assert client.get("/reminders/").status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=89), tick=False):
        response = client.get("/reminders/", follow=True)
        assert response.redirect_chain[-1][0].startswith("/accounts/login/")
        assert "logged out after 30 minutes without activity" in response.content.decode()
        assert "_auth_user_id" not in client.session
