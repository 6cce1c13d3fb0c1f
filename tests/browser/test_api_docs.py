"""The API's Swagger page runs in Chromium under the strict policy (no inline style or script):
the operations render, one opens, is tried out and answers, and the browser reports no violation."""

import re

import pytest
from django.test import Client

from tests.browser.test_security_flow import RECORD_VIOLATIONS, _violations
from tests.factories import make_implanted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_swagger_page_works_under_the_strict_policy(page, shot, live_server, site, coordinator):
    make_implanted(site, family_name="Swaggered")
    django_client = Client()
    django_client.force_login(coordinator)
    cookie = django_client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda m: console.append(m.text))

    response = page.goto("/api/v1/docs/")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    operation = page.locator(".opblock-summary", has_text=re.compile(r"/api/v1/patients/$")).first
    operation.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    page.locator(".responses-wrapper .live-responses-table").wait_for()
    assert "Swaggered" in page.locator(".live-responses-table").inner_text()
    shot("api-docs-swagger")
    assert _violations(page) == []
    assert not [m for m in console if "Content Security Policy" in m]
