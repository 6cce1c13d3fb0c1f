"""Optimistic concurrency for edits.

The ETag is a hash of the record's JSON representation as the API returns it, so it changes
whenever anything a client can see changes (including the computed schedule). A write that sends
``If-Match`` with a tag that no longer matches is refused with 412; a write without ``If-Match``
is accepted (clients opt in), and ``If-Match: *`` matches any existing record.
"""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder

from api.exceptions import PreconditionFailed


def etag_of(data) -> str:
    payload = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return '"' + hashlib.sha256(payload.encode()).hexdigest()[:32] + '"'


def check_if_match(request, current: str) -> None:
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = [t.strip() for t in header.split(",")]
    # A weak validator (W/"...") compares by its opaque value (RFC 9110 13.1.1 uses strong
    # comparison; we issue only strong tags, so a W/ prefix added by a proxy is tolerated).
    tags = [t[2:] if t.startswith("W/") else t for t in tags]
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed()
