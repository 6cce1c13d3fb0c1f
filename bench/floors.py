"""The floor of each target: the fastest hand-written SQL found that returns the same rows.

No ORM, no model instances, no serializer or template: what the database and the driver need for
the rows a page shows, on a plain cursor, in as few statements as the rows allow. The bench checks
each floor's rows equal to its target's (``bench/measure.py``, "floor check") before timing it, so
a ratio target/floor is never taken against a query that answers a different question. Each
site's "today", lead window and grace days are computed in SQL from its own settings (``SITES``).

Each query's plan at 100,000 patients is summed up in a comment above it: what the planner walks,
and why that is the least it can read.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from registry import scheduling
from registry.selectors.paging import COUNT_LIMIT
from registry.selectors.rules import refill_status_sql
from registry.selectors.worklist import WORK_URGENCY

# Each site's today in its zone, its refill lead window and its follow-up grace days; materialised
# once per statement (40 rows), so every member below joins a constant.
SITES = """
    s AS MATERIALIZED (
      SELECT id, (now() AT TIME ZONE time_zone)::date AS today,
             (SELECT coalesce(max(x::int), 0) FROM jsonb_array_elements_text(refill_lead_days) x) AS lead,
             follow_up_grace_days AS grace
        FROM registry_site),
    bounds AS MATERIALIZED (SELECT min(today) AS lo, max(today) AS hi, min(today - grace) AS grace_lo FROM s)
"""
# A patient's refill status in SQL, per site: the rule table of registry.scheduling, compiled.
_PATIENT = {
    "next_refill_due": "p.next_refill_due",
    "alarm_date": "p.alarm_date",
    "refill_due_basis": "p.refill_due_basis",
}
STATUS = refill_status_sql(_PATIENT, "s.today", "s.lead")


def _is(status: str) -> str:
    """The condition "the patient's refill status is ``status``" (the same rule table)."""
    return refill_status_sql(_PATIENT, "s.today", "s.lead", status)


def _urgency(kind: str, status: str) -> int:
    return WORK_URGENCY[(kind, status)]


# Patients still on the worklist (registry.scheduling.LEFT_WORKLIST_STATUSES are not).
STAYING = "p.status NOT IN ({})".format(", ".join(f"'{s}'" for s in sorted(scheduling.LEFT_WORKLIST_STATUSES)))
VISIT_STAYING = f"EXISTS (SELECT 1 FROM registry_patient p WHERE p.id = f.patient_id AND {STAYING})"


def _rows(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- The worklist ------------------------------------------------------------------------------

# One member per urgency, most urgent first, each the walk of one index in the member's own order,
# cut at offset + limit rows. The members are listed in urgency order and each is ordered by
# (date, patient, visit), so their concatenation is the ranking: an Append under the LIMIT runs
# them in turn and stops when the page is full. Plan at 100,000 patients (first page of 50, all
# critical): Limit -> Append -> the critical member only, an Index Scan of patient_refill_due_idx
# (filter alarm_date <= the latest site's today) in a nested loop over the 40-row site CTE, an
# Incremental Sort on (due, id) presorted by due: ~94 patient rows, 161 buffers; the other seven
# members "never executed". Then 50 primary-key look-ups for the page's patients.
WORKLIST_MEMBERS = f"""
  (SELECT 'refill' AS kind, 'critical' AS status, {_urgency("refill", "critical")} AS urgency,
          p.next_refill_due AS due, p.id AS patient, NULL::bigint AS target
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.next_refill_due <= %(end)s AND {_is("critical")} AND p.alarm_date <= (SELECT hi FROM bounds) AND {STAYING}
    ORDER BY p.next_refill_due, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'refill', 'needs_attention', {_urgency("refill", "needs_attention")}, p.next_refill_due, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.next_refill_due <= %(end)s AND {_is("needs_attention")} AND {STAYING}
    ORDER BY p.next_refill_due, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'refill', 'overdue', {_urgency("refill", "overdue")}, p.next_refill_due, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.next_refill_due < (SELECT hi FROM bounds) AND {_is("overdue")} AND {STAYING}
    ORDER BY p.next_refill_due, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'battery', 'overdue', {_urgency("battery", "overdue")}, p.battery_eri_date, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.battery_eri_date <= (SELECT hi FROM bounds) AND p.battery_eri_date <= s.today AND {STAYING}
    ORDER BY p.battery_eri_date, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'refill', 'due', {_urgency("refill", "due")}, p.next_refill_due, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.next_refill_due >= (SELECT lo FROM bounds) AND p.next_refill_due <= %(end)s
      AND {_is("due")} AND {STAYING}
    ORDER BY p.next_refill_due, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'follow_up', 'missed', {_urgency("follow_up", "missed")}, f.due_date, f.patient_id, f.id
     FROM registry_followup f JOIN s ON s.id = f.site_id
    WHERE f.status IN ('scheduled', 'missed') AND NOT f.superseded AND f.due_date <= %(end)s
      AND NOT (f.status = 'scheduled' AND f.due_date < %(visits_from)s)
      AND (f.status = 'missed' OR f.due_date < s.today - s.grace) AND {VISIT_STAYING}
    ORDER BY f.due_date, f.patient_id, f.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'battery', 'due', {_urgency("battery", "due")}, p.battery_eri_date, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.battery_eri_date > (SELECT lo FROM bounds) AND p.battery_eri_date > s.today
      AND p.battery_eri_date <= %(battery_end)s AND {STAYING}
    ORDER BY p.battery_eri_date, p.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'follow_up', 'due', {_urgency("follow_up", "due")}, f.due_date, f.patient_id, f.id
     FROM registry_followup f JOIN s ON s.id = f.site_id
    WHERE f.status = 'scheduled'
      AND f.due_date <= %(end)s AND f.due_date >= (SELECT grace_lo FROM bounds) AND f.due_date >= %(visits_from)s
      AND f.due_date >= s.today - s.grace AND {VISIT_STAYING}
    ORDER BY f.due_date, f.patient_id, f.id LIMIT %(window)s)
  UNION ALL
  (SELECT 'refill', 'upcoming', {_urgency("refill", "upcoming")}, p.next_refill_due, p.id, NULL
     FROM registry_patient p JOIN s ON s.id = p.site_id
    WHERE p.next_refill_due > (SELECT lo FROM bounds) AND p.next_refill_due >= %(start)s
      AND p.next_refill_due <= %(end)s AND {_is("upcoming")} AND {STAYING}
    ORDER BY p.next_refill_due, p.id LIMIT %(window)s)
