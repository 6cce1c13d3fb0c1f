"""The floor of each target: hand-written SQL returning the same rows, run on a plain cursor.

No ORM, no model instances, no serializer or template: the time the database and the driver need
for the rows a page shows. The ratio target/floor is what the framework adds (budget: within 5x
for the paged endpoints). Each site's "today" and lead window are computed in SQL from its time
zone, as ``registry.selectors.with_refill_status`` does.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

# A patient's refill status in SQL, per site time zone (the rule of registry.scheduling.refill_status).
STATUS = """
    CASE
      WHEN p.next_refill_due IS NULL THEN 'none'
      WHEN p.alarm_date <= (now() AT TIME ZONE s.time_zone)::date THEN 'critical'
      WHEN p.next_refill_due < (now() AT TIME ZONE s.time_zone)::date THEN 'overdue'
      WHEN p.next_refill_due <= (now() AT TIME ZONE s.time_zone)::date
           + (SELECT coalesce(max(x::int), 0) FROM jsonb_array_elements_text(s.refill_lead_days) x) THEN 'due'
      ELSE 'upcoming'
    END
"""
PATIENT_COLUMNS = f"""
    p.id, p.mrn, p.given_name, p.family_name, p.date_of_birth, p.status, p.study_id, p.next_refill_due,
    p.alarm_date, p.empty_date, p.battery_eri_date, p.last_refill_at, s.id AS site_pk, s.name AS site_name,
    s.time_zone AS site_zone, {STATUS}
"""


def _rows(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def patient_list() -> tuple[int, list]:
    """Page 1 of 50 patients by name, with the total count (what a paginated list needs)."""
    total = _rows("SELECT count(*) FROM registry_patient")[0][0]
    page = _rows(
        f"SELECT {PATIENT_COLUMNS} FROM registry_patient p JOIN registry_site s ON s.id = p.site_id "  # noqa: S608
        "ORDER BY p.family_name, p.given_name, p.id LIMIT 50"
    )
    return total, page


def patient_detail(patient_id: int) -> tuple:
    """One patient with their pumps, indications and the active pump's last ten refills."""
    patient = _rows(
        f"SELECT {PATIENT_COLUMNS} FROM registry_patient p JOIN registry_site s ON s.id = p.site_id "  # noqa: S608
        "WHERE p.id = %s",
        [patient_id],
    )
    pumps = _rows("SELECT * FROM registry_pump WHERE patient_id = %s ORDER BY implant_date, id", [patient_id])
    indications = _rows("SELECT * FROM registry_indication WHERE patient_id = %s", [patient_id])
    refills = _rows(
        "SELECT r.* FROM registry_refill r JOIN registry_pump pu ON pu.id = r.pump_id "
        "WHERE pu.patient_id = %s AND pu.explant_date IS NULL ORDER BY r.performed_at DESC LIMIT 10",
        [patient_id],
    )
    return patient, pumps, indications, refills


def worklist(start: dt.date, end: dt.date) -> tuple[list, list, list]:
    """Refills due by ``end`` (or already overdue), batteries near ERI, follow-ups due or missed."""
    refills = _rows(
        f"SELECT * FROM (SELECT {PATIENT_COLUMNS} AS refill_status FROM registry_patient p "  # noqa: S608
        "JOIN registry_site s ON s.id = p.site_id WHERE p.next_refill_due <= %s "
        "AND (p.next_refill_due >= %s OR p.next_refill_due <= %s)) w "
        "WHERE NOT (refill_status = 'upcoming' AND next_refill_due < %s) "
        "ORDER BY array_position(ARRAY['critical','overdue','due','upcoming','none'], refill_status), "
        "alarm_date, next_refill_due, id",
        [end, start, start, start],
    )
    batteries = _rows(
        f"SELECT {PATIENT_COLUMNS} FROM registry_patient p JOIN registry_site s ON s.id = p.site_id "  # noqa: S608
        "WHERE p.battery_eri_date <= %s",
        [end + dt.timedelta(days=180)],
    )
    visits = _rows(
        "SELECT f.id, f.kind, f.due_date, f.status, p.id, p.given_name, p.family_name, s.time_zone "
        "FROM registry_followup f JOIN registry_patient p ON p.id = f.patient_id "
        "JOIN registry_site s ON s.id = p.site_id WHERE f.due_date <= %s AND f.status IN ('scheduled', 'missed') "
        "AND NOT f.superseded "
        "AND NOT (f.status = 'scheduled' AND f.due_date < %s)",
        [end, start - dt.timedelta(days=30)],
    )
    return refills, batteries, visits


