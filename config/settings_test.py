"""Test settings: the development settings with a fast password hasher and per-worker cache keys.

Every test makes users; the production hasher's deliberate slowness would dominate the suite's
time. Everything else stays as production and development have it, so tests exercise the real
configuration.
"""

import os

from config.settings_dev import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel test workers (pytest-xdist) each have their own database; their cached pages and
# throttle counters must not meet in a shared Redis either.
for _cache in CACHES.values():  # noqa: F405
    _cache["KEY_PREFIX"] = os.environ.get("PYTEST_XDIST_WORKER", "")