"""
# A visit the worklist lists: open, and not missed-and-rebooked (scheduling.visit_work_status).
LISTED_VISIT = f"""f.status IN ('scheduled', 'missed') AND f.due_date <= %(end)s
        AND NOT (f.status = 'scheduled' AND f.due_date < %(visits_from)s) AND {VISIT_STAYING}
        AND (NOT f.superseded OR (f.status = 'scheduled'
             AND f.due_date >= (SELECT s.today - s.grace FROM s WHERE s.id = f.site_id)))"""
# The total from three index-only scans (Heap Fetches: 0 once vacuumed): each site's slice of
# patient_site_refill_due_idx (the early upcoming ones left out by their site's window), the
# patient_battery_eri_idx range and the partial follow_up_open_idx range (16,718 entries at
# 100,000 patients): 184 buffers, most of the statement's time.
WORKLIST_TOTAL = f"""
  (SELECT sum(n) FROM (
     SELECT (SELECT count(*) FROM registry_patient p WHERE p.site_id = s.id AND p.next_refill_due <= %(end)s
              AND {STAYING}
              AND NOT (p.next_refill_due > s.today + s.lead AND p.next_refill_due < %(start)s)) AS n FROM s
     UNION ALL
     SELECT count(*) FROM registry_patient p WHERE battery_eri_date <= %(battery_end)s AND {STAYING}
     UNION ALL
     SELECT count(*) FROM registry_followup f WHERE {LISTED_VISIT}) c)::int
"""
# A total that stops at %(count_limit)s items (the dashboard says "more than 1,000"): the same
# three index scans, cut by the LIMIT after that many entries.
WORKLIST_TOTAL_LIMITED = f"""
  (SELECT count(*) FROM (
     SELECT 1 FROM s JOIN registry_patient p ON p.site_id = s.id WHERE p.next_refill_due <= %(end)s
        AND {STAYING} AND NOT (p.next_refill_due > s.today + s.lead AND p.next_refill_due < %(start)s)
     UNION ALL
     SELECT 1 FROM registry_patient p WHERE battery_eri_date <= %(battery_end)s AND {STAYING}
     UNION ALL
     SELECT 1 FROM registry_followup f WHERE {LISTED_VISIT}
     LIMIT %(count_limit)s) c)::int
"""
# What a work item shows of its patient, joined to the page's rows by primary key (50 look-ups).
WORKLIST_PAGE = f"""
WITH {SITES},
page AS ({WORKLIST_MEMBERS} LIMIT %(limit)s OFFSET %(offset)s)
SELECT page.kind, page.status, page.urgency, page.due, page.patient, page.target,
       p.mrn, p.family_name, p.given_name, p.alarm_date, p.site_id, st.name, u.username, u.first_name, u.last_name,
       {{total}} AS total
  FROM page JOIN registry_patient p ON p.id = page.patient JOIN registry_site st ON st.id = p.site_id
  LEFT JOIN auth_user u ON u.id = p.primary_clinician_id
 ORDER BY page.urgency, page.due, page.patient, page.kind, page.target
