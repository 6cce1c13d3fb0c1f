"""Calendar subscriptions: one secret link per user, shown once, stored only as its SHA-256 digest.

A calendar program (Outlook, Google Calendar) cannot log in, so the link itself is the credential:
whoever holds it reads the visits of the user's clinics (initials and MRN only). Creating a new
link revokes the old one; revoking deletes it.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from registry.models import CalendarFeed


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_calendar_feed(*, user) -> str:
    """A new secret for ``user`` (the previous one stops working). Returned once, never stored."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token_digest": _digest(token)})
    return token


def revoke_calendar_feed(*, user) -> bool:
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


def calendar_feed_user(token: str):
    """The active user a secret belongs to, or None."""
    feed = CalendarFeed.objects.filter(token_digest=_digest(token), user__is_active=True).select_related("user").first()
    return feed.user if feed is not None else None
