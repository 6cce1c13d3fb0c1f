"""Small pieces every service uses: validate fully, save with the acting user in the history."""

from __future__ import annotations

import operator

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from registry.services.constraints import validate_constraints


def validated_save(instance: models.Model, *, by=None, exclude: list[str] | None = None) -> models.Model:
    """``full_clean`` then save, recording ``by`` as the author of the history row.

    ``full_clean`` turns every model-level invariant (choices, ranges, CHECK and UNIQUE
    constraints) into a ``ValidationError`` with field messages before the database sees it.
    """
    validated(instance, exclude)
    if history_user(by) is not None:
        instance._history_user = by
    instance.save()
    return instance


def validated(instance: models.Model, exclude: list[str] | None = None, *, unique: bool = True) -> models.Model:
    """``instance`` unsaved, refused with a ``ValidationError`` where ``validated_save`` would refuse it.

    ``unique=False``: without the uniqueness checks, which read the database (a caller that holds
    the records to compare with checks them itself; the database refuses a duplicate either way)."""
    errors = validation_errors(instance, exclude, unique=unique)
    if errors:
        raise ValidationError(errors)
    return instance


def history_user(by):
    """The user a history row names as its author: ``by`` when logged in, else nobody."""
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def bulk_saved(model: type[models.Model], records: list, *, by=None) -> None:
    """Insert ``records`` (already validated) with their history rows, ``by`` as their author; each
    record gets its id, for its children. PostgreSQL: by COPY, the ids drawn from the table's sequence."""
    if not records:
        return
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        bulk_create_with_history(records, model, batch_size=500, default_user=history_user(by))
        return
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(records)],
        )
        for record, (pk,) in zip(records, cursor.fetchall(), strict=True):
            record._prepare_related_fields_for_save(operation_name="bulk_create")
            record.pk = pk
        fields = model._meta.concrete_fields
        values = [_db_value(f, db) for f in fields]
        _copy(db, cursor, model._meta.db_table, [f.column for f in fields], ([v(r) for v in values] for r in records))
        history = model.history.model
        tracked = [_db_value(f, db, stamp=False) for f in history.tracked_fields]  # stamped just above
        extra = [timezone.now(), "", "+", getattr(history_user(by), "pk", None)]
        rows = ([*(v(r) for v in tracked), *extra] for r in records)
        columns = [history._meta.get_field(f.attname).column for f in history.tracked_fields]
        extra_columns = ["history_date", "history_change_reason", "history_type", "history_user_id"]
        _copy(db, cursor, history._meta.db_table, [*columns, *extra_columns], rows)
    for record in records:
        record._state.adding, record._state.db = False, db.alias


# Values psycopg sends as they are: Django's conversion before a save would not change them.
_SENT_AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _db_value(field, db, *, stamp: bool = True):
    """How to read ``field``'s value of a record for the database, as ``Model.save`` would send it
    (``stamp``: an ``auto_now`` field is set first, as an insert sets it)."""
    stamped = stamp and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
    if field.get_internal_type() in _SENT_AS_IS and not stamped:
        return operator.attrgetter(field.attname)
    if stamped:
        return lambda record: field.get_db_prep_save(field.pre_save(record, True), db)
    return lambda record: field.get_db_prep_save(getattr(record, field.attname), db)


def _copy(db, cursor, table: str, columns: list[str], rows) -> None:
    names = ", ".join(db.ops.quote_name(c) for c in columns)
    sql = f"COPY {db.ops.quote_name(table)} ({names}) FROM STDIN"
    with db.wrap_database_errors, cursor.cursor.copy(sql) as copy:  # the driver's cursor: Django's errors
        for row in rows:
            copy.write_row(row)


def validation_errors(instance: models.Model, exclude: list[str] | None = None, *, unique: bool = True) -> dict:
    """What ``validated_save`` refuses ``instance`` for, by field (empty: it is valid)."""
    errors: dict = {}
    try:
        instance.full_clean(exclude=exclude, validate_unique=unique, validate_constraints=False)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    # As full_clean does: constraints only over the fields that passed their own checks.
    skipped = set(exclude or ()) | {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        validate_constraints(instance, skipped, unique=unique)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    return errors


def fail(field: str, message: str) -> None:
    raise ValidationError({field: [message]})
