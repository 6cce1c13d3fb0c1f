"""Celery tasks. Each is small and idempotent and calls a ``registry`` service (STYLE.md)."""

from celery import shared_task

from registry.models import Site
from registry.services import recompute_site


@shared_task(name="registry.refresh_schedules")
def refresh_schedules() -> int:
    """Recompute every stored schedule (nightly, and after a site's settings change).

    Writes already recompute in their own transaction; this catches anything written around the
    services (bulk imports, raw SQL) and settings changed outside the admin.
    """
    return sum(recompute_site(site) for site in Site.objects.all())
