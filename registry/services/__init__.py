"""Services: every write to the registry goes through one of these functions."""

from registry.services.appointments import book_refill_visit, cancel_refill_visit, move_refill_visit
from registry.services.calendar_feeds import calendar_feed_user, issue_calendar_feed, revoke_calendar_feed
from registry.services.clinical import (
    add_indication,
    cancel_follow_up,
    complete_follow_up,
    mark_missed_follow_ups,
    record_complication,
    record_screening_trial,
    reschedule_follow_up,
    resolve_complication,
    review_goal,
    schedule_follow_up,
    set_goal,
)
from registry.services.contacts import log_contact
from registry.services.corrections import mark_dose_change_entered_in_error, mark_refill_entered_in_error
from registry.services.patients import (
    allowed_next_statuses,
    change_status,
    create_patient,
    move_patient,
    site_on,
    update_patient,
)
from registry.services.pumps import explant_pump, implant_pump, replace_pump, update_pump
from registry.services.refills import preview_refill, record_dose_change, record_refill, unusual_refill_values
from registry.services.reminders.inbox import (
    acknowledge_reminder,
    acknowledge_reminders,
    inbox_reminders,
    open_reminders,
)
from registry.services.schedule import recompute_schedule, recompute_site, site_rules, site_today

__all__ = [
    "acknowledge_reminder",
    "acknowledge_reminders",
    "add_indication",
    "allowed_next_statuses",
    "book_refill_visit",
    "cancel_refill_visit",
    "calendar_feed_user",
    "cancel_follow_up",
    "change_status",
    "complete_follow_up",
    "create_patient",
    "explant_pump",
    "implant_pump",
    "inbox_reminders",
    "issue_calendar_feed",
    "log_contact",
    "mark_dose_change_entered_in_error",
    "mark_missed_follow_ups",
    "mark_refill_entered_in_error",
    "move_patient",
    "move_refill_visit",
    "open_reminders",
    "preview_refill",
    "recompute_schedule",
    "recompute_site",
    "record_complication",
    "record_dose_change",
    "record_refill",
    "record_screening_trial",
    "replace_pump",
    "reschedule_follow_up",
    "resolve_complication",
    "review_goal",
    "revoke_calendar_feed",
    "schedule_follow_up",
    "set_goal",
    "site_on",
    "site_rules",
    "site_today",
    "unusual_refill_values",
    "update_patient",
    "update_pump",
]
