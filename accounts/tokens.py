"""API tokens: DRF's ``authtoken`` tokens, wrapped so that they expire and are revoked.

A token is valid for ``API_TOKEN_LIFETIME_HOURS`` from its creation; the token endpoint replaces
an expired one. Changing the password or deactivating the account deletes the user's token
(``accounts/signals.py``), so a leaked token dies with the password it was obtained with.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


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


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication; a token older than its lifetime is refused (and deleted)."""

    def authenticate_credentials(self, key):
        # DRF's check, with the user's staff profile in the same query: every endpoint asks the role next.
        try:
            token = Token.objects.select_related("user", "user__staff").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user = token.user
        if token_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed("Token has expired; ask for a new one at auth/token/.")
        return user, token
