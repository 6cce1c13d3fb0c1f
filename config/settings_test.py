"""Test settings: the development settings with a fast password hasher.

Every test makes users; the production hasher's deliberate slowness would dominate the suite's
time. Everything else stays as production and development have it, so tests exercise the real
configuration.
"""

from config.settings_dev import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
