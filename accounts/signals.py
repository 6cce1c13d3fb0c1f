"""Revoke a user's API token when their password changes or their account is deactivated; decide
at log-in whether the session needs a second factor."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from accounts import two_factor


@receiver(pre_save, sender=get_user_model())
def revoke_token_on_password_change_or_deactivation(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. the last_login update of every log-in
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password or (before["is_active"] and not instance.is_active):
        Token.objects.filter(user_id=instance.pk).delete()


@receiver(user_logged_in)
def decide_two_factor(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[two_factor.REQUIRED_KEY] = two_factor.two_factor_required(user)
