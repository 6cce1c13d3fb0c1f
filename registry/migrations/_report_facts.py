"""Triggers that keep the report's stored facts equal to the rows they come from (the loader skips
this module: its name starts with an underscore).

- ``FollowUp.due_site``: the site of the patient's stay holding the visit's due date. Set on each
  visit written (a new visit, a change of patient or due date) and restated for a patient's
  visits whenever their stays change.
- ``PumpSpan``: per pump and overlapping stay, the days the pump was in place at that stay's site,
  cut at the explant, the patient's death (their first "deceased" status) and the stay's ends.
  A patient's spans are written again whenever their pumps, stays or deaths change.

PostgreSQL: a row trigger sets a visit's site before it is written; statement-level triggers with
transition tables restate the patients touched, once per statement (a bulk COPY included); an
update that changes none of the columns a fact comes from touches nobody. SQLite: row-level
triggers, the visit corrected after it is written (SQLite cannot assign NEW).
"""

from dataclasses import dataclass

NO_END = "'9999-12-31'"  # an open end, so that one LEAST/MIN serves both databases
# A cached plan made while the tables were small (a bulk load's first batch) scans them whole ever after.
PLANNED_EACH_TIME = "SET plan_cache_mode = force_custom_plan"
# Before a fill: a database copied or restored without statistics gets plans that read whole tables per row.
ANALYZE = (
    "ANALYZE registry_sitestay, registry_followup, registry_pump, registry_statuschange,"
    " registry_goal, registry_goalreview, registry_indication"
)


def _site_on(patient: str, day: str) -> str:
    """The site of the patient's stay holding ``day`` (the one started last, should two overlap)."""
    # Ordered by a column no index has: the planner reads the patient's stays by their index,
    # never a whole index in order hoping to meet the patient soon.
    return f"""(SELECT st.site_id FROM registry_sitestay st WHERE st.patient_id = {patient}
                   AND (st.started_on IS NULL OR st.started_on <= {day})
                   AND (st.ended_on IS NULL OR st.ended_on > {day})
                 ORDER BY st.started_on DESC NULLS LAST LIMIT 1)"""


def _spans(vendor: str, patient: str | None = None) -> str:
    """The non-empty pump spans: every patient's, or those of ``patient`` (an SQL expression)."""
    least, greatest = ("LEAST", "GREATEST") if vendor == "postgresql" else ("MIN", "MAX")
    died = """(SELECT MIN(d.changed_on) FROM registry_statuschange d
                WHERE d.patient_id = pu.patient_id AND d.to_status = 'deceased')"""
    chosen = "" if patient is None else f"WHERE pu.patient_id = {patient} AND st.patient_id = {patient}"
    return f"""
        SELECT patient_id, site_id, started_on, NULLIF(ended_on, {NO_END}) FROM (
          SELECT pu.patient_id, st.site_id,
                 {greatest}(pu.implant_date, COALESCE(st.started_on, pu.implant_date)) AS started_on,
                 {least}(COALESCE(pu.explant_date, {NO_END}), COALESCE(st.ended_on, {NO_END}),
                         COALESCE({died}, {NO_END})) AS ended_on
            FROM registry_pump pu JOIN registry_sitestay st ON st.patient_id = pu.patient_id
           {chosen}) s
         WHERE ended_on > started_on"""


def _refresh_spans(vendor: str, patients: str) -> str:
    if vendor == "postgresql":
        # Patient by patient (LATERAL, kept apart by OFFSET 0): each one's rows read by index,
        # whatever the statistics say while a bulk load is under way.
        spans = f"""SELECT s.* FROM (SELECT DISTINCT patient_id FROM ({patients}) p) t,
                    LATERAL ({_spans(vendor, "t.patient_id")} OFFSET 0) s"""
    else:
        spans = _spans(vendor, patients)  # a row trigger's one patient
    return f"""DELETE FROM registry_pumpspan WHERE patient_id IN ({patients});
               INSERT INTO registry_pumpspan (patient_id, site_id, started_on, ended_on) {spans};"""


