"""What a locked-out client sees (django-axes calls ``lockout_response``)."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

MESSAGE = "Too many failed log-ins for this account or from this address. Try again in {minutes} minutes."


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return MESSAGE.format(minutes=minutes)


def lockout_response(request, original_response=None, credentials=None):
    """429 with the wait in words: JSON for the API, the login page's style elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message()}, status=429)
    return render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