"""


def _window(start: dt.date, end: dt.date, limit: int, offset: int = 0) -> dict:
    return {
        "start": start,
        "end": end,
        "battery_end": end + dt.timedelta(days=180),
        "visits_from": start - dt.timedelta(days=30),
        "limit": limit,
        "offset": offset,
        "window": limit + offset,
    }


def worklist_page(
    start: dt.date, end: dt.date, limit: int = 50, offset: int = 0, count_limit: int | None = None
) -> tuple[int, list]:
    """The total and one page of the worklist: (kind, status, urgency, due, patient, visit, the
    patient's MRN, names, alarm date, site id and name, clinician's username and names).
    ``count_limit``: the total counts no further than that many items and one more."""
    total = WORKLIST_TOTAL if count_limit is None else WORKLIST_TOTAL_LIMITED
    params = {**_window(start, end, limit, offset), "count_limit": (count_limit or 0) + 1}
    rows = _rows(WORKLIST_PAGE.format(total=total), params)
    if not rows:
        return int(_rows(f"WITH {SITES} SELECT {total}", params)[0][0]), []  # noqa: S608
    return rows[0][-1], [row[:-1] for row in rows]


def worklist(start: dt.date, end: dt.date) -> list:
    """Every item of the worklist, ranked (the full list: no LIMIT to stop the members early)."""
    members = WORKLIST_MEMBERS.replace("LIMIT %(window)s", "")
    return _rows(f"WITH {SITES} {members}", _window(start, end, 0))  # noqa: S608


# --- The dashboard's worklist page -------------------------------------------------------------

# Everything the page shows beside the rows: the sites and clinicians of the filter form and the
# header's open reminders. The clinicians are an EXISTS per user on the patients' clinician index
# (a few hundred users), not a pass over every patient.
DASHBOARD_OPTIONS = """
SELECT 'site', id, name, '', '' FROM registry_site
UNION ALL
SELECT 'clinician', u.id, u.username, u.first_name, u.last_name FROM auth_user u
 WHERE EXISTS (SELECT 1 FROM registry_patient p WHERE p.primary_clinician_id = u.id)
UNION ALL
SELECT 'open_reminders', count(*), '', '', '' FROM registry_reminder
 WHERE recipient_user_id = %s AND status IN ('pending', 'sending', 'sent', 'failed')
"""


def dashboard(start: dt.date, end: dt.date, limit: int, count_limit: int, user_id: int) -> tuple[int, list, list]:
    """The administrator's "Today": the total (up to ``count_limit`` + 1), the first ``limit``
    rows, the filter options and the inbox count (two statements: one per kind of answer)."""
    total, rows = worklist_page(start, end, limit, count_limit=count_limit)
    return total, rows, _rows(DASHBOARD_OPTIONS, [user_id])


# --- Patients ----------------------------------------------------------------------------------

# Every column of the patient (the API shows nearly all of them), its site's today and its status.
PATIENT_COLUMNS = f"p.*, s.today AS site_today, {STATUS} AS refill_status"
# The active pump, from the partial unique index pump_one_active_per_patient.
ACTIVE_PUMP = "(SELECT pu.id FROM registry_pump pu WHERE pu.patient_id = p.id AND pu.explant_date IS NULL)"


# The count is an index-only scan of patient_name_idx cut after COUNT_LIMIT + 1 entries (as the
# lists count: "more than 10,000"); the page walks the same index in order and stops after 50 rows.
def patient_list() -> tuple[int, list]:
    """Page 1 of 50 patients by name, with the total counted up to the lists' limit and one more."""
    count = f"(SELECT count(*) FROM (SELECT 1 FROM registry_patient LIMIT {COUNT_LIMIT + 1}) c)::int"
    rows = _rows(
        f"WITH {SITES} SELECT {PATIENT_COLUMNS}, {ACTIVE_PUMP}, {count} "  # noqa: S608
        "FROM registry_patient p JOIN s ON s.id = p.site_id ORDER BY p.family_name, p.given_name, p.id LIMIT 50"
    )
    return (rows[0][-1] if rows else 0), [row[:-1] for row in rows]


# One primary-key look-up, the active pump from the partial unique index pump_one_active_per_patient.
def patient_row(patient_id: int) -> tuple:
    """One patient with refill status and active pump id (what the API's representation shows)."""
    return _rows(
        f"WITH {SITES} SELECT {PATIENT_COLUMNS}, {ACTIVE_PUMP} "  # noqa: S608
        "FROM registry_patient p JOIN s ON s.id = p.site_id WHERE p.id = %s",
        [patient_id],
    )[0]


