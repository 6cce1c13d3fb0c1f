"""Reminders: one per reason, recipient and channel, with their delivery state."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models.patients import Patient
from registry.models.sites import Site


class Reminder(models.Model):
    """One message about one due thing, for one recipient on one channel.

    The unique key (kind, target, due date, lead, recipient, channel) makes every sweep idempotent;
    the status column is the truth about delivery (docs/decisions.md).
    """

    class Kind(models.TextChoices):
        REFILL_DUE = "refill_due", "Refill due"
        REFILL_OVERDUE = "refill_overdue", "Refill overdue"
        REFILL_CRITICAL = "refill_critical", "Refill critical (alarm date reached)"
        REFILL_ATTENTION = "refill_attention", "Needs attention: no refill date could be projected"
        FOLLOW_UP_DUE = "follow_up_due", "Follow-up due"
        FOLLOW_UP_MISSED = "follow_up_missed", "Follow-up missed"
        BATTERY = "battery", "Battery / ERI approaching"
        RESIDUAL_DISCREPANCY = "residual_discrepancy", "Residual discrepancy at refill"

    class Channel(models.TextChoices):
        INBOX = "inbox", "In-app inbox"
        EMAIL = "email", "Staff e-mail"
        FAMILY_EMAIL = "family_email", "Family e-mail"
        FAMILY_SMS = "family_sms", "Family SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="reminders")
    target_type = models.CharField(max_length=20, help_text="pump, refill or follow_up")
    target_id = models.BigIntegerField()
    due_date = models.DateField(help_text="The date the reminder concerns.")
    lead_days = models.SmallIntegerField(help_text="Days before the date (negative: days after).")
    recipient = models.CharField(max_length=254, help_text="E-mail address, phone number or user:<id>.")
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Delivery bookkeeping (registry.services.reminders): the token of whoever last took the row
    # (the sweep that inserted it, then the delivery that claimed it), and when it was last handed
    # to the queue (a lost queue is rebuilt from this).
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "target_type", "target_id", "due_date", "lead_days", "recipient", "channel"],
                name="reminder_idempotency_key",
                violation_error_message="This reminder already exists.",
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0),
                name="reminder_attempts_nonneg",
                violation_error_message="The number of delivery attempts cannot be negative.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="reminder_status_idx"),
            models.Index(fields=["recipient_user", "status"], name="reminder_inbox_idx"),
            models.Index(fields=["target_type", "target_id", "status"], name="reminder_target_idx"),
            # A sweep counts the rows it inserted by its token; a delivery finds its claimed rows.
            models.Index(fields=["claim_token"], name="reminder_claim_token_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_date} → {self.recipient} ({self.status})"
