"""Plain helpers shared by test modules: free loopback ports, Redis cache settings, the
environment of child processes (syncs, lookup loops, gunicorn) and OpenAlgo order bodies.

One module so that each helper exists once; fixtures stay in the ``fixtures_*`` modules.
Nothing here starts a server or touches the database by itself.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from django.db import connection

ROOT_SETTINGS = "config.settings"


def free_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_cache_settings(url: str, *, key_prefix: str = "lookups") -> dict[str, Any]:
    """CACHES as config/settings.py builds them for REDIS_URL, pointed at ``url``."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": key_prefix,
            "TIMEOUT": None,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        }
    }


def child_database_url() -> str:
    """DATABASE_URL of the test database, for child processes (lookup loops, syncs, gunicorn)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{db['HOST']}{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """This run's environment for a child process, on the test database, unbuffered."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": ROOT_SETTINGS,
        "DATABASE_URL": child_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DJANGO_SECRET_KEY", "insecure-test-only-key")
    env.pop("DJANGO_DEBUG", None)
    env.update(extra)
    return env


def order_body(
    *,
    apikey: str,
    symbol: str,
    exchange: str,
    quantity: int | str,
    action: str = "BUY",
    product: str = "MIS",
    pricetype: str = "MARKET",
    strategy: str = "test",
    **extra: Any,
) -> dict[str, Any]:
    """An OpenAlgo ``/api/v1/placeorder`` body (quantity as text, as OpenAlgo clients send)."""
    return {
        "apikey": apikey,
        "strategy": strategy,
        "symbol": symbol,
        "exchange": exchange,
        "action": action,
        "quantity": str(quantity),
        "pricetype": pricetype,
        "product": product,
        **extra,
    }


def clean_env(**overrides: str) -> dict[str, str]:
    """This run's environment without any project variable (DJANGO_*, JAINAM_*, DATABASE_*,
    REDIS_*, CACHE_*, LOG_LEVEL), for a child process that must see only the defaults."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "JAINAM_", "DATABASE_", "REDIS_", "CACHE_", "LOG_"))
    }
    env["DJANGO_SETTINGS_MODULE"] = ROOT_SETTINGS
    env.update(overrides)
    return env
