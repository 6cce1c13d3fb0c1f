"""Content-Security-Policy (django-csp) on every page: no inline script or style anywhere in what
the app renders, so the policy never has to allow them. The browser test
(tests/browser/test_security_flow.py) checks that htmx and the charts work under it with no
violation reported."""

import re

import pytest

from tests.factories import make_implanted

pytestmark = pytest.mark.django_db
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I)


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


def _assert_nothing_inline(html: str, url: str):
    assert "<style" not in html, url
    assert not INLINE_SCRIPT.search(html), url
    assert not INLINE_HANDLER.search(html), url
    assert not INLINE_STYLE_ATTR.search(html), url


def test_the_policy_allows_only_this_origin_and_no_inline_code(client):
    policy = _policy(client.get("/accounts/login/"))
    assert policy["default-src"] == "default-src 'self'"
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'"


def test_every_dashboard_page_carries_the_policy_and_nothing_inline(client, site, coordinator, admin_user):
    patient, _ = make_implanted(site)
    client.force_login(coordinator)
    urls = [
        "/",
        "/patients/",
        "/patients/new/",
        f"/patients/{patient.pk}/",
        f"/patients/{patient.pk}/refills/new/",
        "/reminders/",
        "/reports/",
        "/imports/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        _assert_nothing_inline(response.content.decode(), url)
    client.logout()
    _assert_nothing_inline(client.get("/accounts/login/").content.decode(), "/accounts/login/")
    _assert_nothing_inline(client.get("/accounts/password-reset/").content.decode(), "password reset")


def test_the_reports_page_prints_from_a_script_file(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/reports/").content.decode()
    assert "data-print" in html and "reporting/report.js" in html and "reporting/report.css" in html


def test_api_responses_carry_the_policy_too(client, coordinator):
    client.force_login(coordinator)
    assert "default-src 'self'" in client.get("/api/v1/patients/")["Content-Security-Policy"]


def test_the_admin_history_pages_render_with_nothing_inline(client, site, admin_user):
    from registry.models import Patient

    patient, _ = make_implanted(site)
    version = Patient.history.filter(id=patient.pk).latest("history_date")
    client.force_login(admin_user)
    for url in (
        f"/admin/registry/patient/{patient.pk}/history/",
        f"/admin/registry/patient/{patient.pk}/history/{version.history_id}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "unsafe-inline" not in response["Content-Security-Policy"], url
        _assert_nothing_inline(response.content.decode(), url)


def test_the_api_docs_page_keeps_the_strict_policy_and_nothing_inline(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert _policy(response)["style-src"] == "style-src 'self'"
    html = response.content.decode()
    _assert_nothing_inline(html, "/api/v1/docs/")
    assert "swagger-ui-dist/swagger-ui.css" in html and "api/swagger.css" in html