def _refresh_due_sites(vendor: str, patients: str) -> str:
    site = _site_on("registry_followup.patient_id", "registry_followup.due_date")
    differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    stale = f"patient_id IN ({patients}) AND due_site_id {differs} {site}"
    update = f"UPDATE registry_followup SET due_site_id = {site} WHERE {stale};"
    if vendor == "postgresql":
        # An UPDATE of no rows still fires the visits' statement triggers (a new patient's stay has none).
        return f"IF EXISTS (SELECT 1 FROM registry_followup WHERE {stale}) THEN {update} END IF;"  # noqa: S608
    return update


@dataclass
class Source:
    """A table a fact comes from: the columns it is read from, and which rows count (SQL on a row)."""

    table: str
    columns: tuple[str, ...]
    counts: str = "1 = 1"

    def _pg_touched(self, op: str) -> str:
        """The patients a statement touched, from its transition tables."""
        if op == "insert":
            return f"SELECT patient_id FROM new_rows r WHERE {self.counts.format(r='r')}"
        if op == "delete":
            return f"SELECT patient_id FROM old_rows r WHERE {self.counts.format(r='r')}"
        # The rows whose columns changed, as they were and as they are (set differences, not a
        # join: the planner knows nothing of the transition tables but their sizes).
        rows = ", ".join(("id", *self.columns))
        new = f"SELECT {rows} FROM new_rows r WHERE {self.counts.format(r='r')}"
        old = f"SELECT {rows} FROM old_rows r WHERE {self.counts.format(r='r')}"
        return f"SELECT patient_id FROM ({new} EXCEPT {old}) n UNION SELECT patient_id FROM ({old} EXCEPT {new}) o"

    def postgres(self, fact: str, refresh) -> list[str]:
        statements = []
        for op in ("insert", "update", "delete"):
            name = f"{self.table}_{fact}_{op}"
            tables = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}.get(
                op, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
            )
            statements += [
                f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql {PLANNED_EACH_TIME} AS $$
                    BEGIN {refresh(self._pg_touched(op))} RETURN NULL; END $$""",
                f"""CREATE TRIGGER {name} AFTER {op.upper()} ON {self.table} REFERENCING {tables}
                    FOR EACH STATEMENT EXECUTE FUNCTION {name}()""",
            ]
        return statements

    def postgres_drop(self, fact: str) -> list[str]:
        statements = []
        for op in ("insert", "update", "delete"):
            name = f"{self.table}_{fact}_{op}"
            statements += [f"DROP TRIGGER IF EXISTS {name} ON {self.table}", f"DROP FUNCTION IF EXISTS {name}()"]
        return statements

    def sqlite(self, fact: str, refresh) -> list[str]:
        t, name, c = self.table, f"{self.table}_{fact}", self.counts
        return [
            f"""CREATE TRIGGER {name}_insert AFTER INSERT ON {t} WHEN {c.format(r="NEW")}
                BEGIN {refresh("NEW.patient_id")} END""",
            f"""CREATE TRIGGER {name}_update AFTER UPDATE OF {", ".join(self.columns)} ON {t}
                WHEN {c.format(r="NEW")} OR {c.format(r="OLD")}
                BEGIN {refresh("OLD.patient_id")} {refresh("NEW.patient_id")} END""",
            f"""CREATE TRIGGER {name}_delete AFTER DELETE ON {t} WHEN {c.format(r="OLD")}
                BEGIN {refresh("OLD.patient_id")} END""",
        ]

    def sqlite_drop(self, fact: str) -> list[str]:
        return [f"DROP TRIGGER IF EXISTS {self.table}_{fact}_{op}" for op in ("insert", "update", "delete")]


STAYS = Source("registry_sitestay", ("patient_id", "site_id", "started_on", "ended_on"))
PUMPS = Source("registry_pump", ("patient_id", "implant_date", "explant_date"))
DEATHS = Source("registry_statuschange", ("patient_id", "changed_on", "to_status"), "{r}.to_status = 'deceased'")
# (fact, the tables it comes from, its refresh: (vendor, SQL of the patients touched) -> SQL)
FACTS = [("due_site", [STAYS], _refresh_due_sites), ("pump_span", [PUMPS, STAYS, DEATHS], _refresh_spans)]

POSTGRES_VISIT = [
    f"""CREATE FUNCTION registry_followup_due_site() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.due_site_id := {_site_on("NEW.patient_id", "NEW.due_date")}; RETURN NEW; END $$""",
    """CREATE TRIGGER registry_followup_due_site BEFORE INSERT OR UPDATE OF patient_id, due_date, due_site_id
       ON registry_followup FOR EACH ROW EXECUTE FUNCTION registry_followup_due_site()""",
]
POSTGRES_VISIT_DROP = [
    "DROP TRIGGER IF EXISTS registry_followup_due_site ON registry_followup",
    "DROP FUNCTION IF EXISTS registry_followup_due_site()",
]
_SQLITE_SET = (
    f"UPDATE registry_followup SET due_site_id = {_site_on('NEW.patient_id', 'NEW.due_date')} WHERE id = NEW.id;"
)
SQLITE_VISIT = [
    f"CREATE TRIGGER registry_followup_due_site_insert AFTER INSERT ON registry_followup BEGIN {_SQLITE_SET} END",
    f"""CREATE TRIGGER registry_followup_due_site_update AFTER UPDATE OF patient_id, due_date, due_site_id
        ON registry_followup BEGIN {_SQLITE_SET} END""",
]
SQLITE_VISIT_DROP = [
    "DROP TRIGGER IF EXISTS registry_followup_due_site_insert",
    "DROP TRIGGER IF EXISTS registry_followup_due_site_update",
]


def _fill(vendor: str) -> list[str]:
    """The rows already written, once, before the triggers exist."""
    site = _site_on("registry_followup.patient_id", "registry_followup.due_date")
    visits = f"UPDATE registry_followup SET due_site_id = {site}"
    spans = f"INSERT INTO registry_pumpspan (patient_id, site_id, started_on, ended_on) {_spans(vendor)}"
    return [visits, spans]


def _vendor(schema_editor, facts: str) -> str:
    """The database's vendor: the triggers are written for PostgreSQL and SQLite only."""
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"no {facts} triggers written for the {vendor} database")
    return vendor


