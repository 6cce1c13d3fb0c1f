"""An administrator logs in with two factors (password, then the authenticator's code) in headless
Chromium, and the pages that use htmx and the charts work under the Content-Security-Policy with no
violation reported by the browser."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.models import Patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_administrator_logs_in_with_two_factors_and_htmx_and_charts_work_under_the_csp(page, shot, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    admin = get_user_model().objects.get(username="admin")
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    patient = (
        Patient.objects.filter(pumps__explant_date__isnull=True, pumps__refills__isnull=False)
        .distinct()
        .order_by("pk")
        .first()
    )
    console = []
    page.on("console", lambda m: console.append(m.text))
    page.add_init_script(RECORD_VIOLATIONS)

    page.goto("/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("itb-demo-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/two-factor/"))
    shot("security-01-second-factor")
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("heading", level=1).first.is_visible()
    assert _violations(page) == []

    # htmx: the worklist filter and the patient search reload their part of the page.
    page.goto("/patients/")
    with page.expect_response(lambda r: "/patients/" in r.url and r.request.headers.get("hx-request") == "true"):
        page.locator("#id_q").fill(patient.family_name)
    page.wait_for_timeout(300)
    assert patient.family_name in page.locator("#patient-results").inner_text()
    shot("security-02-htmx-search")
    assert _violations(page) == []

    # The projected reservoir chart (server-drawn SVG) and the reports' charts.
    page.goto(f"/patients/{patient.pk}/")
    assert page.locator("figure.chart svg").first.is_visible()
    page.goto("/reports/")
    assert page.locator("svg.chart").first.is_visible()
    shot("security-03-report-charts")
    assert _violations(page) == []

    # The admin opens, verified, with nothing inline refused either.
    page.goto("/admin/")
    assert "Site administration" in page.content()
    assert _violations(page) == []
    assert not [m for m in console if "Content Security Policy" in m]
