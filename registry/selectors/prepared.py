"""Long statements planned once per database connection (PostgreSQL ``PREPARE``).

The worklist's page is one statement of some 20,000 characters whose text depends only on the
day, the sites and the window (``worklist._STATEMENTS``): planning it took longer than running it.
So did the one-row reads every request makes (an API token's or a session user's read, the
header's reminder count). Prepared on the connection the first time it runs there, a statement is
then executed without planning, with its parameters as literals; PostgreSQL plans it again by
itself when a table's statistics or schema change, and refuses it when a column it returns changed
type: it is then prepared again (``execute_prepared``). Behind PgBouncer in transaction pooling
(``DATABASE_POOLED``) a prepared statement would not follow the next transaction to its server
connection, so there the statement is simply run.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import DatabaseError, connection

# The names prepared on each open connection (a new connection starts with none).
_PREPARED: WeakKeyDictionary[object, set[str]] = WeakKeyDictionary()
# Statements kept per connection: past this many, all are dropped (a day's pages use a few).
_KEPT = 64
# PostgreSQL's "cached plan must not change result type".
CHANGED_RESULT_TYPE = "0A000"


def execute_prepared(cursor, sql: str, params: Sequence = ()) -> None:
    """Run ``sql`` on ``cursor``, prepared on its connection; its ``%s`` placeholders take ``params``."""
    if connection.vendor != "postgresql" or getattr(settings, "DATABASE_POOLED", False):
        cursor.execute(sql, params or None)
        return
    names = _PREPARED.setdefault(connection.connection, set())
    name = "registry_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    if name not in names:
        if len(names) >= _KEPT:
            cursor.execute("DEALLOCATE ALL")
            names.clear()
        # Not undone by a rollback: the statement stays prepared for the connection's life.
        _prepare(cursor, name, sql, params)
        names.add(name)
    try:
        _execute(cursor, name, params)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) != CHANGED_RESULT_TYPE:
            raise
        # A table it reads changed a column's type (a migration while this process ran): the
        # statement is prepared again, at once outside a transaction, else on a new connection.
        if connection.in_atomic_block:
            connection.close_at = time.monotonic()  # closed when the request or task ends
            raise
        cursor.execute(f"DEALLOCATE {name}")
        _prepare(cursor, name, sql, params)
        _execute(cursor, name, params)


def _prepare(cursor, name: str, sql: str, params: Sequence) -> None:
    cursor.execute(f"PREPARE {name} AS {_numbered(sql) if params else sql}")


def _execute(cursor, name: str, params: Sequence) -> None:
    if params:
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
    else:
        cursor.execute(f"EXECUTE {name}")


def _numbered(sql: str) -> str:
    """``sql``'s ``%s`` placeholders as ``$1``, ``$2``... (and ``%%`` as ``%``), for PREPARE."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%[s%]", lambda m: f"${next(count)}" if m.group() == "%s" else "%", sql)
