"""Django's PostgreSQL backend with a health check that costs no round trip.

Django's check (``CONN_HEALTH_CHECKS``) sends ``SELECT 1`` before each request's first statement:
on a cached page that was one of its two database round trips. An idle connection has nothing to
read, so this check asks the socket instead: a server that restarted, or ended the session, has
sent its goodbye or closed the socket, which makes it readable, and the connection is replaced.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        # Anything waiting on an idle connection (an error, a notice, end of file): start afresh.
        return not readable
