"""A bulk export (FHIR Bulk Data Access): who asked, for what, how far it got and its files."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class BulkExport(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired (files deleted)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request_url = models.CharField(max_length=2000)
    # Where the request came from: the access log names it for every exported patient.
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The sites whose patients are exported, fixed at kick-off; null: every site (administrators).
    site_ids = models.JSONField(null=True, blank=True)
    resource_types = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    progress = models.CharField(max_length=200, blank=True)
    # [{"type": "Patient", "file": "Patient.ndjson", "count": 12}, ...] once completed.
    output = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            # The periodic clean-up finds finished exports past their expiry.
            models.Index(
                fields=["expires_at"],
                name="bulk_export_expiry_idx",
                condition=Q(status__in=["completed", "failed", "cancelled"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Bulk export {self.id} ({self.status})"
