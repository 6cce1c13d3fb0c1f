urlpatterns = []

from api.reports import urlpatterns as report_urls  # noqa: E402 - appended: reports (issue 6)

urlpatterns += report_urls