# The API's detail records who read whom (the access log) in the same statement and commit: the
# floor writes the same row, so both pay the commit the record needs.
def patient_row_recorded(patient_id: int, user_id: int, username: str, path: str) -> tuple:
    """``patient_row``, and its access row inserted by the same statement (a data-modifying WITH)."""
    return _rows(
        f"WITH {SITES}, seen AS (SELECT {PATIENT_COLUMNS}, {ACTIVE_PUMP} "  # noqa: S608
        "  FROM registry_patient p JOIN s ON s.id = p.site_id WHERE p.id = %s), "
        "access AS (INSERT INTO audit_patientaccess (at, user_id, username, patient_id, channel, path, client_ip) "
        "  SELECT now(), %s, %s, %s, 'api', %s, '127.0.0.1' WHERE EXISTS (SELECT 1 FROM seen)) "
        "SELECT * FROM seen",
        [patient_id, user_id, username, patient_id, path],
    )[0]


# One statement: the patient by primary key, its pumps and indications from their patient indexes
# and the active pump's last ten refills from refill_pump_latest_idx, aggregated as arrays of ids.
def patient_detail(patient_id: int) -> tuple:
    """One patient with their pumps, indications and the active pump's last ten refills (ids)."""
    return _rows(
        f"WITH {SITES} SELECT {PATIENT_COLUMNS}, "  # noqa: S608
        "ARRAY(SELECT id FROM registry_pump WHERE patient_id = p.id ORDER BY implant_date, id), "
        "ARRAY(SELECT id FROM registry_indication WHERE patient_id = p.id ORDER BY id), "
        "ARRAY(SELECT r.id FROM registry_refill r WHERE r.pump_id = "
        "  (SELECT pu.id FROM registry_pump pu WHERE pu.patient_id = p.id AND pu.explant_date IS NULL) "
        "  ORDER BY r.performed_at DESC LIMIT 10) "
        "FROM registry_patient p JOIN s ON s.id = p.site_id WHERE p.id = %s",
        [patient_id],
    )[0]


# --- The reminder sweep ------------------------------------------------------------------------


def sweep(today: dt.date) -> tuple[list, list, list]:
    """What a sweep must look at: refills within the longest lead, batteries within 180 days, visits."""
    refills = _rows(
        "SELECT p.id, p.site_id, p.next_refill_due, p.alarm_date FROM registry_patient p WHERE p.next_refill_due <= %s",
        [today + dt.timedelta(days=14)],
    )
    batteries = _rows(
        "SELECT p.id, p.site_id, p.battery_eri_date FROM registry_patient p WHERE p.battery_eri_date <= %s",
        [today + dt.timedelta(days=180)],
    )
    visits = _rows(
        "SELECT f.id, f.patient_id, f.due_date FROM registry_followup f "
        "WHERE f.status = 'scheduled' AND f.due_date <= %s",
        [today + dt.timedelta(days=7)],
    )
    return refills, batteries, visits


# --- The program summary -----------------------------------------------------------------------

