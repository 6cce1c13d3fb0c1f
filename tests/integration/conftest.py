"""A real Celery worker in a subprocess, on the real Redis and the test PostgreSQL database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"


def database_url(db_settings) -> str:
    return (
        f"postgres://{db_settings['USER'] or 'postgres'}:{db_settings['PASSWORD'] or ''}@"
        f"{db_settings['HOST'] or '127.0.0.1'}:{db_settings['PORT'] or 5432}/{db_settings['NAME']}"
    )


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker):
    from django.conf import settings

    redis_url = require_service("Redis", "REDIS_URL", 6379)
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        require_service("PostgreSQL (DATABASE_URL=postgres://...)", "__NO_DATABASE_URL__", 5432)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        EMAIL_URL=os.environ.get("TEST_EMAIL_URL", "consolemail://"),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_worker(env, name: str, *extra: str) -> subprocess.Popen:
    OUTPUT.mkdir(exist_ok=True)
    log = open(OUTPUT / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "--loglevel=INFO",
            "--pool=solo",
            f"--hostname={name}@%h",
            "--without-gossip",
            "--without-mingle",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc._log = log
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc._log.close()


@pytest.fixture(scope="session")
def celery_worker_process(worker_env):
    proc = start_worker(worker_env, "worker-main")
    from tasks.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the Celery worker exited with {proc.returncode}; see test-output/worker-main.log")
        if app.control.ping(timeout=1):
            break
    else:
        stop_worker(proc)
        pytest.fail("the Celery worker did not answer a ping within 60 s")
    yield proc
    stop_worker(proc)
