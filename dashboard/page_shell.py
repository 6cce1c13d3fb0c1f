"""A dashboard page kept whole for its next hit, but for what differs from one request to the next:
the CSRF token, the header's open-reminder count and the messages. The page is rendered once with
marks in their places, and each hit puts them back live, with no template rendering.

A page with messages to show is rendered as usual (they are shown once, so never kept).
"""

from __future__ import annotations

from django.contrib import messages
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

CSRF_MARK = "\x00csrf-token\x00"
COUNT_MARK = "\x00open-reminder-count\x00"
COUNT_TEMPLATE = "dashboard/partials/reminder_count.html"


def has_messages(request) -> bool:
    return len(messages.get_messages(request)) > 0


def marked_context(count: int) -> dict:
    """What the page is rendered with to become a shell: its live parts as marks."""
    return {"csrf_token": CSRF_MARK, "open_reminder_count": count}


def shell_of(html: str, count: int) -> str | None:
    """The page rendered with ``marked_context(count)``, its count replaced by a mark; None if the
    count is not found once (the page is then served but not kept)."""
    rendered_count = _count_html(count)
    if html.count(rendered_count) != 1 or CSRF_MARK not in html:
        return None
    return html.replace(rendered_count, COUNT_MARK)


def filled(request, shell: str, count: int) -> str:
    """The shell with this request's CSRF token and open-reminder count."""
    return shell.replace(CSRF_MARK, get_token(request)).replace(COUNT_MARK, _count_html(count))


def _count_html(count: int) -> str:
    return render_to_string(COUNT_TEMPLATE, {"open_reminder_count": count})
