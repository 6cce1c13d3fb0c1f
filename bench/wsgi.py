"""``config.wsgi``'s application, served with ``bench/urls.py`` (the app's URLs and the load run's
reference page) as its URL configuration; everything else as in production."""

import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)
settings.ROOT_URLCONF = "bench.urls"
application = get_wsgi_application()
