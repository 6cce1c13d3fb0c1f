from django.apps import AppConfig


class DevdataConfig(AppConfig):
    """Demo and synthetic data: installed by the development, test and bench settings, never in production."""

    name = "devdata"
    verbose_name = "Demo and synthetic data"
