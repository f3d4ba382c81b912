"""WSGI entry point (gunicorn config.wsgi). Invalid settings stop the workers at start-up."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from jainam_prop.checks import raise_for_settings  # noqa: E402  (needs the apps loaded)

raise_for_settings()
