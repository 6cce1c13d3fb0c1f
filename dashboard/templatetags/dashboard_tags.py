from django import template
from django.utils import timezone

from registry.services.reminders.messages import when_text

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, key)


@register.filter
def when_from_today(reminder) -> str:
    """How far the reminder's date is from today at its site ("in 3 days", "today", "8 days ago")."""
    return when_text(reminder, timezone.now())
