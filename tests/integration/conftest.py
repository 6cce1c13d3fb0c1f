"""A real Celery worker in a subprocess, on the real Redis and the test PostgreSQL database."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
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
    from django.db import connection

    if connection.vendor != "postgresql":
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


def start_worker(env, name: str, *extra: str, host: str = "%h") -> subprocess.Popen:
    """A worker node ``name@host``: ``host`` defaults to this machine's name (as ``celery@$HOSTNAME``)."""
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
            f"--hostname={name}@{host}",
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


# --- Reminder delivery: a real SMTP server, dedicated workers and queues, a throwaway Redis ------


class CountingSMTPHandler:
    """An aiosmtpd handler that records every accepted message.

    ``hold_mail`` (a threading.Event, cleared) blocks each MAIL FROM until it is set, so a test can
    act while a worker is mid-delivery and nothing has been accepted yet; ``refuse`` maps a
    recipient to how many more DATA commands to answer 451 (temporary failure), -1 for always.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.hold_mail: threading.Event | None = None
        self.mail_started = threading.Event()
        self.mails_started = 0  # MAIL FROM commands received, held or not
        self.refuse: dict[str, int] = {}
        self.refused = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails_started += 1
        self.mail_started.set()
        while self.hold_mail is not None and not self.hold_mail.is_set():
            await asyncio.sleep(0.05)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            left = self.refuse.get(rcpt, 0)
            if left:
                self.refuse[rcpt] = left - 1 if left > 0 else left
                self.refused += 1
                return "451 4.3.0 Try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 Message accepted"

    def to(self, recipient: str) -> list[str]:
        return [body for rcpts, body in self.messages if recipient in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = CountingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    if handler.hold_mail is not None:
        handler.hold_mail.set()
    controller.stop()


@pytest.fixture
def reminder_queue(settings):
    """A queue of this test's own, so only the workers this test starts deliver its reminders."""
    settings.REMINDER_QUEUE = f"reminders-test-{uuid.uuid4().hex[:8]}"
    return settings.REMINDER_QUEUE


@pytest.fixture
def reminder_workers(worker_env, smtp_server, reminder_queue):
    """Start Celery workers consuming the test's queue and sending to the test's SMTP server."""
    started: list[subprocess.Popen] = []

    def start(host: str = "%h", **env_overrides: str) -> subprocess.Popen:
        name = f"rw-{uuid.uuid4().hex[:8]}"
        env = dict(
            worker_env,
            EMAIL_URL=smtp_server.url,
            REMINDER_QUEUE=reminder_queue,
            REMINDER_RETRY_BACKOFF_SECONDS="0.2",
            EMAIL_TIMEOUT="20",
        )
        env.update(env_overrides)
        proc = start_worker(env, name, "-Q", reminder_queue, host=host)
        proc.node = f"{name}@{host}"
        started.append(proc)
        log = OUTPUT / f"{name}.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the Celery worker exited with {proc.returncode}; see {log}")
            if b" ready." in log.read_bytes():
                return proc
            time.sleep(0.1)
        pytest.fail(f"the Celery worker did not start within 60 s; see {log}")

    yield start
    for proc in started:
        stop_worker(proc)


class ThrowawayRedis:
    """A redis-server of the test's own (no persistence), which the test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("the throwaway redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def throwaway_redis(worker_env):
    if shutil.which("redis-server") is None:
        require_service("redis-server (the binary)", "__NO_REDIS_SERVER__", 0)
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()
