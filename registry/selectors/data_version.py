"""The data version: the cache-key part that moves whenever what the cached pages show changes."""

from __future__ import annotations

from django.db import connection


def data_version() -> str:
    """The ``DataVersion`` counter as a cache-key part (migration 0009 raises it on every write).

    On PostgreSQL the counter moves at commit; a transaction that has written reads its own
    uncommitted state, so its key also names the transaction and how many writing statements it
    has run (a test's request after its own write is not served the page from before it).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT (SELECT value FROM registry_dataversion WHERE id = 1), p.txid, p.statements"
                " FROM (SELECT 1) one LEFT JOIN registry_dataversion_pending p ON p.txid = txid_current_if_assigned()"
            )
        else:
            cursor.execute("SELECT value, NULL, NULL FROM registry_dataversion WHERE id = 1")
        row = cursor.fetchone() or (None, None, None)
    return ".".join(str(part) for part in row if part is not None) or "none"
