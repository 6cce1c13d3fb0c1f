"""Records about the data rather than the patients: the data version and program imports."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models.sites import Site


class DataVersion(models.Model):
    """One counter that the database raises whenever what the cached list pages show changes.

    The API's patient list and worklist are cached under this number (``api/caching.py``).
    Triggers of migration 0009 raise it for every statement that writes sites, closed days,
    patients, pumps or follow-ups, whoever writes them (services, admin, sweep, bulk SQL). On
    PostgreSQL the raise happens at commit (a deferred trigger), so a writer holds the row lock only
    while committing and two writers cannot deadlock on it. A missing row (a flushed table)
    restarts at the clock's milliseconds, so a number is never reused.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="data_version_singleton",
                violation_error_message="There is only one data version.",
            )
        ]

    def __str__(self) -> str:
        return f"data version {self.value}"


class ProgramImport(models.Model):
    """One uploaded program spreadsheet, its dry run and its import (``registry.imports``).

    The row is the truth about the job: the Celery task writes its phase and progress here, and the
    dashboard polls it, whichever result backend (if any) Celery has.
    """

    class State(models.TextChoices):
        CHECKING = "checking", "Checking (dry run)"
        CHECKED = "checked", "Checked"
        WRITING = "writing", "Importing"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=200)
    stored_path = models.CharField(max_length=500, editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CHECKING)
    phase = models.CharField(max_length=10, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="program_import_site_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
