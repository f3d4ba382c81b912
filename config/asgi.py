"""ASGI entry point. Invalid settings stop the server at start-up."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

from jainam_prop.checks import raise_for_settings  # noqa: E402  (needs the apps loaded)

raise_for_settings()