def _locked(*tables: str) -> list[str]:
    """PostgreSQL's first statements before a fill: nothing the facts come from is written between
    the fill and the triggers, and the planner has fresh statistics."""
    return [f"LOCK TABLE {', '.join(tables)} IN SHARE MODE", ANALYZE]


def _run(schema_editor, statements) -> None:
    for sql in statements:
        schema_editor.execute(sql, params=None)


def create(apps, schema_editor):
    vendor = _vendor(schema_editor, "report fact")
    statements = []
    if vendor == "postgresql":
        statements += _locked("registry_followup", "registry_sitestay", "registry_pump", "registry_statuschange")
    statements += _fill(vendor)
    statements += POSTGRES_VISIT if vendor == "postgresql" else SQLITE_VISIT
    for fact, sources, refresh in FACTS:
        for source in sources:
            make = source.postgres if vendor == "postgresql" else source.sqlite
            statements += make(fact, lambda patients, refresh=refresh: refresh(vendor, patients))
    _run(schema_editor, statements)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = list(POSTGRES_VISIT_DROP if vendor == "postgresql" else SQLITE_VISIT_DROP)
    for fact, sources, _ in FACTS:
        for source in sources:
            statements += source.postgres_drop(fact) if vendor == "postgresql" else source.sqlite_drop(fact)
    _run(schema_editor, [*statements, "DELETE FROM registry_pumpspan", "UPDATE registry_followup SET due_site_id = NULL"])


