"""Reminders: the periodic sweep that turns stored dates into Reminder rows (delivery is in ``delivery``).

The rules (docs/architecture.md, "Scheduling rules"; docs/clinical-facts.md, "Why a date is a
safety matter"), each computed in the site's own time zone with the site's own leads:

- refill due: ``next_refill_due`` is ``today + lead`` for each of ``Site.refill_lead_days``
  (default 14, 7, 2 and 0 days before);
- refill overdue: past ``next_refill_due`` but not yet at the alarm date, one per day
  (``lead_days`` = minus the days overdue);
- refill critical: the alarm date reached, one per day, escalated to the site's escalation
  contact and the patient's primary clinician as well as the coordinators;
- refill needs attention: no usable projection (``scheduling.NEEDS_ATTENTION``: a new pump without
  its first fill, a refill that cannot be projected), one per day, with the patient's reason;
- follow-up due: a scheduled visit ``follow_up_lead_days`` ahead (default 7 and 1); follow-up
  missed: a visit past its grace period (marked missed here), once;
- battery: the ERI date ``battery_lead_days`` ahead (default 180 and 90), and once reached; a
  date first seen after a lead (or after the ERI date) gets that stage's reminder at once;
- residual discrepancy: a refill flagged for clinical review, once.

Who gets what: every coordinator and clinician of the site sees every reminder in the in-app
inbox (rows created as ``sent``: the row *is* the delivery); coordinators of the site get every
kind by e-mail; critical refills and residual discrepancies also go to the primary clinician, and
critical refills to the site's escalation address; families who consented get refill-due and
follow-up-due reminders by e-mail and/or SMS.

Idempotency and concurrency: the unique key (kind, target, due date, lead, recipient, channel)
makes a second sweep, or two at once, insert nothing new (``bulk_create(ignore_conflicts=True)``).
The number of SQL queries of a sweep depends on the number of sites, never on the number of
patients. Delivery is at most once per claim: a conditional UPDATE moves rows from ``pending`` to
``sending`` under a fresh token, so two workers never send the same row; the database is the
truth and the queue only carries work, so the sweep re-enqueues what the queue lost.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from registry import scheduling
from registry.models import FollowUp, Patient, PatientStatus, Refill, Reminder, Site, StaffProfile, site_today
from registry.services.clinical import mark_missed_follow_ups

St = Reminder.Status

REFILL_KINDS = (
    Reminder.Kind.REFILL_DUE,
    Reminder.Kind.REFILL_OVERDUE,
    Reminder.Kind.REFILL_CRITICAL,
    Reminder.Kind.REFILL_ATTENTION,
)
FAMILY_KINDS = (Reminder.Kind.REFILL_DUE, Reminder.Kind.FOLLOW_UP_DUE)
DELIVERED_CHANNELS = (Reminder.Channel.EMAIL, Reminder.Channel.FAMILY_EMAIL, Reminder.Channel.FAMILY_SMS)
# A missed visit or a discrepancy is reported once; a sweep that did not run for up to this many
# days still catches up. Older ones are on the worklist, not re-announced.
CATCH_UP_DAYS = 14
# Patients no longer followed by the program: their scheduled visits are not reminded.
LEFT_PROGRAM = (PatientStatus.DECEASED, PatientStatus.TRANSFERRED, PatientStatus.DISCONTINUED)

Enqueue = Callable[[list[int]], None]


@dataclass(frozen=True)
class Batch:
    """Pending reminders for one recipient on one channel: one message."""

    recipient: str
    channel: str
    reminder_ids: list[int]
    kinds: list[str]


@dataclass
class SweepResult:
    now: dt.datetime
    dry_run: bool = False
    created: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    missed_follow_ups: int = 0
    recovered: int = 0
    batches: list[Batch] = field(default_factory=list)

    @property
    def created_total(self) -> int:
        return sum(self.created.values())


class _DryRun(Exception):
    """Raised to roll back a dry run: it runs the very same code, then undoes it."""


@dataclass(frozen=True)
class _SweepSite:
    site: Site
    today: dt.date
    coordinator_emails: tuple[str, ...]
    inbox_users: tuple[int, ...]


def _sweep_sites(now: dt.datetime) -> list[_SweepSite]:
    """Each site's "today" in its own zone, and its staff recipients (two queries in all)."""
    staff: dict[int, dict[str, set]] = defaultdict(lambda: {"emails": set(), "users": set()})
    rows = StaffProfile.objects.filter(
        role__in=[StaffProfile.Role.COORDINATOR, StaffProfile.Role.CLINICIAN], user__is_active=True
    ).values_list("sites", "user_id", "role", "user__email")
    for site_id, user_id, role, email in rows:
        if site_id is None:
            continue
        staff[site_id]["users"].add(user_id)
        if role == StaffProfile.Role.COORDINATOR and email:
            staff[site_id]["emails"].add(email.lower())
    return [
        _SweepSite(
            site=site,
            today=site_today(site, now),
            coordinator_emails=tuple(sorted(staff[site.pk]["emails"])),
            inbox_users=tuple(sorted(staff[site.pk]["users"])),
        )
        for site in Site.objects.all()
    ]


