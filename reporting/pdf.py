"""HTML to PDF with WeasyPrint, reading nothing but the app's own static files from disk.

The report's HTML names its stylesheet under ``STATIC_URL``; the fetcher reads that file through
Django's static finders and refuses every other URL, so drawing a PDF never goes to the network.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

# Relative URLs in the report resolve against this address, which never resolves (RFC 2606 .invalid).
BASE_URL = "https://report.invalid/"


class StaticFilesOnly(URLFetcher):
    """Serves ``BASE_URL`` + ``STATIC_URL`` paths from the static files on disk; refuses anything else."""

    def fetch(self, url, headers=None):
        prefix = BASE_URL + settings.STATIC_URL.lstrip("/")
        name = unquote(urlsplit(url).path).removeprefix("/" + settings.STATIC_URL.strip("/") + "/")
        path = finders.find(name) if url.startswith(prefix) and ".." not in name else None
        if not path:
            raise ValueError(f"the report may only use the app's static files, not {url}")
        with open(path, "rb") as file:
            body = file.read()
        return URLFetcherResponse(url, body, {"Content-Type": mimetypes.guess_type(path)[0] or "text/plain"})


def render(html: str) -> bytes:
    """``html`` as PDF bytes; a missing or refused resource stops the rendering rather than drop a style."""
    try:
        return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesOnly(fail_on_errors=True)).write_pdf()
    except FatalURLFetchingError as error:  # a BaseException: turned into an error Django reports
        raise RuntimeError(str(error)) from error
