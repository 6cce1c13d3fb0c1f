"""Small pieces every service uses: validate fully, save with the acting user in the history."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


def validated_save(instance: models.Model, *, by=None, exclude: list[str] | None = None) -> models.Model:
    """``full_clean`` then save, recording ``by`` as the author of the history row.

    ``full_clean`` turns every model-level invariant (choices, ranges, CHECK and UNIQUE
    constraints) into a ``ValidationError`` with field messages before the database sees it.
    """
    instance.full_clean(exclude=exclude)
    if by is not None and getattr(by, "is_authenticated", False):
        instance._history_user = by
    instance.save()
    return instance


def fail(field: str, message: str) -> None:
    raise ValidationError({field: [message]})
