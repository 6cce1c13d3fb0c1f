"""Cached pages of the busiest lists (the API's patient list and worklist, the dashboard's worklist
sections and filter choices), exact by construction.

A page is stored in the default cache (Redis in production) under a key made of everything its
content depends on, so a hit is always what a fresh computation would return:

- the data version (``registry.selectors.data_version``): the database raises it whenever a site,
  closed day, patient, pump or follow-up is written, by anyone, at commit;
- each site in the user's scope with its "today" and refill lead window (``site_days``): the
  refill status of a row depends on the day at its site, and the scope on the user's sites;
- the UTC date (the worklist's default window starts today, UTC);
- the database (one Redis can serve several: it is the key's prefix), the view and the absolute
  URL (query and host: the page's next/previous links are absolute).

There is no time-based expiry to get wrong: ``TIMEOUT`` only bounds how long an unused page keeps
its memory. Each process also keeps the pages it served last (``_RECENT``, under the same keys),
so a repeated hit costs no cache round trip: a key names its data version, so a kept page is as
exact as the shared one. The dashboard's parts are cached as data or HTML, the API's lists as the JSON they
render to (``cached_json_response``): a client asking for JSON is sent it as stored, and any
other format (the browsable API) renders the same data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from registry.roles import Role, role_of, sites_for
from registry.selectors import SiteDay, data_version, site_days, sites_today
from registry.selectors.memo import ProcessMemo
from registry.selectors.rules import forget_site_rows

TIMEOUT = 600  # seconds an unused page may stay in the cache
# Pages this process served last; the bound keeps a few dashboard pages (about 200 kB each) per process.
_RECENT: ProcessMemo[object] = ProcessMemo(limit=64)


def page_key(request, view: str, *, by_url: bool = True, by_user: bool = False) -> str:
    """The key of ``view``'s page for this request; ``by_url=False``: one entry for every URL of
    the view (what does not depend on the query, such as a filter form's choices); ``by_user``: one
    entry per user as the page's header shows them (name, role, staff)."""
    parts = [view, *_request_parts(request), request.build_absolute_uri() if by_url else ""]
    if by_user:
        user = request.user
        parts += [user.pk, user.get_username(), user.get_full_name(), user.is_staff, role_of(user)]
    return _prefix() + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def request_data_version(request) -> str:
    """The data version, read once per request and before anything the page shows (a page is
    then never older than the version it is stored under)."""
    version = getattr(request, "_data_version", None)
    if version is None:
        # A read's user was read with it, by an API token or from the session (``accounts.user_rows``);
        # a write may have moved it since.
        read = None
        if request.method in ("GET", "HEAD"):
            read = getattr(request.auth, "data_version", None) if hasattr(request, "auth") else None
            read = read or getattr(request.user, "data_version", None)
        version = request._data_version = read or data_version()
    return version


def request_sites_today(request) -> list[SiteDay]:
    """Every site's day, once per request (the page's key and the worklist's page both need it);
    the sites' rows are read once per data version (``sites_today``)."""
    rows = getattr(request, "_sites_today", None)
    if rows is None:
        rows = request._sites_today = sites_today(timezone.now(), version=request_data_version(request))
    return rows


def _request_parts(request) -> tuple:
    """The data version, the user's sites with their days and the UTC date: read once per request
    (a page made of several cached parts reads them once)."""
    parts = getattr(request, "_page_key_parts", None)
    if parts is None:
        version = request_data_version(request)
        site_ids = getattr(request.user, "site_ids", None)  # read with the user (``accounts.user_rows``)
        if role_of(request.user) == Role.ADMINISTRATOR:  # every site: the rows the worklist reads too
            groups = site_days(rows=request_sites_today(request))
        elif site_ids is not None:  # a user with no role has none
            groups = site_days(rows=[day for day in request_sites_today(request) if day.site_id in site_ids])
        else:
            groups = site_days(sites=sites_for(request.user))
        scope = sorted((day.isoformat(), lead, sorted(ids)) for (day, lead), ids in groups.items())
        parts = request._page_key_parts = (version, repr(scope), timezone.now().date().isoformat())
    return parts


def _prefix() -> str:
    """Pages of one database share a prefix: one Redis may serve several (or test workers)."""
    return f"page:{connection.settings_dict['NAME']}:"


def cached_page(request, view: str, compute: Callable[[], object], *, by_url: bool = True):
    """The page's data from the cache, or ``compute()``d and stored there (shared with the next
    hit of this process: read it, never change it)."""
    return _stored(page_key(request, view, by_url=by_url), compute)


def cached_json_response(request, view: str, compute: Callable[[], object]) -> HttpResponseBase:
    """An API list page, stored as the JSON it renders to: a hit is sent as stored, with no
    unpickling and no rendering. A client that asked for another format (the browsable API)
    gets the same data through its renderer."""
    content = _stored(page_key(request, view), lambda: JSONRenderer().render(compute()))
    if type(request.accepted_renderer) is JSONRenderer and "indent" not in request.accepted_media_type:
        return HttpResponse(content, content_type=JSONRenderer.media_type)
    return Response(json.loads(content))


def kept_page(key: str):
    """The page under ``key``, as this process kept it or else from the cache; None if neither has it."""
    value = _RECENT.get(key)
    if value is None:
        value = cache.get(key)
        if value is not None:
            _RECENT.put(key, value)
    return value


def keep_page(key: str, value) -> None:
    cache.set(key, value, TIMEOUT)
    _RECENT.put(key, value)


def _stored(key: str, compute: Callable[[], object]):
    """The value under ``key``: kept, else computed and kept."""
    value = kept_page(key)
    if value is None:
        value = compute()
        keep_page(key, value)
    return value


def forget_pages() -> None:
    """Drop this database's cached pages and this process's pages and site rows (tests, benchmarks); other
    cache keys, other databases' pages and a broker sharing the Redis database are left alone."""
    forget_site_rows()
    _RECENT.clear()
    forget_keys(_prefix() + "*")


def forget_keys(pattern: str) -> None:
    """Delete the cache keys matching ``pattern`` on Redis; an in-process cache is simply cleared."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is None:
        cache.clear()
        return
    redis = client(write=True)
    for key in redis.scan_iter(match=cache.make_key(pattern)):
        redis.delete(key)
