"""Request and response guards that hold for every page and endpoint."""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.utils.cache import patch_cache_control


class RejectNulCharactersMiddleware:
    """A NUL character in the URL or query string is refused with 400.

    No field of the registry may hold one (PostgreSQL refuses it in text), and admin list filters
    and search boxes pass query values to the database before any form could refuse them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = (text for key, values in request.GET.lists() for text in (key, *values))
        if "\x00" in request.path or any("\x00" in text for text in query):
            return HttpResponseBadRequest("The address contains a NUL character, which no value here may hold.")
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing the application answers may be kept by a browser or a shared cache.

    Pages, API and FHIR responses carry patient data; static files (served by whitenoise before
    this) stay cacheable. API clients still revalidate with ETags.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
