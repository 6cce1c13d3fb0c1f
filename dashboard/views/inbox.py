"""The reminder inbox: a user's open reminders and the ones acknowledged lately."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from registry import services
from registry.models import Reminder


def _inbox_context(request) -> dict:
    base = services.inbox_reminders(request.user).select_related("patient", "site")
    return {
        "open": list(
            services.open_reminders(request.user).select_related("patient", "site").order_by("due_date", "id")
        ),
        "done": list(base.filter(status=Reminder.Status.ACKNOWLEDGED).order_by("-acknowledged_at")[:20]),
    }


@login_required
def inbox(request):
    return render(request, "dashboard/inbox.html", _inbox_context(request))


@login_required
@require_POST
def inbox_acknowledge(request):
    """Acknowledge one reminder (its own button) or every ticked one."""
    one = request.POST.get("one")
    ids = [one] if one else request.POST.getlist("ids")
    if request.POST.get("all"):
        ids = list(services.open_reminders(request.user).values_list("pk", flat=True))
    try:
        count = services.acknowledge_reminders(user=request.user, ids=[int(i) for i in ids])
    except ValueError:
        count = 0
    if count:
        messages.success(request, f"{count} reminder{'s' if count != 1 else ''} acknowledged.")
    else:
        messages.info(request, "Nothing to acknowledge: tick one or more reminders first.")
    if request.htmx:
        return render(request, "dashboard/partials/inbox_body.html", {**_inbox_context(request), "oob_count": True})
    return redirect("inbox")
