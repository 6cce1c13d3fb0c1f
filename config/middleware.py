"""Request and response guards that hold for every page and endpoint."""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control

NUL_MESSAGE = "The address contains a NUL character, which no value here may hold."


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
            return self.refusal(request.path)
        return self.get_response(request)

    @staticmethod
    def refusal(path: str):
        """400 in the answering interface's own format (the API's JSON, FHIR's OperationOutcome)."""
        if path.startswith("/api/"):
            return JsonResponse({"detail": NUL_MESSAGE}, status=400)
        if path.startswith("/fhir/"):
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": NUL_MESSAGE}],
            }
            return JsonResponse(outcome, status=400, content_type="application/fhir+json")
        return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")


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
