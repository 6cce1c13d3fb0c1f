"""Reminders: the sweep that turns stored dates into Reminder rows (``sweep``), the delivery
bookkeeping of the workers that send them (``delivery``), their text (``messages``) and the
in-app inbox (``inbox``)."""

from registry.services.reminders.delivery import Claim, claim, mark_failed, mark_sent, release_for_retry, retry_delay
from registry.services.reminders.messages import Message, render
from registry.services.reminders.sweep import (
    DELIVERED_CHANNELS,
    Batch,
    SweepResult,
    cancel_obsolete,
    sweep,
)

__all__ = [
    "DELIVERED_CHANNELS",
    "Batch",
    "Claim",
    "Message",
    "SweepResult",
    "cancel_obsolete",
    "claim",
    "mark_failed",
    "mark_sent",
    "release_for_retry",
    "render",
    "retry_delay",
    "sweep",
]
