"""Long statements planned once per database connection (PostgreSQL ``PREPARE``).

The worklist's page is one statement of some 20,000 characters whose text depends only on the
day, the sites and the window (``worklist._STATEMENTS``): planning it took longer than running it.
So did the one-row reads every request makes (an API token or a session's user, the header's
reminder count), whose plan took longer than their run. Prepared on the connection the first time it
runs there, a statement is then executed without planning, with its parameters as literals;
PostgreSQL plans it again by itself when a table's statistics or schema change. Behind PgBouncer in
transaction pooling (``DATABASE_POOLED``) a prepared statement would not follow the next
transaction to its server connection, so there the statement is simply run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connection

# The names prepared on each open connection (a new connection starts with none).
_PREPARED: WeakKeyDictionary[object, set[str]] = WeakKeyDictionary()
# Statements kept per connection: past this many, all are dropped (a day's pages use a few).
_KEPT = 64


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
        cursor.execute(f"PREPARE {name} AS {_numbered(sql) if params else sql}")
        names.add(name)
    if params:
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
    else:
        cursor.execute(f"EXECUTE {name}")


def _numbered(sql: str) -> str:
    """``sql``'s ``%s`` placeholders as ``$1``, ``$2``... (and ``%%`` as ``%``), for PREPARE."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%[s%]", lambda m: f"${next(count)}" if m.group() == "%s" else "%", sql)
