"""Small pieces every service uses: validate fully, save with the acting user in the history."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from registry.services.constraints import validate_constraints


def validated_save(instance: models.Model, *, by=None, exclude: list[str] | None = None) -> models.Model:
    """``full_clean`` then save, recording ``by`` as the author of the history row.

    ``full_clean`` turns every model-level invariant (choices, ranges, CHECK and UNIQUE
    constraints) into a ``ValidationError`` with field messages before the database sees it.
    """
    errors = validation_errors(instance, exclude)
    if errors:
        raise ValidationError(errors)
    if by is not None and getattr(by, "is_authenticated", False):
        instance._history_user = by
    instance.save()
    return instance


def validation_errors(instance: models.Model, exclude: list[str] | None = None) -> dict:
    """What ``validated_save`` refuses ``instance`` for, by field (empty: it is valid)."""
    errors: dict = {}
    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    # As full_clean does: constraints only over the fields that passed their own checks.
    skipped = set(exclude or ()) | {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        validate_constraints(instance, skipped)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    return errors


def fail(field: str, message: str) -> None:
    raise ValidationError({field: [message]})
