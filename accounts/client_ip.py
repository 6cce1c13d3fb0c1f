"""The client's address, as far as this deployment can trust it (``NUM_PROXIES``)."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    """The socket's address, or the one the outermost of ``NUM_PROXIES`` trusted proxies saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so only the
    last ``NUM_PROXIES`` entries were written by our proxies; anything to their left is what the
    client sent and is ignored. The same rule as DRF's throttles (``REST_FRAMEWORK["NUM_PROXIES"]``).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]
