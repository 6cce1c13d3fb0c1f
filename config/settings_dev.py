"""Development, test and bench settings: production's, plus the demo and synthetic data commands."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "devdata"]  # noqa: F405
