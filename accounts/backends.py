"""Django's model backend, reading a session's user with its staff profile and the data version in
one statement built once per process (``accounts.user_rows``), as the API token's read does."""

from __future__ import annotations

from django.contrib.auth import backends, get_user_model
from django.core.exceptions import ValidationError
from django.db import connection

from accounts import user_rows
from registry.selectors import rows as sql_rows
from registry.selectors.memo import ProcessMemo

_USER_SQL: ProcessMemo[str] = ProcessMemo(limit=4)  # one per database vendor


def _user_sql() -> str:
    table = get_user_model()._meta.db_table
    return f"SELECT {user_rows.select_list()} FROM {table} u {user_rows.profile_join()} WHERE u.id = %s"  # noqa: S608


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        rows = sql_rows.fetch_all(_USER_SQL.get_or_build(connection.vendor, _user_sql), [pk], prepared=True)
        if not rows:
            return None
        user = user_rows.user_from(rows[0])
        return user if self.user_can_authenticate(user) else None
