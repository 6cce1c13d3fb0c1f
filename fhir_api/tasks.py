"""Celery tasks of the FHIR bulk export (found by the tasks app's autodiscovery)."""

from celery import shared_task
from django.conf import settings

from fhir_api import export


@shared_task(name="fhir.bulk_export", acks_late=True, reject_on_worker_lost=True)
def bulk_export(export_id: str) -> str:
    return export.run(export_id)


@shared_task(name="fhir.expire_exports")
def expire_exports() -> int:
    """Periodic (beat, hourly by default): delete export files past their retention."""
    return export.expire()


def enqueue_export(export_id) -> None:
    bulk_export.apply_async(args=(str(export_id),), queue=settings.FHIR_EXPORT_QUEUE)