def _days(today: dt.date, leads: Iterable[int]) -> list[dt.date]:
    return sorted({today + dt.timedelta(days=int(lead)) for lead in leads})


def _battery_stages(site: Site) -> set[int]:
    """The battery reminder's leads, and 0: the ERI date reached."""
    return {0, *(int(lead) for lead in site.battery_lead_days)}


def _any(q_by_site: Iterable[Q]) -> Q:
    """OR of per-site conditions; matches nothing when there are none."""
    combined = Q(pk__in=[])
    for q in q_by_site:
        combined |= q
    return combined


_PATIENT_FIELDS = (
    "id",
    "site_id",
    "next_refill_due",
    "alarm_date",
    "battery_eri_date",
    "primary_clinician__email",
    "contact_email",
    "contact_phone",
    "consent_email",
    "consent_sms",
    "pumps__id",
)


class _Rows:
    """Collects Reminder rows keyed by the idempotency key (a duplicate recipient collapses)."""

    def __init__(self, now: dt.datetime, token: str) -> None:
        self.now = now
        self.token = token
        self.rows: dict[tuple, dict] = {}  # the fields of each new Reminder (plain dicts: 10,000 a sweep)

    def add(
        self,
        sd: _SweepSite,
        kind: str,
        patient_id: int,
        target: tuple[str, int],
        due: dt.date,
        lead: int,
        *,
        emails: Iterable[str] = (),
        family: dict | None = None,
    ) -> None:
        base = dict(
            kind=kind,
            patient_id=patient_id,
            site_id=sd.site.pk,
            target_type=target[0],
            target_id=target[1],
            due_date=due,
            lead_days=lead,
        )
        for user_id in sd.inbox_users:
            self._put(
                base,
                f"user:{user_id}",
                Reminder.Channel.INBOX,
                recipient_user_id=user_id,
                status=St.SENT,
                sent_at=self.now,
            )
        for email in {*sd.coordinator_emails, *(e.lower() for e in emails if e)}:
            self._put(base, email, Reminder.Channel.EMAIL)
        if family and kind in FAMILY_KINDS:
            if family["consent_email"] and family["contact_email"]:
                # As stored: cancel_obsolete compares it with the patient's contact address.
                self._put(base, family["contact_email"], Reminder.Channel.FAMILY_EMAIL)
            if family["consent_sms"] and family["contact_phone"]:
                self._put(base, family["contact_phone"], Reminder.Channel.FAMILY_SMS)

    def _put(self, base: dict, recipient: str, channel: str, **extra) -> None:
        key = (
            base["kind"],
            base["target_type"],
            base["target_id"],
            base["due_date"],
            base["lead_days"],
            recipient,
            channel,
        )
        if key not in self.rows:
            self.rows[key] = {**base, "recipient": recipient, "channel": channel, "claim_token": self.token, **extra}


