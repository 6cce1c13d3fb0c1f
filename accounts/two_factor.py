"""Two-factor authentication (django-otp): a TOTP authenticator app plus one-time recovery codes.

Required for administrators and for anyone who can open the admin site (staff), and for the staff
of a site whose setting asks for it (``Site.require_two_factor``); optional for everyone else.
Whether a session needs it is decided at log-in (``user_logged_in``) and kept in the session with
the version of the settings it was decided on; a change of a site's setting, a role or a user's
sites makes a new version (in the cache), and each session decides again at its next request.
Pages pay one cache read for it; a verified session carries django-otp's device key.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.roles import Role, role_of

REQUIRED_KEY = "two_factor_required"
VERSION_KEY = "two_factor_settings_version"
SETTINGS_VERSION_KEY = "two-factor-settings-version"
RECOVERY_CODE_COUNT = 10


def two_factor_required(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or role_of(user) == Role.ADMINISTRATOR:
        return True
    profile = getattr(user, "staff", None)
    return profile is not None and profile.sites.filter(require_two_factor=True).exists()


def settings_version() -> str:
    """The current version of the settings that decide who needs two factors (one cache read)."""
    version = cache.get(SETTINGS_VERSION_KEY)
    if version is None:  # first use, or the cache lost it: every session decides again
        cache.add(SETTINGS_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(SETTINGS_VERSION_KEY)
    return version


def settings_changed() -> None:
    cache.set(SETTINGS_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def decide_for_session(request, user) -> bool:
    request.session[REQUIRED_KEY] = two_factor_required(user)
    request.session[VERSION_KEY] = settings_version()
    return request.session[REQUIRED_KEY]


def session_requires_two_factor(request) -> bool:
    """Whether this session must be verified (decided again when the settings changed)."""
    if REQUIRED_KEY not in request.session or request.session.get(VERSION_KEY) != settings_version():
        return decide_for_session(request, request.user)
    return request.session[REQUIRED_KEY]


def session_is_verified(request) -> bool:
    return bool(request.session.get(DEVICE_ID_SESSION_KEY))


def mark_verified(request, device) -> None:
    """The session passed its second factor (a new session key, as at any change of privilege)."""
    request.session.cycle_key()
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id


def confirmed_authenticator(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_authenticator(user) -> TOTPDevice:
    """The authenticator being set up (unconfirmed until its first code is given)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def verify_code(user, code: str):
    """The device that accepts ``code`` (the app's 6 digits, or an unused recovery code), or None.

    Each device throttles its own failures (django-otp), and a recovery code is used up.
    """
    code = "".join(code.split())
    if not code:
        return None
    with transaction.atomic():
        for model in (TOTPDevice, StaticDevice):
            for device in model.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device
    return None


@transaction.atomic
def confirm_authenticator(user, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm ``device`` with its first code; returns fresh recovery codes (or None: wrong code).

    Any earlier authenticator and recovery codes of the user are replaced.
    """
    if not device.verify_token("".join(code.split())):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_recovery_codes(user)


def new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
    return codes
