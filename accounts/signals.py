"""Revoke a user's API token when their password changes or their account is deactivated; start
each session's rules at log-in (whether it needs a second factor, the idle clock); a change of who
needs a second factor (a site's setting, a role, a user's sites) reaches every session's next request."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from accounts import two_factor
from accounts.middleware import LAST_SEEN
from registry.models import Site, StaffProfile


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
def start_session_rules(sender, request, user, **kwargs):
    """Written with the log-in's own session save, so the pages after it pay no write for them."""
    if request is not None and hasattr(request, "session"):
        two_factor.decide_for_session(request, user)
        request.session[LAST_SEEN] = int(time.time())


@receiver(post_save, sender=Site)
@receiver(post_save, sender=StaffProfile)
@receiver(m2m_changed, sender=StaffProfile.sites.through)
def two_factor_settings_changed(sender, **kwargs):
    two_factor.settings_changed()


@receiver(post_save, sender=get_user_model())
def staff_flag_may_have_changed(sender, update_fields=None, **kwargs):
    if update_fields is None or "is_staff" in update_fields:  # not the last_login write of each log-in
        two_factor.settings_changed()
