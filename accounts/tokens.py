"""API tokens: DRF's ``authtoken`` tokens, wrapped so that they expire and are revoked.

A token is valid for ``API_TOKEN_LIFETIME_HOURS`` from its creation; the token endpoint replaces
an expired one. Changing the password or deactivating the account deletes the user's token
(``accounts/signals.py``), so a leaked token dies with the password it was obtained with.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts import user_rows
from registry.selectors import rows as sql_rows
from registry.selectors.memo import ProcessMemo


def token_expired(token: Token, now: dt.datetime | None = None) -> bool:
    lifetime = dt.timedelta(hours=settings.API_TOKEN_LIFETIME_HOURS)
    return token.created + lifetime <= (now or timezone.now())


def fresh_token(user) -> Token:
    """The user's token, replaced by a new one if it has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


_TOKEN_SQL: ProcessMemo[str] = ProcessMemo(limit=4)  # one per database vendor


def _token_sql() -> str:
    tables = (Token._meta.db_table, get_user_model()._meta.db_table)
    return (
        f"SELECT {sql_rows.columns(Token, 't')}, {user_rows.select_list()} "  # noqa: S608 - built from the models
        f"FROM {tables[0]} t JOIN {tables[1]} u ON u.id = t.user_id {user_rows.profile_join()} WHERE t.key = %s"
    )


def token_with_user(key: str) -> Token | None:
    """The token of ``key`` with its user, the user's staff profile and the data version
    (``token.data_version``), in one statement (``accounts.user_rows``)."""
    rows = sql_rows.fetch_all(_TOKEN_SQL.get_or_build(connection.vendor, _token_sql), [key], prepared=True)
    if not rows:
        return None
    row, n = rows[0], sql_rows.width(Token)
    token, user = sql_rows.instance(Token, row[:n]), user_rows.user_from(row[n:])
    token.data_version = user.data_version
    Token.user.field.set_cached_value(token, user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication; a token older than its lifetime is refused (and deleted)."""

    def authenticate_credentials(self, key):
        # DRF's checks, on the token read by ``token_with_user``.
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user = token.user
        if token_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed("Token has expired; ask for a new one at auth/token/.")
        return user, token
