"""The data version: the cache-key part that moves whenever what the cached pages show changes."""

from __future__ import annotations

from django.db import connection

_PENDING = "(SELECT {} FROM registry_dataversion_pending WHERE txid = txid_current_if_assigned())"


def version_columns() -> str:
    """The data version as three columns of a SELECT: a statement that reads something else can
    read it too, without a round trip of its own (the API token's read does)."""
    if connection.vendor == "postgresql":
        pending = ", ".join(_PENDING.format(column) for column in ("txid", "statements"))
        return f"(SELECT value FROM registry_dataversion WHERE id = 1), {pending}"  # noqa: S608 - constant SQL
    return "(SELECT value FROM registry_dataversion WHERE id = 1), NULL, NULL"


def version_of(columns) -> str:
    """The cache-key part from ``version_columns``' three values."""
    return ".".join(str(part) for part in columns if part is not None) or "none"


def data_version() -> str:
    """The ``DataVersion`` counter as a cache-key part (migration 0009 raises it on every write).

    On PostgreSQL the counter moves at commit; a transaction that has written reads its own
    uncommitted state, so its key also names the transaction and how many writing statements it
    has run (a test's request after its own write is not served the page from before it).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {version_columns()}")  # noqa: S608 - constant SQL
        return version_of(cursor.fetchone())
