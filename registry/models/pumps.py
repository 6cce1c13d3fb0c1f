"""Pumps: one active per patient; a replacement points to the pump it replaces."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from registry.models.fields import fact_key
from registry.models.patients import Patient
from registry.models.sites import Site
from registry.models.validators import POSITIVE

# The device's details: recorded at implant, copied to a replacement where left out.
PUMP_DETAIL_FIELDS = (
    "manufacturer",
    "model",
    "serial_number",
    "reservoir_volume_ml",
    "alarm_volume_ml",
    "catheter_tip_level",
    "catheter_notes",
    "eri_date",
)


class Pump(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pumps")
    implant_date = models.DateField()
    manufacturer = models.CharField(max_length=100, default="Medtronic")
    model = models.CharField(max_length=100, default="SynchroMed II 8637")
    serial_number = models.CharField(max_length=60, blank=True)
    reservoir_volume_ml = models.DecimalField(max_digits=5, decimal_places=2, validators=POSITIVE)
    alarm_volume_ml = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("2.00"), validators=POSITIVE)
    catheter_tip_level = models.CharField(max_length=20, blank=True, help_text="e.g. T10")
    catheter_notes = models.TextField(blank=True, help_text="Catheter details and revisions.")
    eri_date = models.DateField(
        "ERI / expected battery end date", null=True, blank=True, help_text="As documented by the manufacturer."
    )
    explant_date = models.DateField(null=True, blank=True)
    explant_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    history = HistoricalRecords()

    class Meta:
        ordering = ["implant_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reservoir_volume_ml__gt=0),
                name="pump_reservoir_positive",
                violation_error_message="The reservoir volume must be more than 0 mL.",
            ),
            models.CheckConstraint(
                condition=Q(alarm_volume_ml__gt=0),
                name="pump_alarm_volume_positive",
                violation_error_message="The low-reservoir alarm volume must be more than 0 mL.",
            ),
            models.CheckConstraint(
                condition=Q(alarm_volume_ml__lt=F("reservoir_volume_ml")),
                name="pump_alarm_below_reservoir",
                violation_error_message="The low-reservoir alarm volume must be less than the reservoir volume.",
            ),
            models.CheckConstraint(
                condition=Q(explant_date__isnull=True) | Q(explant_date__gte=F("implant_date")),
                name="pump_explant_after_implant",
                violation_error_message="The explant date cannot be before the implant date.",
            ),
            models.CheckConstraint(
                condition=Q(eri_date__isnull=True) | Q(eri_date__gt=F("implant_date")),
                name="pump_eri_after_implant",
                violation_error_message="The battery ERI date must be after the implant date.",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(explant_date__isnull=True),
                name="pump_one_active_per_patient",
                violation_error_message="This patient already has an active pump: record a replacement or an explant.",
            ),
            models.UniqueConstraint(
                fields=["manufacturer", "serial_number"],
                condition=~Q(serial_number=""),
                name="pump_serial_unique_per_manufacturer",
                violation_error_message="A pump with this manufacturer and serial number is already registered.",
            ),
        ]
        # The report's implants and explants in a period, counted from the index alone (PostgreSQL).
        indexes = [
            models.Index(fields=["implant_date"], include=["replaces", "patient"], name="pump_implant_cover_idx"),
            models.Index(fields=["explant_date"], include=["patient"], name="pump_explant_cover_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model} {self.serial_number or ''} ({self.implant_date})".replace("  ", " ")

    @property
    def is_active(self) -> bool:
        return self.explant_date is None

    def clean(self) -> None:
        errors = {}
        if self.reservoir_volume_ml is not None and self.alarm_volume_ml is not None:
            if self.alarm_volume_ml >= self.reservoir_volume_ml:
                errors["alarm_volume_ml"] = "The alarm volume must be below the reservoir volume."
        if self.implant_date and self.explant_date and self.explant_date < self.implant_date:
            errors["explant_date"] = "The explant date cannot be before the implant date."
        if self.implant_date and self.eri_date and self.eri_date <= self.implant_date:
            errors["eri_date"] = "The ERI date must be after the implant date."
        if errors:
            raise ValidationError(errors)


class PumpSpan(models.Model):
    """Days a patient had a pump in place at one site: ``[started_on, ended_on)``, one per pump and
    stay that overlap (from the implant or the move in, to the explant, the patient's death or the
    move out; ``ended_on`` empty while none has happened). Kept by database triggers on the pumps,
    the stays and the deaths in the statements that write them (migration 0031,
    ``registry/migrations/_report_facts.py``), so the report sums pump-days without joining them."""

    patient = fact_key(Patient)
    site = fact_key(Site)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        # The triggers replace one patient's spans at a time.
        indexes = [models.Index(fields=["patient"], name="pump_span_patient_idx")]

    def __str__(self) -> str:
        return f"patient {self.patient_id} at site {self.site_id} from {self.started_on} to {self.ended_on or 'now'}"
