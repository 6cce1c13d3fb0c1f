"""The access log: who viewed which patient, when, from where and through what (page, API, FHIR, a file).

Append-only: a row is never changed (the model refuses, and a database trigger refuses an UPDATE
from anywhere), and rows go only when older than ``ACCESS_LOG_RETENTION_DAYS`` (``purge``).
The user and patient are kept by id and name as they were, without foreign-key constraints, so
the log outlives the accounts and records it names.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """An access-log row was to be changed or deleted."""


class PatientAccessQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The access log is append-only: its rows are never changed.")

    def delete(self):
        raise AppendOnlyError("The access log is append-only: rows go only by the retention purge.")

    def purge(self, *, now: dt.datetime | None = None) -> int:
        """Delete the rows older than the retention setting; returns how many went."""
        cutoff = (now or timezone.now()) - dt.timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)
        return models.QuerySet.delete(self.model.objects.filter(at__lt=cutoff))[0]


class PatientAccess(models.Model):
    class Channel(models.TextChoices):
        PAGE = "page", "Dashboard page"
        API = "api", "API detail"
        FHIR = "fhir", "FHIR read"
        EXPORT = "export", "Export"
        CALENDAR = "calendar", "Calendar feed"
        PRINT = "print", "Printed worklist"
        RESEARCH = "research", "Research export"

    at = models.DateTimeField(default=timezone.now, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    username = models.CharField(max_length=150, help_text="The user's name when they viewed the record.")
    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.DO_NOTHING, db_constraint=False, related_name="accesses"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    path = models.CharField(max_length=500)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = PatientAccessQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "patient access"
        verbose_name_plural = "access log"
        indexes = [
            models.Index(fields=["patient", "-at"], name="access_patient_idx"),
            models.Index(fields=["user", "-at"], name="access_user_idx"),
            models.Index(fields=["at"], name="access_at_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.at:%Y-%m-%d %H:%M}"
        return f"{self.username} viewed patient {self.patient_id} ({self.get_channel_display()}) at {when}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("The access log is append-only: its rows are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The access log is append-only: rows go only by the retention purge.")