# --- The goal's patient, category, weight and date set, copied onto each of its reviews ----------

GOAL_COPIES = ("patient_id", "category", "weight", "set_on")
REVIEW_COPIES = ("patient_id", "category", "weight", "goal_set_on")
_COPIED = ", ".join(REVIEW_COPIES)
_FROM_GOAL = f"SELECT {', '.join(GOAL_COPIES)} FROM registry_goal WHERE id = NEW.goal_id"

POSTGRES_GOALS = [
    f"""CREATE FUNCTION registry_goalreview_copies() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN SELECT {", ".join(f"g.{c}" for c in GOAL_COPIES)} INTO {", ".join(f"NEW.{c}" for c in REVIEW_COPIES)}
                FROM registry_goal g WHERE g.id = NEW.goal_id;
              RETURN NEW; END $$""",
    f"""CREATE TRIGGER registry_goalreview_copies BEFORE INSERT OR UPDATE OF goal_id, {_COPIED}
        ON registry_goalreview FOR EACH ROW EXECUTE FUNCTION registry_goalreview_copies()""",
    f"""CREATE FUNCTION registry_goal_copies() RETURNS trigger LANGUAGE plpgsql {PLANNED_EACH_TIME} AS $$
        BEGIN UPDATE registry_goalreview r SET ({_COPIED}) = ({", ".join(f"n.{c}" for c in GOAL_COPIES)})
                FROM (SELECT id, {", ".join(GOAL_COPIES)} FROM new_rows
                      EXCEPT SELECT id, {", ".join(GOAL_COPIES)} FROM old_rows) n
               WHERE r.goal_id = n.id;
              RETURN NULL; END $$""",
    """CREATE TRIGGER registry_goal_copies AFTER UPDATE ON registry_goal
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_goal_copies()""",
]
POSTGRES_GOALS_DROP = [
    "DROP TRIGGER IF EXISTS registry_goalreview_copies ON registry_goalreview",
    "DROP TRIGGER IF EXISTS registry_goal_copies ON registry_goal",
    "DROP FUNCTION IF EXISTS registry_goalreview_copies()",
    "DROP FUNCTION IF EXISTS registry_goal_copies()",
]
_SQLITE_COPY = f"UPDATE registry_goalreview SET ({_COPIED}) = ({_FROM_GOAL}) WHERE id = NEW.id;"
SQLITE_GOALS = [
    f"CREATE TRIGGER registry_goalreview_copies_insert AFTER INSERT ON registry_goalreview BEGIN {_SQLITE_COPY} END",
    f"""CREATE TRIGGER registry_goalreview_copies_update AFTER UPDATE OF goal_id, {_COPIED} ON registry_goalreview
        BEGIN {_SQLITE_COPY} END""",
    f"""CREATE TRIGGER registry_goal_copies AFTER UPDATE OF {", ".join(GOAL_COPIES)} ON registry_goal
        BEGIN UPDATE registry_goalreview SET ({_COPIED}) = ({", ".join(f"NEW.{c}" for c in GOAL_COPIES)})
               WHERE goal_id = NEW.id; END""",
]
SQLITE_GOALS_DROP = [
    "DROP TRIGGER IF EXISTS registry_goalreview_copies_insert",
    "DROP TRIGGER IF EXISTS registry_goalreview_copies_update",
    "DROP TRIGGER IF EXISTS registry_goal_copies",
]


def create_goal_copies(apps, schema_editor):
    vendor = _vendor(schema_editor, "goal review")
    fill = f"""UPDATE registry_goalreview SET ({_COPIED}) = (
                 SELECT {", ".join(GOAL_COPIES)} FROM registry_goal WHERE id = registry_goalreview.goal_id)"""
    statements = [fill, *(POSTGRES_GOALS if vendor == "postgresql" else SQLITE_GOALS)]
    if vendor == "postgresql":
        statements[:0] = _locked("registry_goal", "registry_goalreview")
    _run(schema_editor, statements)


