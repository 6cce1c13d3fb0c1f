"""The embedded default's SQLite file is shared by the web process, the worker and beat: two
writers at once must wait for each other, never fail with "database is locked"."""

import threading
import time

from django.conf import settings
from django.db import connections, transaction
from django.db.utils import ConnectionHandler

ALIAS = "embedded_file"


def _run_writers(path, options, django_db_blocker, writers=2, rounds=5):
    config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": dict(options)}
    connections.settings[ALIAS] = ConnectionHandler({"default": config}).settings["default"]
    errors: list[Exception] = []
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                # Read, then write, in one transaction: what a sweep or a saved form does.
                with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM sweep_log")
                    time.sleep(0.05)
                    cursor.execute("INSERT INTO sweep_log (writer) VALUES (%s)", [n])
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)
        finally:
            connections[ALIAS].close()

    try:
        with django_db_blocker.unblock():
            with connections[ALIAS].cursor() as cursor:
                cursor.execute("CREATE TABLE sweep_log (id INTEGER PRIMARY KEY, writer INTEGER)")
                journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            with connections[ALIAS].cursor() as cursor:
                written = cursor.execute("SELECT count(*) FROM sweep_log").fetchone()[0]
            connections[ALIAS].close()
    finally:
        del connections[ALIAS]
        del connections.settings[ALIAS]
    return errors, written, journal


def test_two_writers_on_the_embedded_sqlite_file_wait_instead_of_failing(tmp_path, django_db_blocker):
    errors, written, journal = _run_writers(tmp_path / "itb.sqlite3", settings.SQLITE_OPTIONS, django_db_blocker)
    assert errors == []
    assert written == 10
    assert journal == "wal"


def test_without_the_immediate_transaction_a_writer_is_refused(tmp_path, django_db_blocker):
    # The failure the settings prevent, shown on the same scenario with only a busy timeout.
    errors, written, _ = _run_writers(tmp_path / "itb.sqlite3", {"timeout": 20}, django_db_blocker)
    assert errors and all("database is locked" in str(e) for e in errors)
    assert written < 10
