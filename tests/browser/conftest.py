"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against ``live_server``.

Under CI (CI=1 or REQUIRE_SERVICES=1) a missing browser fails the tests; locally they skip.
Each page a test visits is saved to test-output/screenshots/<name>.png and listed at the end.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_visited: list[tuple[str, str, str]] = []


def _missing(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(reason + "; under CI the browser tests must run (apt-get install chromium)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread, and Django's ORM refuses
    # to run where a loop runs. Allowed only while a browser test runs: the variable must not leak
    # into later tests (``check --deploy`` rightly fails when it is set).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        _missing("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def shot(page):
    """``shot("name")`` saves a full-page screenshot of the current page and records its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        _visited.append((name, page.url, str(path.relative_to(SCREENSHOTS.parents[1]))))
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if _visited:
        terminalreporter.section("browser pages and their screenshots")
        for name, url, path in _visited:
            terminalreporter.write_line(f"{name:<28} {url:<60} {path}")