# Every figure of ``reporting.reports.summary`` for the whole program, by the report's own
# definitions, from the facts stored before migration 0026 (the refills' local dates, intervals and
# timeliness): the status at the end and each goal's latest review come from DISTINCT ON, not from
# the stored next dates. Eight statements, one per group of figures; Python only assembles the
# aggregated rows (Poisson intervals, medians). Plans at 100,000 patients are summed up above each.
SUMMARY_SQL = {
    # A sequential scan of the status changes dated by the end (456,768), sorted for DISTINCT ON
    # (patient, date, id), merge-joined by patient to indication_one_primary_per_patient; the audit
    # history of the indications edited after the period (none here) replaces theirs.
    "census": """
        WITH latest AS (
          SELECT DISTINCT ON (patient_id) patient_id, to_status FROM registry_statuschange
           WHERE changed_on <= %(end)s ORDER BY patient_id, changed_on DESC, id DESC),
        touched AS (SELECT DISTINCT patient_id FROM registry_historicalindication WHERE history_date >= %(cutoff)s),
        version AS (
          SELECT DISTINCT ON (h.id) h.id, h.patient_id, h.diagnosis, h.gmfcs_level, h.is_primary, h.history_type
            FROM registry_historicalindication h WHERE h.patient_id IN (SELECT patient_id FROM touched)
           ORDER BY h.id, (h.history_date < %(cutoff)s) DESC,
                    CASE WHEN h.history_date < %(cutoff)s THEN h.history_date END DESC,
                    CASE WHEN h.history_date < %(cutoff)s THEN h.history_id END DESC, h.history_date, h.history_id),
        in_force AS (
          SELECT DISTINCT ON (patient_id) patient_id, diagnosis, gmfcs_level FROM version
           WHERE is_primary AND history_type <> '-' ORDER BY patient_id, id DESC)
        SELECT l.to_status,
               CASE WHEN t.patient_id IS NULL THEN i.diagnosis ELSE coalesce(f.diagnosis, '') END,
               CASE WHEN t.patient_id IS NULL THEN i.gmfcs_level ELSE f.gmfcs_level END, count(*)
          FROM latest l LEFT JOIN touched t ON t.patient_id = l.patient_id
          LEFT JOIN registry_indication i ON i.patient_id = l.patient_id AND i.is_primary AND t.patient_id IS NULL
          LEFT JOIN in_force f ON f.patient_id = l.patient_id
         GROUP BY 1, 2, 3
    """,
    # A bitmap scan of status_change_day_idx for the referrals, one pass over the trials and two
    # over the pumps (implants; explants anti-joined to registry_pump_replaces_id_key), each
    # grouped by year; the trials' whole-period patients as year 0 (GROUPING SETS).
    "activity": """
        SELECT 'referrals', extract(year FROM changed_on)::int, count(*), 0, 0 FROM registry_statuschange
         WHERE changed_on BETWEEN %(start)s AND %(end)s AND (from_status = '' OR to_status = 'referred') GROUP BY 2
        UNION ALL
        SELECT 'trials', coalesce(extract(year FROM performed_on)::int, 0), count(*), count(DISTINCT patient_id),
               count(DISTINCT patient_id) FILTER (WHERE response = 'positive')
          FROM registry_screeningtrial WHERE performed_on BETWEEN %(start)s AND %(end)s
         GROUP BY GROUPING SETS ((extract(year FROM performed_on)::int), ())
        UNION ALL
        SELECT 'implants', extract(year FROM implant_date)::int, count(*) FILTER (WHERE replaces_id IS NULL),
               count(*) FILTER (WHERE replaces_id IS NOT NULL), 0
          FROM registry_pump WHERE implant_date BETWEEN %(start)s AND %(end)s GROUP BY 2
        UNION ALL
        SELECT 'explants', extract(year FROM explant_date)::int, count(*), 0, 0 FROM registry_pump pu
         WHERE explant_date BETWEEN %(start)s AND %(end)s
           AND NOT EXISTS (SELECT 1 FROM registry_pump n WHERE n.replaces_id = pu.id) GROUP BY 2
    """,
    # An index-only scan of refill_performed_on_cover_idx (a year's 249,462 refills), hashed twice
    # in the one pass: by (site, timeliness) and by interval.
    "refills": """
        SELECT site_id, timeliness, interval_days, count(*) FROM registry_refill
         WHERE performed_on BETWEEN %(start)s AND %(end)s AND NOT entered_in_error
         GROUP BY GROUPING SETS ((site_id, timeliness), (interval_days))
    """,
    # Sequential scans of the pumps that overlap the period and of the stays, hash-joined, and
    # the dates of death from the partial status_change_death_idx (index-only), summed per site.
    "pump_days": """
        SELECT st.site_id, sum(greatest(least(coalesce(pu.explant_date, %(after_end)s), %(after_end)s,
                                              coalesce(d.died, %(after_end)s), coalesce(st.ended_on, %(after_end)s)),
                                        greatest(pu.implant_date, %(start)s, coalesce(st.started_on, %(start)s)))
                               - greatest(pu.implant_date, %(start)s, coalesce(st.started_on, %(start)s)))
          FROM registry_pump pu JOIN registry_sitestay st ON st.patient_id = pu.patient_id
          LEFT JOIN (SELECT patient_id, min(changed_on) AS died FROM registry_statuschange
                      WHERE to_status = 'deceased' GROUP BY patient_id) d ON d.patient_id = pu.patient_id
         WHERE pu.implant_date <= %(end)s AND (pu.explant_date IS NULL OR pu.explant_date > %(start)s)
           AND (st.started_on IS NULL OR st.started_on <= %(end)s) AND (st.ended_on IS NULL OR st.ended_on > %(start)s)
         GROUP BY 1
    """,
    # The period's complications (a few thousand) hash-joined to the stays; "a pump in place" is
    # a look-up of registry_pump's patient index for those recorded without a pump.
    "complications": """
        SELECT c.kind, st.site_id, count(*),
               count(*) FILTER (WHERE c.pump_id IS NOT NULL OR EXISTS (
                 SELECT 1 FROM registry_pump pu WHERE pu.patient_id = c.patient_id AND pu.implant_date <= c.occurred_on
                    AND (pu.explant_date IS NULL OR pu.explant_date >= c.occurred_on))),
               count(*) FILTER (WHERE c.needed_surgery)
          FROM registry_complication c JOIN registry_sitestay st ON st.patient_id = c.patient_id
           AND (st.started_on IS NULL OR st.started_on <= c.occurred_on)
           AND (st.ended_on IS NULL OR st.ended_on > c.occurred_on)
         WHERE c.occurred_on BETWEEN %(start)s AND %(end)s GROUP BY 1, 2
    """,
    # The goals by category (a pass over 153,787 goals); each goal's latest review in the period
    # by DISTINCT ON over the period's reviews (sorted by goal, date, id), hash-joined to the
    # goals, summed by category and by patient in one pass (GROUPING SETS), T-scores averaged in SQL.
    "goals": """
        WITH latest AS (
          SELECT DISTINCT ON (r.goal_id) r.goal_id, r.score FROM registry_goalreview r
           WHERE r.reviewed_on BETWEEN %(start)s AND %(end)s ORDER BY r.goal_id, r.reviewed_on DESC, r.id DESC),
        scored AS (
          SELECT g.patient_id, g.category, g.weight AS w, l.score AS x
            FROM latest l JOIN registry_goal g ON g.id = l.goal_id WHERE g.set_on <= %(end)s),
        sums AS (
          SELECT category, patient_id, count(*) AS n, count(*) FILTER (WHERE x >= 0) AS above,
                 sum(w * x) AS swx, sum(w * w) AS sw2, sum(w) AS sw
            FROM scored GROUP BY GROUPING SETS ((category), (patient_id)))
        SELECT 'category', category, n, above, swx, sw FROM sums WHERE category IS NOT NULL
        UNION ALL
        SELECT 'goals', category, count(*), 0, 0, 0 FROM registry_goal WHERE set_on <= %(end)s GROUP BY category
        UNION ALL
        SELECT CASE WHEN n > 1 THEN 'several' ELSE 'single' END, '', count(*), 0,
               avg(50 + 10 * swx / sqrt(0.7 * sw2 + 0.3 * sw * sw)), 0
          FROM sums WHERE patient_id IS NOT NULL GROUP BY 1
    """,
    # An index-only scan of follow_up_due_cover_idx (a year's 85,000 visits), hash-joined to the
    # stays (the stay on the due date) and to the sites (their grace days).
    "follow_ups": """
        SELECT count(*), count(*) FILTER (WHERE f.completed_on IS NOT NULL),
               count(*) FILTER (WHERE f.completed_on > f.due_date + s.follow_up_grace_days),
               count(*) FILTER (WHERE f.status = 'cancelled'),
               count(*) FILTER (WHERE f.completed_on IS NULL AND f.status <> 'cancelled'
                                  AND f.due_date + s.follow_up_grace_days < %(today)s)
          FROM registry_followup f JOIN registry_sitestay st ON st.patient_id = f.patient_id
           AND (st.started_on IS NULL OR st.started_on <= f.due_date)
           AND (st.ended_on IS NULL OR st.ended_on > f.due_date)
          JOIN registry_site s ON s.id = st.site_id
         WHERE f.due_date BETWEEN %(start)s AND %(end)s
    """,
    # One pass over the period's reminders per grouping: by channel, and by event.
    "reminders": """
        WITH m AS (
          SELECT channel, kind, target_type, target_id, due_date, created_at, acknowledged_at,
                 sent_at IS NOT NULL AS delivered,
                 sent_at IS NULL AND (status = 'failed' OR (status = 'acknowledged' AND last_error <> '')) AS failed,
                 sent_at IS NULL AND status = 'cancelled' AS cancelled
            FROM registry_reminder WHERE due_date BETWEEN %(start)s AND %(end)s),
        e AS (
          SELECT bool_or(delivered) AS reached, bool_or(failed) AS failed, bool_and(cancelled) AS cancelled,
                 extract(epoch FROM min(acknowledged_at) - min(created_at)) / 3600 AS hours
            FROM m GROUP BY kind, target_type, target_id, due_date)
        SELECT channel, count(*), count(*) FILTER (WHERE delivered), count(*) FILTER (WHERE failed),
               count(*) FILTER (WHERE cancelled), count(*) FILTER (WHERE acknowledged_at IS NOT NULL), NULL
          FROM m GROUP BY channel
        UNION ALL
        SELECT NULL, count(*), count(*) FILTER (WHERE reached), count(*) FILTER (WHERE NOT reached AND failed),
               count(*) FILTER (WHERE NOT reached AND NOT failed AND cancelled), count(hours),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hours)
          FROM e
    """,
}


