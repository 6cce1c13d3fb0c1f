"""docker-compose.yml runs what production runs, each service with a health check."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_has_every_service_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "pgbouncer", "postgres", "redis", "mail"}
    for name in ("web", "worker", "pgbouncer", "postgres", "redis", "mail"):
        assert "healthcheck" in services[name], name
    env = services["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert env["DEBUG"] == "false"
    assert services["worker"]["depends_on"]["pgbouncer"]["condition"] == "service_healthy"
    assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])


def test_every_process_reaches_postgres_through_the_pooler():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert urlparse(env["DATABASE_URL"]).hostname == "pgbouncer", name
        assert env["DATABASE_POOLED"] == "true", name
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert services["pgbouncer"]["environment"]["DB_HOST"] == "postgres"
    assert services["pgbouncer"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_pooled_settings_keep_no_cursor_or_option_across_transactions():
    """Behind a transaction pooler: no server-side cursors, no connect-time options."""
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d.get('DISABLE_SERVER_SIDE_CURSORS'), d.get('OPTIONS', {}).get('options'))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://itb:itb@pgbouncer:5432/itb",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    pooled = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DATABASE_POOLED": "true"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    direct = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert pooled.stdout.split() == ["True", "None"]
    assert direct.stdout.split() == ["None", "-c", "jit=off"]


def _requirement_lines(path):
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]


def test_requirements_are_pinned():
    dev = _requirement_lines(ROOT / "requirements.txt")
    base = _requirement_lines(ROOT / "requirements" / "base.txt")
    assert dev[0] == "-r requirements/base.txt"
    assert base and all("==" in ln for ln in base + dev[1:])


def test_production_image_installs_no_test_tools():
    base = {ln.split("==")[0].lower() for ln in _requirement_lines(ROOT / "requirements" / "base.txt")}
    assert not base & {"pytest", "pytest-django", "playwright", "schemathesis", "ruff", "hypothesis", "faker"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements/base.txt" in dockerfile and "requirements.txt" not in dockerfile.replace("base.txt", "")


def test_production_image_can_draw_the_report_pdf():
    base = {ln.split("==")[0].lower() for ln in _requirement_lines(ROOT / "requirements" / "base.txt")}
    assert {"weasyprint", "markdown-it-py"} <= base
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert all(pkg in dockerfile for pkg in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"))


def test_bin_run_sweeps_once_before_the_worker_and_the_server_start():
    script = (ROOT / "bin" / "run").read_text()
    sweep, worker = script.index("manage.py sweep_reminders"), script.index("celery -A tasks worker")
    assert sweep < worker < script.index("runserver")
