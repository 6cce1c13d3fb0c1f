"""A model's constraints checked before its save, the CHECK constraints in Python where they can be.

Django checks each CHECK constraint with its own query (in a savepoint when inside a transaction):
three round trips per constraint for every saved row. The registry's conditions are plain
comparisons of the row's own fields, which Python answers exactly, with SQL's rule for NULL (an
unknown condition passes, as it does in the database). A condition this cannot read (a lookup
through a relation, an expression) is checked by Django's query as before; the database enforces
every constraint on the write either way.
"""

from __future__ import annotations

import operator

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, router
from django.db.models.expressions import F

_LOOKUPS = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class _Unreadable(Exception):
    """The condition holds something Python does not evaluate here."""


class _Skipped(Exception):
    """The condition reads a field left out of the check (as Django skips it)."""


def _field_value(instance: models.Model, name: str, exclude: set[str]):
    try:
        field = instance._meta.get_field("id" if name == "pk" else name)
    except FieldDoesNotExist:
        raise _Unreadable from None
    if field.is_relation:
        raise _Unreadable
    if field.name in exclude or getattr(field, "generated", False):
        raise _Skipped
    value = getattr(instance, field.attname)
    if hasattr(value, "resolve_expression"):  # a database default or an expression: only SQL knows
        raise _Unreadable
    return value


def _operand(instance: models.Model, value, exclude: set[str]):
    if isinstance(value, F):
        return _field_value(instance, value.name, exclude)
    if hasattr(value, "resolve_expression"):
        raise _Unreadable
    return value


def _lookup(instance: models.Model, key: str, value, exclude: set[str]) -> bool | None:
    """One ``field__lookup=value`` term: True, False, or None for SQL's unknown (a NULL compared)."""
    name, _, lookup = key.partition("__")
    lookup = lookup or "exact"
    if "__" in lookup:
        raise _Unreadable
    left = _field_value(instance, name, exclude)
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise _Unreadable
        return (left is None) == value
    if lookup == "in":
        if hasattr(value, "resolve_expression"):
            raise _Unreadable
        options = [_operand(instance, v, exclude) for v in value]
        if left is None:
            return None
        if left in options:
            return True
        return None if any(o is None for o in options) else False
    compare = _LOOKUPS.get(lookup)
    if compare is None:
        raise _Unreadable
    if value is None and lookup == "exact":  # Django reads field=None as IS NULL
        return left is None
    right = _operand(instance, value, exclude)
    if left is None or right is None:
        return None
    return compare(left, right)


def evaluate(condition: models.Q, instance: models.Model, exclude: set[str]) -> bool | None:
    """``condition`` on ``instance`` in SQL's three values; raises ``_Unreadable`` or ``_Skipped``."""
    results = []
    for child in condition.children:
        if isinstance(child, models.Q):
            results.append(evaluate(child, instance, exclude))
        elif isinstance(child, tuple):
            results.append(_lookup(instance, child[0], child[1], exclude))
        else:
            raise _Unreadable
    if condition.connector == models.Q.AND:
        value = False if False in results else None if None in results else True
    elif condition.connector == models.Q.OR:
        value = True if True in results else None if None in results else False
    else:
        raise _Unreadable
    return (None if value is None else not value) if condition.negated else value


def _check_holds(constraint: models.CheckConstraint, instance: models.Model, exclude: set[str]) -> bool | None:
    """Whether the CHECK passes as the database would say; None when Python cannot tell."""
    condition = constraint.condition
    if not isinstance(condition, models.Q):
        return None
    try:
        return evaluate(condition, instance, exclude) is not False
    except _Skipped:
        return True
    except _Unreadable:
        return None


def constraint_message(model: type[models.Model], name: str) -> str:
    """The words the database's constraint ``name`` on ``model`` is refused with."""
    return next(c for c in model._meta.constraints if c.name == name).get_violation_error_message()


def validate_constraints(instance: models.Model, exclude: set[str], *, unique: bool = True) -> None:
    """``Model.validate_constraints``, the same errors, with the CHECK constraints read in Python
    (``unique=False``: the unique constraints left out)."""
    using = router.db_for_write(instance.__class__, instance=instance)
    errors: dict = {}
    for model_class, constraints in instance.get_constraints():
        for constraint in constraints:
            if not unique and isinstance(constraint, models.UniqueConstraint):
                continue
            try:
                holds = None
                if isinstance(constraint, models.CheckConstraint):
                    holds = _check_holds(constraint, instance, exclude)
                if holds is None:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
                elif not holds:
                    raise ValidationError(
                        constraint.get_violation_error_message(), code=constraint.violation_error_code
                    )
            except ValidationError as error:
                if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
