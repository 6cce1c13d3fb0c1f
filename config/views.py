"""Project-level views that belong to no app."""

from django.http import HttpResponse
from django.views.decorators.cache import never_cache


@never_cache
def health(request):
    """Liveness for a load balancer: the process answers, without touching the database or the
    cache (a database outage must not take every web process out of the pool at once). The
    benchmark's load run also serves it as the ceiling: what this server can answer doing no work."""
    return HttpResponse("ok", content_type="text/plain")
