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


# The count is an index-only scan of patient_name_idx (every patient: it grows with the program);
# the page walks the same index in order and stops after 50 rows.
def patient_list() -> tuple[int, list]:
    """Page 1 of 50 patients by name, with the total count (what a paginated list needs)."""
    rows = _rows(
        f"WITH {SITES} SELECT {PATIENT_COLUMNS}, {ACTIVE_PUMP}, (SELECT count(*) FROM registry_patient)::int "  # noqa: S608
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

# The headline figures of registry.reports.summary for the whole program, by the report's own
# definitions, each in the fewest passes found on the schema as it is: the census from one
# DISTINCT ON walk of status_change_patient_idx; the activity figures from one pass per table;
# the refills and their intervals from one LAG window over the period's refills and the 200
# days before it (each refill dated in the zone of the site where it was done); pump-years
# from one pass over the pumps that overlap the period; complications and follow-ups one
# aggregate each.
SUMMARY_SQL = {
    "census": """
        SELECT count(*), count(*) FILTER (WHERE to_status NOT IN ('discontinued', 'transferred', 'deceased'))
          FROM (SELECT DISTINCT ON (patient_id) to_status FROM registry_statuschange WHERE changed_on <= %(end)s
                 ORDER BY patient_id, changed_on DESC, id DESC) latest
    """,
    "activity": """
        SELECT (SELECT count(*) FROM registry_statuschange WHERE changed_on BETWEEN %(start)s AND %(end)s
                   AND (from_status = '' OR to_status = 'referred')),
               (SELECT count(*) FROM registry_screeningtrial WHERE performed_on BETWEEN %(start)s AND %(end)s),
               (SELECT count(*) FILTER (WHERE replaces_id IS NULL) FROM registry_pump
                 WHERE implant_date BETWEEN %(start)s AND %(end)s),
               (SELECT count(*) FILTER (WHERE replaces_id IS NOT NULL) FROM registry_pump
                 WHERE implant_date BETWEEN %(start)s AND %(end)s),
               (SELECT count(*) FROM registry_pump pu WHERE pu.explant_date BETWEEN %(start)s AND %(end)s
                   AND NOT EXISTS (SELECT 1 FROM registry_pump n WHERE n.replaces_id = pu.id))
    """,
    "refills": """
        WITH dated AS (
          SELECT r.id, r.performed_at, r.timeliness, r.pump_id, pu.replaces_id, pu.patient_id, st.time_zone,
                 pu.replaces_id IS NOT NULL OR pu.implant_date < %(history_from_day)s AS may_reach_back,
                 (r.performed_at AT TIME ZONE st.time_zone)::date AS day,
                 lag((r.performed_at AT TIME ZONE st.time_zone)::date)
                   OVER (PARTITION BY pu.patient_id ORDER BY r.performed_at, r.id) AS prev_day,
                 lag(r.pump_id) OVER (PARTITION BY pu.patient_id ORDER BY r.performed_at, r.id) AS prev_pump
            FROM registry_refill r JOIN registry_pump pu ON pu.id = r.pump_id JOIN registry_site st ON st.id = r.site_id
           WHERE r.performed_at >= %(history_from)s AND r.performed_at < %(instant_after)s),
        closed AS (
          SELECT d.timeliness, d.pump_id, d.replaces_id, d.day, coalesce(d.prev_day, e.day) AS prev_day,
                 coalesce(d.prev_pump, e.pump_id) AS prev_pump
            FROM dated d
            LEFT JOIN LATERAL (
              SELECT (r2.performed_at AT TIME ZONE d.time_zone)::date AS day, r2.pump_id
                FROM registry_refill r2 JOIN registry_pump p2 ON p2.id = r2.pump_id
               WHERE d.prev_day IS NULL AND d.may_reach_back AND p2.patient_id = d.patient_id
                 AND (r2.performed_at, r2.id) < (d.performed_at, d.id)
               ORDER BY r2.performed_at DESC, r2.id DESC LIMIT 1) e ON true
           WHERE d.day BETWEEN %(start)s AND %(end)s)
        SELECT count(*), count(*) FILTER (WHERE timeliness = 'on_time'),
               count(*) FILTER (WHERE timeliness IN ('on_time', 'late', 'after_alarm')),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY day - prev_day)
                 FILTER (WHERE prev_pump = pump_id OR prev_pump = replaces_id),
               count(*) FILTER (WHERE prev_pump = pump_id OR prev_pump = replaces_id)
          FROM closed
    """,
    "pump_years": """
        SELECT coalesce(sum(greatest(least(coalesce(pu.explant_date, %(after_end)s), coalesce(d.died, %(after_end)s),
                                          %(after_end)s),
                                    greatest(pu.implant_date, %(start)s))
                            - greatest(pu.implant_date, %(start)s)), 0) / 365.25
          FROM registry_pump pu
          LEFT JOIN (SELECT patient_id, min(changed_on) AS died FROM registry_statuschange
                      WHERE to_status = 'deceased' GROUP BY patient_id) d ON d.patient_id = pu.patient_id
         WHERE pu.implant_date <= %(end)s AND (pu.explant_date IS NULL OR pu.explant_date > %(start)s)
    """,
    "complications": "SELECT count(*) FROM registry_complication WHERE occurred_on BETWEEN %(start)s AND %(end)s",
    "follow_ups": """
        SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status IN ('completed', 'missed'))
          FROM registry_followup WHERE due_date BETWEEN %(start)s AND %(end)s
    """,
}


def summary(start: dt.date, end: dt.date) -> dict:
    """The summary's headline figures (``headline(report)`` of the report gives the same dict)."""
    params = {
        "start": start,
        "end": end,
        "after_end": end + dt.timedelta(days=1),
        # The report's window: refills from 200 days before the period, instants two days wide of it.
        "history_from": dt.datetime.combine(start - dt.timedelta(days=202), dt.time(), tzinfo=dt.UTC),
        "history_from_day": start - dt.timedelta(days=200),
        "instant_after": dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC),
    }
    ((patients, active),) = _rows(SUMMARY_SQL["census"], params)
    ((referrals, trials, implants, replacements, explants),) = _rows(SUMMARY_SQL["activity"], params)
    ((performed, on_time, closed, median, intervals),) = _rows(SUMMARY_SQL["refills"], params)
    ((years,),) = _rows(SUMMARY_SQL["pump_years"], params)
    ((complications,),) = _rows(SUMMARY_SQL["complications"], params)
    ((completed, decided),) = _rows(SUMMARY_SQL["follow_ups"], params)
    return {
        "patients": patients,
        "active": active,
        "referrals": referrals,
        "trials": trials,
        "implants": implants,
        "replacements": replacements,
        "explants": explants,
        "refills": performed,
        "on_time_rate": round(on_time / closed, 3) if closed else None,
        "intervals": intervals,
        "median_interval_days": round(median, 1) if median is not None else None,
        "pump_years": round(float(years), 3),
        "complications": complications,
        "follow_up_adherence": round(completed / decided, 3) if decided else None,
    }


def headline(report: dict) -> dict:
    """The same figures picked out of ``registry.reports.summary``'s answer."""
    totals, refills = report["activity"]["totals"], report["refills"]
    return {
        "patients": report["census"]["patients"],
        "active": report["census"]["active"],
        **{k: totals[k] for k in ("referrals", "trials", "implants", "replacements", "explants")},
        "refills": refills["performed"],
        "on_time_rate": refills["on_time_rate"],
        "intervals": refills["intervals"],
        "median_interval_days": refills["median_interval_days"],
        "pump_years": report["safety"]["pump_years"],
        "complications": report["safety"]["complications"],
        "follow_up_adherence": report["follow_ups"]["adherence"],
    }
