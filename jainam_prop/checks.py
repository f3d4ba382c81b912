"""Start-up validation of the project's settings (Django system checks).

config/settings.py parses each environment variable once; a value that does not parse stays its
text. These checks judge every value (type, range, grammar) and name the variable in each
error, so that a typo stops ``manage.py check``, every management command, runserver and the
WSGI/ASGI entry points at start-up, instead of failing requests later. One rule per setting
in ``RULES``; a setting read from the environment without a rule is a test failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "jainam_settings"

Rule = Callable[[Any], str | None]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive_number(value: Any) -> str | None:
    if not _is_number(value):
        return "is not a number"
    return None if value > 0 else "must be greater than 0"


def non_negative_number(value: Any) -> str | None:
    if not _is_number(value):
        return "is not a number"
    return None if value >= 0 else "must be 0 or more"


def fraction(value: Any) -> str | None:
    if not _is_number(value):
        return "is not a number"
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def non_negative_integer(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "is not a whole number"
    return None if value >= 0 else "must be 0 or more"


def positive_integer(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "is not a whole number"
    return None if value > 0 else "must be greater than 0"


def flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "is not a boolean (use 1/0, true/false, on/off)"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else "is not text"


def http_url(value: Any) -> str | None:
    """Empty (not configured: the command that needs it says so) or an http(s) URL."""
    if not isinstance(value, str):
        return "is not text"
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    return None


def log_level(value: Any) -> str | None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    return None if value in levels else f"is not a log level ({', '.join(levels)})"


def rate(value: Any) -> str | None:
    from jainam_prop.services.rate_limit import parse_rate

    try:
        parse_rate(value)
    except ImproperlyConfigured:
        return "is not a rate: use e.g. '10 per second', '100 per minute' or '0' (no limit)"
    return None


def broker_key(value: Any) -> str | None:
    from jainam_prop.models import SymbolToken

    limit = SymbolToken._meta.get_field("broker").max_length
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty broker key"
    return None if limit is None or len(value) <= limit else f"is longer than {limit} characters"


# Setting name -> rule; the environment variable is the setting's name unless ENV_NAMES says.
RULES: dict[str, Rule] = {
    "DEBUG": flag,
    "SESSION_COOKIE_SECURE": flag,
    "CSRF_COOKIE_SECURE": flag,
    "SECURE_SSL_REDIRECT": flag,
    "SECURE_HSTS_SECONDS": non_negative_integer,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": flag,
    "SECURE_HSTS_PRELOAD": flag,
    "DATABASE_CONN_MAX_AGE": non_negative_integer,
    "CACHE_SOCKET_TIMEOUT": positive_number,
    "LOG_LEVEL": log_level,
    "JAINAM_LOG_LEVEL": log_level,
    "JAINAM_BROKER": broker_key,
    "JAINAM_MARKET_URL": http_url,
    "JAINAM_MARKET_API_KEY": text,
    "JAINAM_MARKET_API_SECRET": text,
    "JAINAM_INTERACTIVE_URL": http_url,
    "JAINAM_INTERACTIVE_API_KEY": text,
    "JAINAM_INTERACTIVE_API_SECRET": text,
    "JAINAM_CLIENT_ID": text,
    "JAINAM_ORDER_RATE_LIMIT": rate,
    "JAINAM_LOOKUP_RATE_LIMIT": rate,
    "JAINAM_HTTP_CONNECT_TIMEOUT": positive_number,
    "JAINAM_HTTP_READ_TIMEOUT": positive_number,
    "JAINAM_HTTP_RETRIES": non_negative_integer,
    "JAINAM_HTTP_BACKOFF": non_negative_number,
    "JAINAM_SYNC_MIN_RATIO": fraction,
    "JAINAM_SYNC_MAX_VANISHED_SHARE": fraction,
    "JAINAM_SYNC_VANISHED_ALLOWANCE": non_negative_integer,
    "JAINAM_SYNC_MAX_MALFORMED": non_negative_integer,
    "JAINAM_HEALTH_MAX_SYNC_AGE_HOURS": positive_number,
    "JAINAM_LOOKUP_CHECK_INTERVAL": positive_number,
    "JAINAM_LOOKUP_GENERATION_TTL": positive_number,
    "JAINAM_LOOKUP_ENTRY_TTL": positive_number,
    "JAINAM_LOOKUP_MEMORY_MAX": positive_integer,
    "JAINAM_LOOKUP_CACHE_RETRY": positive_number,
}

ENV_NAMES = {
    "DEBUG": "DJANGO_DEBUG",
    "SESSION_COOKIE_SECURE": "DJANGO_SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE": "DJANGO_CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT": "DJANGO_SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS": "DJANGO_SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD": "DJANGO_SECURE_HSTS_PRELOAD",
}


@checks.register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """One error per setting whose value breaks its rule, naming the environment variable."""
    errors: list[checks.CheckMessage] = []
    for name, rule in RULES.items():
        if not hasattr(settings, name):  # DATABASE_CONN_MAX_AGE on SQLite; a removed setting
            continue
        value = getattr(settings, name)
        problem = rule(value)
        if problem:
            variable = ENV_NAMES.get(name, name)
            errors.append(
                checks.Error(
                    f"{variable}={value!r} {problem}.",
                    hint=f"Fix or unset the environment variable {variable}.",
                    obj=variable,
                    id="jainam_prop.E001",
                )
            )
    return errors


def raise_for_settings() -> None:
    """For entry points that run no checks themselves (config/wsgi.py, config/asgi.py)."""
    errors = check_settings()
    if errors:
        lines = "\n".join(f"{error.msg} {error.hint}" for error in errors)
        raise ImproperlyConfigured(f"Invalid settings:\n{lines}")
