"""What every dashboard page's header shows (the user's role and open reminder count), and the
enums templates compare with."""

from django.utils.functional import SimpleLazyObject

from registry.models import FollowUp, ProgramImport, RefillStatus, Reminder, WorkStatus
from registry.roles import is_clinical, role_of
from registry.selectors import TimelineKind, WorkKind
from registry.services.reminders.inbox import open_reminder_count

# A template compares a value with a member (``{% if item.status == WorkStatus.NO_SHOW %}``), never a bare string.
TEMPLATE_ENUMS = {
    "WorkKind": WorkKind,
    "WorkStatus": WorkStatus,
    "RefillStatus": RefillStatus,
    "TimelineKind": TimelineKind,
    "FollowUpStatus": FollowUp.Status,
    "ReminderKind": Reminder.Kind,
    "ImportState": ProgramImport.State,
}


def dashboard(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return TEMPLATE_ENUMS
    # Lazy: one COUNT query, only on pages that render the header.
    return {
        **TEMPLATE_ENUMS,
        "open_reminder_count": SimpleLazyObject(lambda: open_reminder_count(user)),
        "user_role": SimpleLazyObject(lambda: role_of(user) or ""),
        "user_is_clinical": SimpleLazyObject(lambda: is_clinical(user)),
    }
