"""Staff sessions end after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

LAST_SEEN = "last_seen"
# The session row is rewritten at most this often: a write per request would cost every page a query.
RESOLUTION_SECONDS = 60


class IdleTimeoutMiddleware:
    """Log out a session idle for longer than the setting; the next page then asks for a log-in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timeout = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
        session = getattr(request, "session", None)
        if timeout > 0 and session is not None and request.user.is_authenticated and "_auth_user_id" in session:
            now = int(time.time())
            seen = session.get(LAST_SEEN)
            if seen is not None and now - seen > timeout:
                logout(request)
                messages.info(
                    request,
                    f"You were logged out after {settings.SESSION_IDLE_TIMEOUT_MINUTES} minutes without activity.",
                )
            elif seen is None or now - seen >= min(RESOLUTION_SECONDS, timeout):
                session[LAST_SEEN] = now
        return self.get_response(request)
