"""Session rules: staff sessions end after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request, and a
session that needs a second factor reaches nothing else until it has given one."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts import two_factor

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


# Reachable before the second factor: the two-factor pages themselves, logging out, static files.
TWO_FACTOR_EXEMPT = ("/accounts/two-factor/", "/accounts/logout/", "/accounts/login/", "/static/", "/health/")


TWO_FACTOR_NEEDED = "Two-factor authentication is required: verify in the dashboard."


class TwoFactorMiddleware:
    """A session that needs two factors reaches nothing but the two-factor pages until verified.

    Pages redirect to the check (or to the set-up when the user has no authenticator yet); the
    API and FHIR answer 403 in JSON. Token requests are not sessions: the token endpoint asks
    for the code itself (``api/views/auth.py``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.user.is_authenticated
            and not request.path.startswith(TWO_FACTOR_EXEMPT)
            and two_factor.session_requires_two_factor(request)
            and not two_factor.session_is_verified(request)
        ):
            if request.path.startswith(("/api/", "/fhir/")):
                return JsonResponse({"detail": TWO_FACTOR_NEEDED}, status=403)
            target = "two_factor_verify" if two_factor.confirmed_authenticator(request.user) else "two_factor_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
