"""The app's URLs with the load run's reference page: a page that does no work but sends a body
of a given size, so each target's load figure can be read beside what this server can send."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache

from config.urls import urlpatterns as app_urlpatterns


@never_cache
def bytes_page(request, size: int):
    return HttpResponse(b"x" * min(size, 4 * 1024 * 1024), content_type="text/plain")


urlpatterns = [path("bench/bytes/<int:size>/", bytes_page), *app_urlpatterns]