def _worklist_union(start: dt.date, end: dt.date) -> str:
    """Every worklist item as (kind, status, urgency, due, patient, target), as registry.selectors ranks them."""
    return f"""
      SELECT 'refill' AS kind, st AS status,
             CASE st WHEN 'critical' THEN 0 WHEN 'overdue' THEN 1 WHEN 'due' THEN 3 ELSE 7 END AS urgency,
             next_refill_due AS due, id AS patient, NULL::bigint AS target
        FROM (SELECT p.id, p.next_refill_due, {STATUS} AS st FROM registry_patient p
              JOIN registry_site s ON s.id = p.site_id WHERE p.next_refill_due <= '{end}') r
       WHERE NOT (st = 'upcoming' AND next_refill_due < '{start}')
      UNION ALL
      SELECT 'battery', CASE WHEN p.battery_eri_date <= (now() AT TIME ZONE s.time_zone)::date
                             THEN 'overdue' ELSE 'due' END,
             CASE WHEN p.battery_eri_date <= (now() AT TIME ZONE s.time_zone)::date THEN 2 ELSE 5 END,
             p.battery_eri_date, p.id, NULL
        FROM registry_patient p JOIN registry_site s ON s.id = p.site_id
       WHERE p.battery_eri_date <= '{end + dt.timedelta(days=180)}'
      UNION ALL
      SELECT 'follow_up', m, CASE m WHEN 'missed' THEN 4 ELSE 6 END, due_date, patient_id, id
        FROM (SELECT f.id, f.patient_id, f.due_date,
                     CASE WHEN f.status = 'missed' OR f.due_date < (now() AT TIME ZONE s.time_zone)::date
                          - s.follow_up_grace_days THEN 'missed' ELSE 'due' END AS m
                FROM registry_followup f JOIN registry_patient p ON p.id = f.patient_id
                JOIN registry_site s ON s.id = p.site_id
               WHERE f.due_date <= '{end}' AND f.status IN ('scheduled', 'missed')
                 AND NOT (f.status = 'scheduled' AND f.due_date < '{start - dt.timedelta(days=30)}')
                 AND NOT f.superseded) v
    """


def worklist_page(start: dt.date, end: dt.date, limit: int = 50) -> tuple[int, list, list]:
    """The total, the first page ranked by urgency and date, and the page's patients."""
    union = _worklist_union(start, end)
    total = _rows(f"SELECT count(*) FROM ({union}) w")[0][0]  # noqa: S608
    page = _rows(f"SELECT * FROM ({union}) w ORDER BY urgency, due, patient, kind, target LIMIT {int(limit)}")  # noqa: S608
    ids = list({row[4] for row in page})
    patients = _rows(
        f"SELECT {PATIENT_COLUMNS} FROM registry_patient p JOIN registry_site s ON s.id = p.site_id "  # noqa: S608
        "WHERE p.id = ANY(%s)",
        [ids],
    )
    return total, page, patients


def refill_worklist(end: dt.date, limit: int) -> list:
    """The dashboard's rows: refills due by ``end``, most urgent first, at most ``limit``."""
    return _rows(
        f"SELECT * FROM (SELECT {PATIENT_COLUMNS} AS refill_status FROM registry_patient p "  # noqa: S608
        "JOIN registry_site s ON s.id = p.site_id WHERE p.next_refill_due <= %s) w "
        "ORDER BY array_position(ARRAY['critical','overdue','due','upcoming','none'], refill_status), "
        f"alarm_date, next_refill_due, id LIMIT {int(limit)}",
        [end],
    )


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


def summary(start: dt.date, end: dt.date) -> tuple[list, list, list, list]:
    """The aggregates a program summary shows: statuses, indications, refill timeliness, complications."""
    statuses = _rows("SELECT site_id, status, count(*) FROM registry_patient GROUP BY 1, 2")
    indications = _rows("SELECT diagnosis, count(*) FROM registry_indication WHERE is_primary GROUP BY 1")
    timeliness = _rows(
        "SELECT pa.site_id, r.timeliness, count(*), sum(r.residual_discrepancy::int) FROM registry_refill r "
        "JOIN registry_pump pu ON pu.id = r.pump_id JOIN registry_patient pa ON pa.id = pu.patient_id "
        "WHERE r.performed_at >= %s AND r.performed_at < %s GROUP BY 1, 2",
        [start, end + dt.timedelta(days=1)],
    )
    complications = _rows(
        "SELECT kind, severity, count(*) FROM registry_complication WHERE occurred_on BETWEEN %s AND %s GROUP BY 1, 2",
        [start, end],
    )
    return statuses, indications, timeliness, complications
