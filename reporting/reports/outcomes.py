"""Outcome and process figures: goal attainment, follow-ups kept and reminders delivered."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter

from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    When,
)

from registry.models import (
    FollowUp,
    Goal,
    GoalReview,
    Reminder,
)
from reporting.reports.scope import (
    Scope,
    _day_number,
    _day_sql,
    _happened_at,
    _in_sites,
    _median,
    _rate,
    _rows,
    _sites_sql,
    gas_t_score_from_sums,
)


def _latest_reviews(scope: Scope, start: dt.date, end: dt.date) -> QuerySet[GoalReview]:
    """Each goal's score: its latest review in the period, for goals set on or before ``end``."""
    # Not superseded by ``end``: the stored date of the goal's next review; the goal's date set,
    # patient, category and weight are copied onto the review (all kept by triggers).
    return (
        GoalReview.objects.filter(reviewed_on__gte=start, reviewed_on__lte=end)
        .filter(Q(superseded_on__isnull=True) | Q(superseded_on__gt=end))
        .filter(goal_set_on__lte=end)
        .filter(_happened_at(scope, "patient_id", "reviewed_on"))
    )


def _goal_sums_sql(scope: Scope, start: dt.date, end: dt.date) -> tuple[str, tuple]:
    """The head of a statement over the goals scored in the period, and its parameters.

    It names ``scored``: each goal's latest review in the period (``patient_id``, ``category``, the
    goal's ``weight`` and the ``score``), and ``sums``: per ``patient`` with reviewed goals, Σwx,
    Σw², Σw and the number of goals ``n``. A statement that reads both reads the reviews once.
    """
    scored = _latest_reviews(scope, start, end).values("patient_id", "category", "weight", "score").order_by()
    sql, params = scored.query.sql_with_params()
    head = f"""
        WITH scored AS ({sql}),
        sums AS (SELECT patient_id AS patient, SUM(weight * score) AS swx, SUM(weight * weight) AS sw2,
                        SUM(weight) AS sw, COUNT(*) AS n
                   FROM scored GROUP BY patient_id)
    """  # noqa: S608 (only the code's own SQL is interpolated)
    return head, params


def _scored_goals(scope: Scope, start: dt.date, end: dt.date) -> tuple[dict, list[tuple]]:
    """The reviewed goals by category, as {category: (reviewed, at or above 0, Σwx, Σw)}, and the
    patients' T-score sums (Σwx, Σw², Σw, goals), each with how many patients share them.

    Patients with the same sums have the same T-score: a few hundred rows come back, not one per
    patient. One statement: the period's reviews are read once for both.
    """
    head, params = _goal_sums_sql(scope, start, end)
    rows = _rows(
        head  # noqa: S608 (only the code's own SQL is interpolated)
        + """
        SELECT category, COUNT(*), SUM(CASE WHEN score >= 0 THEN 1 ELSE 0 END), SUM(weight * score), SUM(weight), NULL
          FROM scored GROUP BY category
        UNION ALL
        SELECT NULL, swx, sw2, sw, n, COUNT(*) FROM sums GROUP BY swx, sw2, sw, n
        """,
        params,
    )
    categories = {r[0]: r[1:5] for r in rows if r[0] is not None}
    return categories, [r[1:] for r in rows if r[0] is None]