def _collect(sweep_sites: list[_SweepSite], now: dt.datetime, token: str) -> _Rows:
    """Every reminder due now, as unsaved rows. One query per kind, whatever the program's size."""
    rows = _Rows(now, token)
    by_site = {sd.site.pk: sd for sd in sweep_sites}
    implanted = Patient.objects.filter(status=PatientStatus.IMPLANTED, pumps__explant_date__isnull=True)
    attention = Q(refill_due_basis=scheduling.NEEDS_ATTENTION)

    # No usable projection: said as such (the reason is on the patient), never as "due" or "overdue".
    needing_attention = implanted.filter(attention, next_refill_due__isnull=False, site_id__in=list(by_site))
    for p in needing_attention.values(*_PATIENT_FIELDS):
        sd = by_site[p["site_id"]]
        lead = (p["next_refill_due"] - sd.today).days
        rows.add(sd, Reminder.Kind.REFILL_ATTENTION, p["id"], ("pump", p["pumps__id"]), p["next_refill_due"], lead)

    projected = implanted.exclude(attention)
    due = projected.filter(
        _any(Q(site_id=sd.site.pk, next_refill_due__in=_days(sd.today, sd.site.refill_lead_days)) for sd in sweep_sites)
    )
    for p in due.values(*_PATIENT_FIELDS):
        sd = by_site[p["site_id"]]
        lead = (p["next_refill_due"] - sd.today).days
        rows.add(sd, Reminder.Kind.REFILL_DUE, p["id"], ("pump", p["pumps__id"]), p["next_refill_due"], lead, family=p)

    late = projected.filter(
        _any(
            Q(site_id=sd.site.pk, next_refill_due__lt=sd.today)
            | Q(site_id=sd.site.pk, next_refill_due__isnull=False, alarm_date__lte=sd.today)
            for sd in sweep_sites
        )
    )
    for p in late.values(*_PATIENT_FIELDS):
        sd = by_site[p["site_id"]]
        target = ("pump", p["pumps__id"])
        if p["alarm_date"] is not None and p["alarm_date"] <= sd.today:
            escalate = [p["primary_clinician__email"] or "", sd.site.escalation_email]
            lead = (p["alarm_date"] - sd.today).days
            rows.add(sd, Reminder.Kind.REFILL_CRITICAL, p["id"], target, p["alarm_date"], lead, emails=escalate)
        else:
            lead = (p["next_refill_due"] - sd.today).days
            rows.add(sd, Reminder.Kind.REFILL_OVERDUE, p["id"], target, p["next_refill_due"], lead)

    battery = implanted.filter(
        _any(
            Q(site_id=sd.site.pk, battery_eri_date__lte=sd.today + dt.timedelta(days=max(_battery_stages(sd.site))))
            for sd in sweep_sites
        )
    )
    for p in battery.values(*_PATIENT_FIELDS):
        sd = by_site[p["site_id"]]
        days_left = (p["battery_eri_date"] - sd.today).days
        # The latest stage reached: a date first seen inside a lead, or already past, is still announced.
        lead = min(stage for stage in _battery_stages(sd.site) if stage >= days_left)
        rows.add(sd, Reminder.Kind.BATTERY, p["id"], ("pump", p["pumps__id"]), p["battery_eri_date"], lead)

    visit_fields = ("id", "due_date", "status", *(f"patient__{f}" for f in _PATIENT_FIELDS[:-1]))
    visits = FollowUp.objects.exclude(patient__status__in=LEFT_PROGRAM).filter(
        _any(
            Q(
                patient__site_id=sd.site.pk,
                status=FollowUp.Status.SCHEDULED,
                due_date__in=_days(sd.today, sd.site.follow_up_lead_days),
            )
            | Q(
                patient__site_id=sd.site.pk,
                status=FollowUp.Status.MISSED,
                due_date__gte=sd.today - dt.timedelta(days=sd.site.follow_up_grace_days + 1 + CATCH_UP_DAYS),
            )
            for sd in sweep_sites
        )
    )
    for v in visits.values(*visit_fields):
        sd = by_site[v["patient__site_id"]]
        family = {k: v[f"patient__{k}"] for k in ("consent_email", "consent_sms", "contact_email", "contact_phone")}
        if v["status"] == FollowUp.Status.SCHEDULED:
            lead = (v["due_date"] - sd.today).days
            rows.add(
                sd,
                Reminder.Kind.FOLLOW_UP_DUE,
                v["patient__id"],
                ("follow_up", v["id"]),
                v["due_date"],
                lead,
                family=family,
            )
        else:
            # A fixed lead (the day it became missed) keeps one reminder per missed visit.
            lead = -(sd.site.follow_up_grace_days + 1)
            rows.add(sd, Reminder.Kind.FOLLOW_UP_MISSED, v["patient__id"], ("follow_up", v["id"]), v["due_date"], lead)

    flagged = Refill.objects.filter(residual_discrepancy=True, performed_at__gte=now - dt.timedelta(days=CATCH_UP_DAYS))
    for r in flagged.values(
        "id", "performed_at", "pump__patient_id", "pump__patient__site_id", "pump__patient__primary_clinician__email"
    ):
        sd = by_site[r["pump__patient__site_id"]]
        day = scheduling.local_date(r["performed_at"], sd.site.zone)
        rows.add(
            sd,
            Reminder.Kind.RESIDUAL_DISCREPANCY,
            r["pump__patient_id"],
            ("refill", r["id"]),
            day,
            0,
            emails=[r["pump__patient__primary_clinician__email"] or ""],
        )
    return rows


