"""Booked refill visits and contact attempts with the family."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from registry.models.patients import Patient
from registry.models.refills import Refill
from registry.models.sites import Site


class RefillAppointment(models.Model):
    """A booked refill visit: when and at which clinic (``registry.services.appointments``).

    A booking is open until the refill is recorded (attended), it is cancelled, or its day passes
    without a refill: then it is a no-show, worked out from the date, never from a sweep having run.
    Moving an open booking keeps its row (the history holds the old time); a no-show that is
    rebooked is closed as "did not attend" and a new row is booked, so no-shows stay countable.
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ATTENDED = "attended", "Refill recorded"
        NO_SHOW = "no_show", "Did not attend"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="refill_appointments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name="clinic")
    starts_at = models.DateTimeField("date and time")
    # The visit's date at its clinic, kept by the service: no-shows and the calendar read it.
    starts_on = models.DateField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    refill = models.ForeignKey(
        Refill, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments", editable=False
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    note = models.CharField(max_length=200, blank=True)
    cancel_reason = models.CharField("reason", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="booked"),
                name="refill_appointment_one_open_per_patient",
                violation_error_message="This patient already has a booked refill visit: move or cancel it instead.",
            ),
        ]
        indexes = [
            # The worklist's no-shows and the clinic's calendar: open bookings by clinic and date.
            models.Index(fields=["site", "starts_on"], condition=Q(status="booked"), name="refill_appt_open_site_idx"),
            models.Index(fields=["patient", "status"], name="refill_appt_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Refill visit {self.starts_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(self.site.zone)


class ContactAttempt(models.Model):
    """A call or message with a patient's family, as the coordinator logged it."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone call"
        SMS = "sms", "Text message"
        EMAIL = "email", "E-mail"
        IN_PERSON = "in_person", "In person"
        LETTER = "letter", "Letter"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached"
        NO_ANSWER = "no_answer", "No answer"
        LEFT_MESSAGE = "left_message", "Left a message"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        BOOKED = "booked", "Visit booked"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    contacted_at = models.DateTimeField("when")
    channel = models.CharField("how", max_length=10, choices=Channel.choices, default=Channel.PHONE)
    contact_with = models.CharField("with whom", max_length=100, blank=True, help_text="e.g. mother, the patient")
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-contacted_at", "-id"]
        indexes = [models.Index(fields=["patient", "-contacted_at"], name="contact_patient_latest_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.contacted_at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"
