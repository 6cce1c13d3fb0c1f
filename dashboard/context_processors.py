"""What every dashboard page's header shows: the user's role and open reminder count."""

from django.utils.functional import SimpleLazyObject

from registry.roles import is_clinical, role_of
from registry.services.reminders.inbox import open_reminders


def dashboard(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: one COUNT query, only on pages that render the header.
    return {
        "open_reminder_count": SimpleLazyObject(lambda: open_reminders(user).count()),
        "user_role": SimpleLazyObject(lambda: role_of(user) or ""),
        "user_is_clinical": SimpleLazyObject(lambda: is_clinical(user)),
    }
