"""Writing generated rows fast and safely: the write order, row buffers, PostgreSQL ``COPY`` (``bulk_create``
elsewhere), wiping the registry, and switching the row triggers off for a batch with their rules checked once.

The synthetic program (``devdata.synthetic``) decides what the rows are; this module only writes them.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db import connection, models

from registry.models import (
    Complication,
    DoseChange,
    FollowUp,
    Goal,
    GoalReview,
    Indication,
    Patient,
    Pump,
    Refill,
    ScreeningTrial,
    Site,
    StaffProfile,
    StatusChange,
)

# Parents before children: the refill trigger reads its pump's row, a status change's trigger its
# patient's primary indication (written after it, every status change would be written twice).
ORDER = [Patient, Indication, StatusChange, ScreeningTrial, Pump, Refill, DoseChange, FollowUp, Goal, GoalReview]
ORDER.append(Complication)
# Written with their ids, which the generator reserves per patient (children point at them).
EXPLICIT_IDS = {Patient, Pump, Goal}


class Table:
    """Rows of one model collected as tuples in column order, with each field's default.

    Patients, pumps and goals carry their ids (children point at them); the other tables leave
    the id to the database sequence, so a chunk of patients can be built without knowing how
    many rows the chunks before it had (see ``devdata.synthetic.generate``).
    """

    def __init__(self, model: type[models.Model], now: dt.datetime):
        self.model = model
        fields = [f for f in model._meta.concrete_fields if model in EXPLICIT_IDS or not f.primary_key]
        self.columns = [f.column for f in fields]
        self.attnames = [f.attname for f in fields]
        self.defaults = {}
        for f in fields:
            auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            self.defaults[f.attname] = now if auto else f.get_default()
        self.rows: list[tuple] = []

    def add(self, **values) -> None:
        row = {**self.defaults, **values}
        if len(row) != len(self.defaults):
            raise TypeError(f"unknown {self.model.__name__} fields: {sorted(set(row) - set(self.defaults))}")
        self.rows.append(tuple(row.values()))

    def take(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        return rows


# COPY's text format: tab-separated, \N for NULL; backslash, tab and line breaks escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[tuple]) -> bytes:
    """The rows in COPY's text format: built in the worker, so the main process only streams bytes.

    ``str`` gives what PostgreSQL reads for the other values: int, Decimal, date, an aware
    datetime (ISO with its offset), bool ("True"). Inline, as this runs for every value.
    """
    escapes = _COPY_ESCAPES
    lines = [
        "\t".join(["\\N" if v is None else v.translate(escapes) if v.__class__ is str else str(v) for v in row])
        for row in rows
    ]
    lines.append("")
    return "\n".join(lines).encode()


def write_rows(table: Table, payload) -> None:
    """COPY ``payload`` (bytes from ``copy_text``) on PostgreSQL; ``bulk_create`` the row tuples elsewhere."""
    model = table.model
    if connection.vendor == "postgresql":
        columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        with connection.cursor() as cursor:
            sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                copy.write(payload)
    else:
        objs = [model(**dict(zip(table.attnames, row, strict=True))) for row in payload]
        model.objects.bulk_create(objs, batch_size=500)


def clear_registry() -> None:
    """Wipe every clinical table and the sites (staff profiles and users stay)."""
    registry_models = [
        m for m in apps.get_app_config("registry").get_models(include_auto_created=True) if m is not StaffProfile
    ]
    tables = [m._meta.db_table for m in registry_models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks of rows inserted earlier in this transaction must fire
            # before a TRUNCATE (PostgreSQL refuses to truncate with trigger events pending).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            others = [m for m in registry_models if m not in ORDER and m is not Site]
            for model in [*others, *reversed(ORDER), Site]:
                cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 - table names from models
            for table in tables:
                cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])


# The row triggers of migration 0002 that a COPY fires: each runs a three-table look-up per row,
# more work than the insert itself. For the generator's COPYs they are switched off
# inside the batch's transaction, the same rules are checked once for the whole batch by
# ``GUARD_CHECK``, and they are switched on again before the commit: no other session ever sees
# them off, and a failure rolls back the rows and the switch together.
GUARDED = {Refill: "registry_refill_guard", DoseChange: "registry_dose_change_guard"}
GUARD_CHECK = """
SELECT
  (SELECT count(*) FROM registry_pump pu JOIN registry_refill r ON r.pump_id = pu.id
     JOIN registry_patient pa ON pa.id = pu.patient_id JOIN registry_site s ON s.id = pa.site_id
    WHERE pu.id BETWEEN %(low)s AND %(high)s
      AND (r.volume_after_ml > pu.reservoir_volume_ml
           OR (r.performed_at AT TIME ZONE s.time_zone)::date < pu.implant_date)),
  (SELECT count(*) FROM registry_pump pu JOIN registry_dosechange d ON d.pump_id = pu.id
     JOIN registry_patient pa ON pa.id = pu.patient_id JOIN registry_site s ON s.id = pa.site_id
    WHERE pu.id BETWEEN %(low)s AND %(high)s
      AND (d.effective_at AT TIME ZONE s.time_zone)::date < pu.implant_date)
"""


def switch_guards(cursor, on: bool) -> None:
    """PostgreSQL alters no table with foreign-key checks pending, so they run per statement
    (IMMEDIATE) while the guards are off; the usual DEFERRED comes back with them."""
    verb = "ENABLE" if on else "DISABLE"
    if not on:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for model, trigger in GUARDED.items():
        cursor.execute(f"ALTER TABLE {model._meta.db_table} {verb} TRIGGER {trigger}")
    if on:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