def drop_goal_copies(apps, schema_editor):
    _run(schema_editor, POSTGRES_GOALS_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_GOALS_DROP)


# --- The patient's primary indication, copied onto each of their status changes -------------------

_PRIMARY = "(SELECT {c} FROM registry_indication i WHERE i.patient_id = {p} AND i.is_primary)"
_INDICATION_COPIES = {"primary_diagnosis": "diagnosis", "primary_gmfcs_level": "gmfcs_level"}


def _primary(patient: str) -> str:
    """The copies' assignments from the patient's primary indication (empty without one)."""
    return ", ".join(f"{copy} = {_PRIMARY.format(c=f'i.{c}', p=patient)}" for copy, c in _INDICATION_COPIES.items())


def _refresh_indications(vendor: str, patients: str) -> str:
    t = "registry_statuschange"
    differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(
        f"{copy} {differs} {_PRIMARY.format(c=f'i.{c}', p=f'{t}.patient_id')}" for copy, c in _INDICATION_COPIES.items()
    )
    return f"UPDATE {t} SET {_primary(f'{t}.patient_id')} WHERE patient_id IN ({patients}) AND ({changed});"


INDICATIONS = Source("registry_indication", ("patient_id", "is_primary", "diagnosis", "gmfcs_level"))
_STATUS_COLUMNS = f"patient_id, {', '.join(_INDICATION_COPIES)}"

POSTGRES_STATUS = [
    # SELECT INTO sets both to NULL when the patient has no primary indication.
    """CREATE FUNCTION registry_statuschange_indication() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN SELECT i.diagnosis, i.gmfcs_level INTO NEW.primary_diagnosis, NEW.primary_gmfcs_level
                FROM registry_indication i WHERE i.patient_id = NEW.patient_id AND i.is_primary;
              RETURN NEW; END $$""",
    f"""CREATE TRIGGER registry_statuschange_indication BEFORE INSERT OR UPDATE OF {_STATUS_COLUMNS}
        ON registry_statuschange FOR EACH ROW EXECUTE FUNCTION registry_statuschange_indication()""",
]
POSTGRES_STATUS_DROP = [
    "DROP TRIGGER IF EXISTS registry_statuschange_indication ON registry_statuschange",
    "DROP FUNCTION IF EXISTS registry_statuschange_indication()",
]
_SQLITE_STATUS = f"UPDATE registry_statuschange SET {_primary('NEW.patient_id')} WHERE id = NEW.id;"
SQLITE_STATUS = [
    f"""CREATE TRIGGER registry_statuschange_indication_insert AFTER INSERT ON registry_statuschange
        BEGIN {_SQLITE_STATUS} END""",
    f"""CREATE TRIGGER registry_statuschange_indication_update AFTER UPDATE OF {_STATUS_COLUMNS}
        ON registry_statuschange BEGIN {_SQLITE_STATUS} END""",
]
SQLITE_STATUS_DROP = [
    "DROP TRIGGER IF EXISTS registry_statuschange_indication_insert",
    "DROP TRIGGER IF EXISTS registry_statuschange_indication_update",
]


def create_indication_copies(apps, schema_editor):
    vendor = _vendor(schema_editor, "status change")
    statements = [f"UPDATE registry_statuschange SET {_primary('registry_statuschange.patient_id')}"]
    if vendor == "postgresql":
        statements[:0] = _locked("registry_indication", "registry_statuschange")
        statements += POSTGRES_STATUS + INDICATIONS.postgres("indication", lambda p: _refresh_indications(vendor, p))
    else:
        statements += SQLITE_STATUS + INDICATIONS.sqlite("indication", lambda p: _refresh_indications(vendor, p))
    _run(schema_editor, statements)


def drop_indication_copies(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = POSTGRES_STATUS_DROP + INDICATIONS.postgres_drop("indication")
    else:
        statements = SQLITE_STATUS_DROP + INDICATIONS.sqlite_drop("indication")
    _run(schema_editor, statements)
