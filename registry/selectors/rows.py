"""Model instances from the rows of hand-written SQL: every column in field order, converted as the ORM converts it.

For reads whose SQL is built once per process: the ORM builds and compiles a statement for every
query, which for a one-row read costs more than running it.
"""

from __future__ import annotations

from django.db import connection, models
from django.db.models.base import ModelState

from registry.selectors.prepared import execute_prepared

# (model, vendor) -> each converted column's position, its converters and its expression.
_CONVERTERS: dict[tuple[type, str], list[tuple[int, list, object]]] = {}


def fetch_all(sql: str, params=None, *, prepared: bool = False) -> list[tuple]:
    """Every row of ``sql`` on a plain cursor; ``prepared``: planned once per connection
    (``registry.selectors.prepared``), for a statement run on every request."""
    with connection.cursor() as cursor:
        if prepared:
            execute_prepared(cursor, sql, params or ())
        else:
            cursor.execute(sql, params)
        return cursor.fetchall()


def columns(model: type[models.Model], alias: str) -> str:
    """``model``'s columns of table ``alias``, in field order, for a SELECT list."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def width(model: type[models.Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(model: type[models.Model], values) -> models.Model:
    """An instance of ``model`` from ``columns(model, ...)``'s values (a JSON field's text and
    SQLite's dates converted as the ORM would)."""
    key = (model, connection.vendor)
    if key not in _CONVERTERS:
        found = []
        for i, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if functions:
                found.append((i, functions, column))
        _CONVERTERS[key] = found
    values = list(values)
    for i, functions, column in _CONVERTERS[key]:
        for convert in functions:
            values[i] = convert(values[i], column, connection)
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], values)


def loaded(model, names, values):
    """``model.from_db(alias, names, values)`` without ``Model.__init__``, for values that need no
    conversion (the worklist's, on PostgreSQL): the row's values set as loaded, the other fields
    deferred as ``only()`` leaves them. A page builds some hundred instances, and ``__init__`` walks
    every field of each (no init signals are connected to these models: a test holds it).
    """
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, connection.alias
    return instance