def _cancellable() -> Q:
    """Undelivered reminders: pending ones, and inbox rows nobody has acknowledged yet."""
    return Q(status=St.PENDING) | Q(status=St.SENT, channel=Reminder.Channel.INBOX)


def cancel_obsolete(*, patient: Patient | None = None) -> int:
    """Cancel undelivered reminders whose reason is gone. Set-based: a few UPDATEs in all.

    A refill reminder is about one due date (critical: one alarm date): once the patient's stored
    schedule says otherwise (a refill was recorded, the dose changed) or the patient is no longer
    implanted, it is void. So is a follow-up reminder once the visit is completed, cancelled or
    moved or the patient left the program, a battery reminder once the ERI date moved, and a
    family reminder once consent is withdrawn or the contact changed. Sent, failed and
    acknowledged rows are history and stay.
    """
    qs = Reminder.objects.filter(_cancellable())
    if patient is not None:
        qs = qs.filter(patient=patient)
        if not qs.exists():  # the common case for one patient: one indexed query, no UPDATEs
            return 0
    not_implanted = ~Q(patient__status=PatientStatus.IMPLANTED)
    voids = [
        qs.filter(kind__in=[Reminder.Kind.REFILL_DUE, Reminder.Kind.REFILL_OVERDUE]).filter(
            not_implanted | Q(patient__next_refill_due__isnull=True) | ~Q(due_date=F("patient__next_refill_due"))
        ),
        qs.filter(kind=Reminder.Kind.REFILL_ATTENTION).filter(
            not_implanted
            | ~Q(patient__refill_due_basis=scheduling.NEEDS_ATTENTION)
            | ~Q(due_date=F("patient__next_refill_due"))
        ),
        qs.filter(kind=Reminder.Kind.REFILL_CRITICAL).filter(
            not_implanted | Q(patient__alarm_date__isnull=True) | ~Q(due_date=F("patient__alarm_date"))
        ),
        qs.filter(kind=Reminder.Kind.BATTERY).filter(
            not_implanted | Q(patient__battery_eri_date__isnull=True) | ~Q(due_date=F("patient__battery_eri_date"))
        ),
        qs.filter(
            kind__in=[Reminder.Kind.FOLLOW_UP_DUE, Reminder.Kind.FOLLOW_UP_MISSED], patient__status__in=LEFT_PROGRAM
        ),
        qs.filter(kind=Reminder.Kind.FOLLOW_UP_DUE).filter(
            ~Exists(
                FollowUp.objects.filter(
                    pk=OuterRef("target_id"), status=FollowUp.Status.SCHEDULED, due_date=OuterRef("due_date")
                )
            )
        ),
        qs.filter(kind=Reminder.Kind.FOLLOW_UP_MISSED).filter(
            ~Exists(FollowUp.objects.filter(pk=OuterRef("target_id"), status=FollowUp.Status.MISSED))
        ),
        qs.filter(channel=Reminder.Channel.FAMILY_EMAIL).filter(
            Q(patient__consent_email=False) | ~Q(recipient=F("patient__contact_email"))
        ),
        qs.filter(channel=Reminder.Channel.FAMILY_SMS).filter(
            Q(patient__consent_sms=False) | ~Q(recipient=F("patient__contact_phone"))
        ),
    ]
    return sum(v.update(status=St.CANCELLED, last_error="Cancelled: the reason is gone.") for v in voids)


def _recover(now: dt.datetime) -> int:
    """Rows left ``sending`` by a worker that died before recording the outcome go back to pending."""
    stale = now - dt.timedelta(seconds=settings.REMINDER_SENDING_TIMEOUT_SECONDS)
    return Reminder.objects.filter(status=St.SENDING, claimed_at__lt=stale).update(
        status=St.PENDING, enqueued_at=None, last_error="Recovered: the delivery did not finish."
    )


