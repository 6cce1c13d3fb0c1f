"""Notification channels: small classes behind one ``send(message)`` interface.

Staff and family e-mail go through Django's mail framework (SMTP in production, configured by
``EMAIL_URL``); SMS goes through the class named by ``SMS_BACKEND`` (a console backend until a
provider is chosen). The in-app inbox needs no channel: its Reminder rows are the delivery.
"""

from __future__ import annotations

import logging
import smtplib
import sys
from typing import Protocol

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage
from django.utils.module_loading import import_string

from registry.models import Reminder
from registry.services.reminders import Message

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """A failure that retrying cannot fix (e.g. the mail server rejected the address)."""


class Channel(Protocol):
    def send(self, message: Message) -> None: ...


class EmailChannel:
    """Staff and family e-mail. One SMTP transaction per message; raises on any failure."""

    def send(self, message: Message) -> None:
        email = EmailMessage(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.recipient])
        try:
            email.send(fail_silently=False)
        except BadHeaderError as exc:  # a line break in a header: no retry can build this message
            raise PermanentFailure(f"the message could not be built: {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
            raise
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise


class ConsoleSMSBackend:
    """Writes the SMS to standard output (development, and until an SMS provider is chosen)."""

    def send(self, message: Message) -> None:
        sys.stdout.write(f"SMS to {message.recipient}: {message.body}\n")
        sys.stdout.flush()


def channel_for(name: str) -> Channel:
    if name in (Reminder.Channel.EMAIL, Reminder.Channel.FAMILY_EMAIL):
        return EmailChannel()
    if name == Reminder.Channel.FAMILY_SMS:
        return import_string(settings.SMS_BACKEND)()
    raise ValueError(f"no delivery channel for {name!r}")