def _goals(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Goal attainment** (Goal Attainment Scaling).

    Goals set on or before ``end`` (counted at the site where the patient was on ``end``); each
    goal's score is its latest review dated in the period (at the site of that review). Goals
    without one count as "not reviewed" and are left out of attainment. Share at or above
    expected = goals scored >= 0 / reviewed goals. A category's **mean score** is weighted by the
    goals' weights (Σwx / Σw). A patient's **GAS T-score** is 50 + 10·Σwx / sqrt((1−ρ)·Σw² +
    ρ·(Σw)²) with ρ = 0.3 over their reviewed goals; the **mean T-score** is the mean over patients
    with two or more reviewed goals. A T-score from a single goal is only a rescaled score
    (-2..+2 become 30..70), so those patients are counted and averaged apart
    (``single_goal_patients``, ``single_goal_mean_t_score``) and never mixed into the mean.
    """
    goal_counts = (
        Goal.objects.filter(set_on__lte=end)
        .filter(_happened_at(scope, "patient_id", end))
        .values("category")
        .annotate(goals=Count("*"))  # COUNT(*), not of the id: the id is not in the covering index
        .order_by()
    )
    scored, t_score_groups = _scored_goals(scope, start, end)
    scores = {
        category: {"reviewed": n, "at_or_above": above, "swx": swx, "sw": sw}
        for category, (n, above, swx, sw) in scored.items()
    }
    no_reviews = {"reviewed": 0, "at_or_above": 0, "swx": None, "sw": None}
    categories = {c["category"]: {**c, **scores.get(c["category"], no_reviews)} for c in goal_counts}
    by_category = []
    for cat in Goal.Category.values:
        c = categories.get(cat)
        if c is None:
            continue
        by_category.append(
            {
                "category": cat,
                "goals": c["goals"],
                "reviewed": c["reviewed"],
                "not_reviewed": c["goals"] - c["reviewed"],
                "at_or_above_expected": c["at_or_above"],
                "share_at_or_above_expected": _rate(c["at_or_above"], c["reviewed"]),
                "mean_score": round(c["swx"] / c["sw"], 2) if c["sw"] else None,
            }
        )
    several, single = [], []
    for swx, sw2, sw, n, patients in t_score_groups:
        (several if n > 1 else single).extend([gas_t_score_from_sums(swx, sw2, sw)] * patients)
    goals = sum(c["goals"] for c in by_category)
    reviewed = sum(c["reviewed"] for c in by_category)
    at_or_above = sum(c["at_or_above_expected"] for c in by_category)
    return {
        "goals": goals,
        "reviewed": reviewed,
        "not_reviewed": goals - reviewed,
        "at_or_above_expected": at_or_above,
        "share_at_or_above_expected": _rate(at_or_above, reviewed),
        "patients_with_t_score": len(several),
        "mean_t_score": round(statistics.fmean(several), 2) if several else None,
        "single_goal_patients": len(single),
        "single_goal_mean_t_score": round(statistics.fmean(single), 2) if single else None,
        "by_category": by_category,
    }


def _follow_ups(scope: Scope, start: dt.date, end: dt.date, today: dt.date) -> dict:
    """**Follow-up adherence**, from dates alone.

    Visits due in the period, at the site where the patient's stay held the due date. A visit is
    **completed** when a completion date is recorded (``completed_late`` when that date is after
    the due date plus the site's grace days), **missed** when it is not completed, not cancelled
    and its due date plus the site's grace days is before the day the report is run, and **open**
    when its grace period has not yet passed. Whether the reminder sweep has marked a visit
    "missed" makes no difference. Adherence = completed / (completed + missed); cancelled and
    open visits are reported but left out.
    """
    sites, params = _sites_sql(scope, "f.due_site_id")
    due, done, grace = _day_sql("f.due_date"), _day_sql("f.completed_on"), "s.follow_up_grace_days"
    # The site of the stay holding each due date is stored on the visit (kept by triggers); the
    # visits read from the covering index on the due date, their sites joined for the grace days.
    sql = f"""
        SELECT COUNT(*),
               COALESCE(SUM(CASE WHEN f.completed_on IS NOT NULL THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN f.completed_on IS NOT NULL AND {done} > {due} + {grace} THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN f.status = %(cancelled)s THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN f.completed_on IS NULL AND f.status <> %(cancelled)s
                                  AND {due} < %(today)s - {grace} THEN 1 ELSE 0 END), 0)
          FROM registry_followup f
          JOIN registry_site s ON s.id = f.due_site_id
         WHERE f.due_date >= %(start)s AND f.due_date <= %(end)s AND {sites}
    """  # noqa: S608 (only the code's own SQL is interpolated)
    params.update(start=start, end=end, today=_day_number(today), cancelled=FollowUp.Status.CANCELLED)
    rows = dict(zip(("due", "completed", "completed_late", "cancelled", "missed"), _rows(sql, params)[0], strict=True))
    rows["open"] = rows["due"] - rows["completed"] - rows["cancelled"] - rows["missed"]
    keys = ["due", "completed", "completed_late", "missed", "open", "cancelled"]
    return {**{k: rows[k] for k in keys}, "adherence": _rate(rows["completed"], rows["completed"] + rows["missed"])}


def _reminders(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """**Reminders**, per reminder event, with delivery per channel beneath.

    A **reminder event** is one due thing: the same kind of reminder about the same record and
    due date (a refill due on 3 March), however many leads, recipients and channels it was sent
    on. Events are counted in the period that holds their due date, at the site that sent them.
    Each message's outcome comes from what happened to it, never from what was done later:
    **delivered** when it was handed to its channel (an inbox message when it was posted),
    **failed** when delivery was given up or failed before the message was acknowledged, and
    **cancelled** when its reason went away before it was sent; acknowledging a failed message
    leaves it failed. An event is **reached** when at least one of its messages was delivered,
    **failed** when none was and one failed, **cancelled** when all were cancelled unsent.
    **Acknowledged** is its own figure: events acknowledged by anyone, and the median hours from
    an event's first message to its first acknowledgement.
    """
    St = Reminder.Status
    qs = Reminder.objects.filter(_in_sites(scope, "site_id"), due_date__gte=start, due_date__lte=end)
    delivered = Q(sent_at__isnull=False)
    failed = Q(sent_at__isnull=True) & (Q(status=St.FAILED) | (Q(status=St.ACKNOWLEDGED) & ~Q(last_error="")))
    cancelled = Q(sent_at__isnull=True, status=St.CANCELLED)
    acknowledged = Q(acknowledged_at__isnull=False)
    channels = {
        r["channel"]: r
        for r in qs.values("channel")
        .annotate(
            messages=Count("id"),
            delivered=Count("id", filter=delivered),
            failed=Count("id", filter=failed),
            cancelled=Count("id", filter=cancelled),
            acknowledged=Count("id", filter=acknowledged),
        )
        .order_by()
    }
    flag = {"output_field": IntegerField()}
    events = (
        qs.values("kind", "target_type", "target_id", "due_date")
        .annotate(
            reached=Max(Case(When(delivered, then=1), default=0, **flag)),
            failed=Max(Case(When(failed, then=1), default=0, **flag)),
            open=Max(Case(When(cancelled, then=0), default=1, **flag)),
            first_message=Min("created_at"),
            first_ack=Min("acknowledged_at"),
        )
        .values_list("reached", "failed", "open", "first_message", "first_ack")
        .order_by()
    )
    counts: Counter = Counter()
    hours = []
    for reached, any_failed, open_, first, ack in events:
        counts["events"] += 1
        if reached:
            counts["reached"] += 1
        elif any_failed:
            counts["failed"] += 1
        elif not open_:
            counts["cancelled"] += 1
        else:
            counts["not_sent"] += 1
        if ack is not None:
            counts["acknowledged"] += 1
            hours.append((ack - first).total_seconds() / 3600)
    by_channel = []
    for channel in Reminder.Channel.values:
        c = channels.get(channel)
        if c:
            by_channel.append(
                {
                    "channel": channel,
                    **{k: c[k] for k in ("messages", "delivered", "failed", "cancelled", "acknowledged")},
                }
            )
    keys = ["events", "reached", "failed", "cancelled", "not_sent", "acknowledged"]
    return {
        **{k: counts[k] for k in keys},
        "reached_share": _rate(counts["reached"], counts["events"] - counts["cancelled"]),
        "median_hours_to_acknowledgement": _median(hours),
        "by_channel": by_channel,
    }