def _batches(now: dt.datetime) -> list[Batch]:
    """Mark pending reminders that are not queued (new, or queued so long ago the queue lost them).

    The mark is a conditional UPDATE, so two sweeps at once hand each row to the queue once.
    """
    requeue = now - dt.timedelta(seconds=settings.REMINDER_REQUEUE_AFTER_SECONDS)
    Reminder.objects.filter(status=St.PENDING, channel__in=DELIVERED_CHANNELS).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=requeue)
    ).update(enqueued_at=now)
    groups: dict[tuple[str, str], Batch] = {}
    for pk, recipient, channel, kind in (
        Reminder.objects.filter(status=St.PENDING, enqueued_at=now)
        .order_by("recipient", "channel", "id")
        .values_list("id", "recipient", "channel", "kind")
    ):
        batch = groups.setdefault((recipient, channel), Batch(recipient, channel, [], []))
        batch.reminder_ids.append(pk)
        batch.kinds.append(kind)
    return list(groups.values())


def sweep(*, now: dt.datetime | None = None, dry_run: bool = False, enqueue: Enqueue | None = None) -> SweepResult:
    """Find everything due, write the reminders, cancel the void ones and hand the rest to delivery.

    Steps, in one transaction: mark visits past their grace period missed; insert the reminders
    due now (idempotent); cancel those whose reason is gone; recover rows a dead worker left in
    ``sending``; batch what is pending per recipient and channel and, once the transaction has
    committed, pass each batch to ``enqueue``. ``dry_run`` runs the same steps and rolls back.
    """
    now = now or timezone.now()
    # New rows carry the sweep's token until a delivery claims them: that is how a sweep counts
    # the rows it inserted itself (another sweep's, committed meanwhile, are visible too).
    token = uuid.uuid4().hex
    result = SweepResult(now=now, dry_run=dry_run)
    try:
        with transaction.atomic():
            sweep_sites = _sweep_sites(now)
            result.missed_follow_ups = mark_missed_follow_ups(sites_on=[(sd.site, sd.today) for sd in sweep_sites])
            rows = _collect(sweep_sites, now, token)
            _insert_new(list(rows.rows.values()), now)
            result.created = dict(
                Reminder.objects.filter(claim_token=token).values_list("kind").annotate(n=Count("id"))
            )
            result.cancelled = cancel_obsolete()
            result.recovered = _recover(now)
            result.batches = _batches(now)
            if dry_run:
                raise _DryRun
            if enqueue is not None:
                for batch in result.batches:
                    transaction.on_commit(lambda ids=batch.reminder_ids: enqueue(ids))
    except _DryRun:
        pass
    return result


def _insert_new(rows: list[dict], now: dt.datetime) -> None:
    """``bulk_create(ignore_conflicts=True)`` of these Reminder fields: rows whose key is new are inserted.

    Why not ``bulk_create`` on PostgreSQL: at 100,000 patients a sweep writes ~10,000 candidate
    rows (most already there: the key makes the sweep idempotent), and building a model instance
    for each, then preparing its twenty fields, took longer than the database. Here the
    rows are COPYed into a temporary table (dropped at commit: it lives inside the sweep's
    transaction) and moved with one INSERT ... ON CONFLICT DO NOTHING.
    """
    if connection.vendor != "postgresql" or not rows:
        Reminder.objects.bulk_create([Reminder(**r) for r in rows], ignore_conflicts=True)
        return
    fields = [f for f in Reminder._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: (now if f.attname == "created_at" else f.get_default()) for f in fields}
    names = list(defaults)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS reminder_batch ON COMMIT DROP AS SELECT {columns} FROM registry_reminder WITH NO DATA"  # noqa: S608, E501
        )
        with cursor.cursor.copy(f"COPY reminder_batch ({columns}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([_plain(r.get(name, defaults[name])) for name in names])
        cursor.execute(
            f"INSERT INTO registry_reminder ({columns}) SELECT {columns} FROM reminder_batch ON CONFLICT DO NOTHING"  # noqa: S608
        )
        cursor.execute("TRUNCATE reminder_batch")


def _plain(value):
    """A choice's value, not the enum member (COPY adapts by type)."""
    return value.value if isinstance(value, enum.Enum) else value