def summary(start: dt.date, end: dt.date, today: dt.date | None = None) -> dict:
    """Every section of ``reporting.reports.summary(sites=None, ...)`` but the period and site names
    (``today``, as the report's: the current local date by default)."""
    from collections import Counter

    from django.utils import timezone

    from registry.models import Complication, Goal, Indication, PatientStatus, Refill, Reminder
    from reporting import rates
    from reporting.reports.safety import LITERATURE, _rate_fields, _verdict
    from reporting.reports.scope import ACTIVE_STATUSES, DAYS_PER_YEAR, NOT_RECORDED, _median, _rate

    params = {
        "start": start,
        "end": end,
        "today": today or timezone.localdate(),
        "after_end": end + dt.timedelta(days=1),
        "cutoff": dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
    }
    rows = {name: _rows(sql, params) for name, sql in SUMMARY_SQL.items()}
    sites = dict(_rows("SELECT id, name FROM registry_site ORDER BY name"))

    by_status = dict.fromkeys(PatientStatus.values, 0)
    by_indication: dict[str, dict] = {}
    by_gmfcs: dict[str, dict] = {}
    for status, dx, gmfcs, n in rows["census"]:
        by_status[status] += n
        for table, key in ((by_indication, dx or NOT_RECORDED), (by_gmfcs, str(gmfcs) if gmfcs else NOT_RECORDED)):
            row = table.setdefault(key, {"patients": 0, "implanted": 0})
            row["patients"] += n
            row["implanted"] += n if status == PatientStatus.IMPLANTED else 0
    census = {
        "as_of": end.isoformat(),
        "patients": sum(by_status.values()),
        "active": sum(by_status[s] for s in ACTIVE_STATUSES),
        "with_pump": by_status[PatientStatus.IMPLANTED],
        "by_status": by_status,
        "by_indication": [
            {"indication": k, **by_indication[k]}
            for k in [*Indication.Diagnosis.values, NOT_RECORDED]
            if k in by_indication
        ],
        "by_gmfcs": [
            {"gmfcs_level": k, **by_gmfcs[k]} for k in ["1", "2", "3", "4", "5", NOT_RECORDED] if k in by_gmfcs
        ],
    }

    keys = ("referrals", "trials", "implants", "replacements", "explants")
    years = {
        y: {"year": y, **dict.fromkeys(keys[:2], 0), "patients_trialled": 0, "patients_positive": 0}
        | {"positive_rate": None, **dict.fromkeys(keys[2:], 0)}
        for y in range(start.year, end.year + 1)
    }
    whole = (0, 0)
    for what, year, a, b, c in rows["activity"]:
        if what == "trials" and year == 0:
            whole = (b, c)
        elif what == "trials":
            years[year].update(trials=a, patients_trialled=b, patients_positive=c)
        elif what == "implants":
            years[year].update(implants=a, replacements=b)
        else:
            years[year][what] = a
    for row in years.values():
        row["positive_rate"] = _rate(row["patients_positive"], row["patients_trialled"])
    totals = {k: sum(r[k] for r in years.values()) for k in keys}
    totals.update(patients_trialled=whole[0], patients_positive=whole[1], positive_rate=_rate(whole[1], whole[0]))

    T = Refill.Timeliness
    by_site_kind, intervals = Counter(), Counter()
    for site, kind, days, n in rows["refills"]:
        if site is not None:
            by_site_kind[(site, kind)] += n
        elif days is not None:
            intervals[days] += n
    kinds = Counter()
    for (_, kind), n in by_site_kind.items():
        kinds[kind] += n
    closed = kinds[T.ON_TIME] + kinds[T.LATE] + kinds[T.AFTER_ALARM]
    refills = {
        "performed": sum(kinds.values()),
        "first": kinds[T.FIRST],
        "on_time": kinds[T.ON_TIME],
        "late": kinds[T.LATE],
        "after_alarm": kinds[T.AFTER_ALARM],
        "closed": closed,
        "on_time_rate": _rate(kinds[T.ON_TIME], closed),
        "late_share": _rate(kinds[T.LATE] + kinds[T.AFTER_ALARM], closed),
        "intervals": sum(intervals.values()),
        "median_interval_days": _median(sorted(intervals.elements())),
    }

    site_days = {site: max(days or 0, 0) for site, days in rows["pump_days"]}
    pump_years = sum(site_days.values()) / DAYS_PER_YEAR
    per_kind: dict[str, Counter] = {k: Counter() for k in Complication.Kind.values}
    site_complications = Counter()
    for kind, site, n, with_pump, surgery in rows["complications"]:
        per_kind[kind].update(n=n, with_pump=with_pump, surgery=surgery)
        site_complications[site] += with_pump
    by_kind = [
        {
            "kind": k,
            "count": c["n"],
            "without_pump_time": c["n"] - c["with_pump"],
            "needed_surgery": c["surgery"],
            **_rate_fields(rates.rate(c["with_pump"], pump_years)),
        }
        for k, c in per_kind.items()
    ]
    total = sum(c["n"] for c in per_kind.values())
    with_pump_total = sum(c["with_pump"] for c in per_kind.values())
    overall = rates.rate(with_pump_total, pump_years)
    named = {r["kind"]: r for r in by_kind}
    safety = {
        "pump_years": round(pump_years, 3),
        "complications": total,
        "with_pump_time": with_pump_total,
        "without_pump_time": total - with_pump_total,
        "needed_surgery": sum(c["surgery"] for c in per_kind.values()),
        "complications_per_100_pump_years": overall["rate"],
        "ci_low": overall["ci_low"],
        "ci_high": overall["ci_high"],
        "infections": named["infection"]["count"],
        "infections_per_100_pump_years": named["infection"]["per_100_pump_years"],
        "by_kind": by_kind,
        "literature": [
            {
                **ref,
                "rate": named[ref["figure"]]["per_100_pump_years"],
                "ci_low": named[ref["figure"]]["ci_low"],
                "ci_high": named[ref["figure"]]["ci_high"],
                "verdict": _verdict(
                    named[ref["figure"]]["ci_low"], named[ref["figure"]]["ci_high"], ref["low"], ref["high"]
                ),
            }
            for ref in LITERATURE
        ],
    }
    by_site = []
    for pk in sites:
        site_closed = sum(n for (s, k), n in by_site_kind.items() if s == pk and k != T.FIRST)
        site_late = sum(n for (s, k), n in by_site_kind.items() if s == pk and k in (T.LATE, T.AFTER_ALARM))
        r = rates.rate(site_complications.get(pk, 0), site_days.get(pk, 0) / DAYS_PER_YEAR)
        by_site.append(
            {
                "site": sites[pk],
                "pump_years": r["pump_years"],
                "complications": r["count"],
                **_rate_fields(r),
                "refills_closed": site_closed,
                "refills_late": site_late,
                "late_share": _rate(site_late, site_closed),
            }
        )

    counts, scored, t_scores = {}, {}, {}
    for what, category, n, above, swx, sw in rows["goals"]:
        if what == "goals":
            counts[category] = n
        elif what == "category":
            scored[category] = (n, above, int(swx), int(sw))
        else:
            t_scores[what] = (n, round(float(swx), 2) if n else None)
    by_category = []
    for cat in Goal.Category.values:
        if cat not in counts:
            continue
        n, above, swx, sw = scored.get(cat, (0, 0, None, None))
        by_category.append(
            {
                "category": cat,
                "goals": counts[cat],
                "reviewed": n,
                "not_reviewed": counts[cat] - n,
                "at_or_above_expected": above,
                "share_at_or_above_expected": _rate(above, n),
                "mean_score": round(swx / sw, 2) if sw else None,
            }
        )
    reviewed = sum(c["reviewed"] for c in by_category)
    above = sum(c["at_or_above_expected"] for c in by_category)
    goals = {
        "goals": sum(counts.values()),
        "reviewed": reviewed,
        "not_reviewed": sum(counts.values()) - reviewed,
        "at_or_above_expected": above,
        "share_at_or_above_expected": _rate(above, reviewed),
        "patients_with_t_score": t_scores.get("several", (0, None))[0],
        "mean_t_score": t_scores.get("several", (0, None))[1],
        "single_goal_patients": t_scores.get("single", (0, None))[0],
        "single_goal_mean_t_score": t_scores.get("single", (0, None))[1],
        "by_category": by_category,
    }

    ((due, completed, completed_late, cancelled, missed),) = rows["follow_ups"]
    follow_ups = {
        "due": due,
        "completed": completed,
        "completed_late": completed_late,
        "missed": missed,
        "open": due - completed - cancelled - missed,
        "cancelled": cancelled,
        "adherence": _rate(completed, completed + missed),
    }

    channels = {r[0]: r for r in rows["reminders"] if r[0] is not None}
    ((_, events, reached, failed, cancelled_events, acknowledged, hours),) = [
        r for r in rows["reminders"] if r[0] is None
    ]
    reminders = {
        "events": events,
        "reached": reached,
        "failed": failed,
        "cancelled": cancelled_events,
        "not_sent": events - reached - failed - cancelled_events,
        "acknowledged": acknowledged,
        "reached_share": _rate(reached, events - cancelled_events),
        "median_hours_to_acknowledgement": round(hours, 1) if hours is not None else None,
        "by_channel": [
            dict(
                zip(
                    ("channel", "messages", "delivered", "failed", "cancelled", "acknowledged"),
                    channels[c][:6],
                    strict=True,
                )
            )
            for c in Reminder.Channel.values
            if c in channels
        ],
    }
    return {
        "census": census,
        "activity": {"by_year": list(years.values()), "totals": totals},
        "refills": refills,
        "safety": safety,
        "by_site": by_site,
        "goals": goals,
        "follow_ups": follow_ups,
        "reminders": reminders,
    }


def figures(report: dict) -> dict:
    """The report's sections the floor computes (all but the period and the site names)."""
    return {
        k: report[k] for k in ("census", "activity", "refills", "safety", "by_site", "goals", "follow_ups", "reminders")
    }
