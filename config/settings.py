"""Settings for jainam-prop, read from the environment (12-factor).

Every variable has a safe local default so that a fresh clone runs on SQLite and Django's
in-process cache with no credentials. See the configuration table in README.md.

Values are parsed here once, with ``env``; one that does not parse stays the text it was, and
the system checks of ``jainam_prop/checks.py`` (``manage.py check``, every management command,
runserver, and config/wsgi.py + asgi.py for gunicorn) stop start-up with an error naming the
variable. A new setting: read it with ``env.*`` below and give it a rule in
``jainam_prop.checks.RULES``.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class _Env(environ.Env):
    """django-environ, except that a value that does not parse (``JAINAM_HTTP_RETRIES=three``,
    ``DJANGO_DEBUG=ture``) is returned as its text instead of raising or becoming False."""

    WORDS = {*environ.Env.BOOLEAN_TRUE_STRINGS, "false", "off", "no", "n", "0", ""}

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, **kwargs: Any
    ) -> Any:
        try:
            return super().get_value(var, cast=cast, default=default, **kwargs)
        except ValueError:
            return self.ENVIRON[f"{self.prefix}{var}"]

    def bool(self, var: str, default: Any = environ.Env.NOTSET) -> Any:
        raw = self.ENVIRON.get(f"{self.prefix}{var}")
        if raw is not None and raw.strip().lower() not in self.WORDS:
            return raw
        return super().bool(var, default=default)


env = _Env()

# --- Core ------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG is not True:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string in production, "
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS (see README "Production settings") ------------------------------------------------
# Secure by default outside DEBUG: cookies only over HTTPS, HSTS for a year. Django's test
# client and runserver (DJANGO_DEBUG=1) keep working over plain http.
# Behind a TLS-terminating proxy (nginx, a load balancer), name the header it sets, e.g.
# DJANGO_SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (the proxy must overwrite it), so that
# Django knows which requests came over HTTPS. Only then does the HTTPS redirect default on:
# without that header every request looks like http behind the proxy and would loop.
_proxy_ssl_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env.bool(
    "DJANGO_SECURE_SSL_REDIRECT", default=bool(_proxy_ssl_header) and not DEBUG
)
# Monitoring probes call /healthz over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
# Preloading is a commitment to browser vendors' lists: the operator opts in.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "jainam_prop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
# Default: an SQLite file in the project root. PostgreSQL: postgres://postgres@127.0.0.1:5432/test
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets lookups read while a sync writes; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue instead of failing half-way with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
            ),
        }
    )
    # Tests use a file (not :memory:) so that subprocesses started by tests see the same data;
    # one per checkout, so that two checkouts' test runs never share it.
    _checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]
    _db.setdefault("TEST", {})["NAME"] = env.str(
        "DJANGO_TEST_SQLITE_PATH",
        default=str(Path(tempfile.gettempdir()) / f"jainam-prop-test-{_checkout}.sqlite3"),
    )
else:
    DATABASE_CONN_MAX_AGE = env.int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
    _db["CONN_HEALTH_CHECKS"] = True

# --- Cache -----------------------------------------------------------------------------------
# REDIS_URL set: django-redis with short socket timeouts (lookups fall back to the database when
# Redis is slow or down). Unset: Django's in-process cache.
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.25)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="jainam"),
            "TIMEOUT": None,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": CACHE_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": CACHE_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "jainam-prop",
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="jainam"),
            "TIMEOUT": None,
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

# --- Broker (Jainam XTS) ---------------------------------------------------------------------
# Roots are configuration: Jainam serves market data under /apibinarymarketdata, other XTS
# brokers under /apimarketdata. Missing values are reported by the command that needs them.
# JAINAM_BROKER: the broker key of the stored rows, the one source of truth (models, services
# and faces read it; not an environment variable: changing it would orphan stored rows).
JAINAM_BROKER = "jainam_prop"
JAINAM_MARKET_URL = env.str("JAINAM_MARKET_URL", default="")
JAINAM_MARKET_API_KEY = env.str("JAINAM_MARKET_API_KEY", default="")
JAINAM_MARKET_API_SECRET = env.str("JAINAM_MARKET_API_SECRET", default="")
JAINAM_INTERACTIVE_URL = env.str("JAINAM_INTERACTIVE_URL", default="")
JAINAM_INTERACTIVE_API_KEY = env.str("JAINAM_INTERACTIVE_API_KEY", default="")
JAINAM_INTERACTIVE_API_SECRET = env.str("JAINAM_INTERACTIVE_API_SECRET", default="")
JAINAM_CLIENT_ID = env.str("JAINAM_CLIENT_ID", default="")
# Orders per API key, OpenAlgo notation ("10 per second", "100 per minute"; 0 = no limit).
# Over it: HTTP 429 with Retry-After, nothing sent to the broker.
JAINAM_ORDER_RATE_LIMIT = env.str("JAINAM_ORDER_RATE_LIMIT", default="10 per second")
# HTTP to XTS: (connect, read) timeouts in seconds and bounded retries with backoff.
JAINAM_HTTP_CONNECT_TIMEOUT = env.float("JAINAM_HTTP_CONNECT_TIMEOUT", default=5.0)
JAINAM_HTTP_READ_TIMEOUT = env.float("JAINAM_HTTP_READ_TIMEOUT", default=60.0)
JAINAM_HTTP_RETRIES = env.int("JAINAM_HTTP_RETRIES", default=3)
JAINAM_HTTP_BACKOFF = env.float("JAINAM_HTTP_BACKOFF", default=0.5)
# Sync safety: refuse a master that would shrink the stored instruments below this fraction.
JAINAM_SYNC_MIN_RATIO = env.float("JAINAM_SYNC_MIN_RATIO", default=0.5)
# Sync safety: refuse a master in which more than this share of an exchange's live instruments
# (and more than the allowance) vanish; expired contracts may vanish (docs/sync.md).
JAINAM_SYNC_MAX_VANISHED_SHARE = env.float("JAINAM_SYNC_MAX_VANISHED_SHARE", default=0.02)
JAINAM_SYNC_VANISHED_ALLOWANCE = env.int("JAINAM_SYNC_VANISHED_ALLOWANCE", default=10)
# Malformed lines tolerated in a master before the sync is failed as a corrupt download.
JAINAM_SYNC_MAX_MALFORMED = env.int("JAINAM_SYNC_MAX_MALFORMED", default=0)
# /healthz answers 503 when the last successful sync is older than this (a daily sync + slack).
JAINAM_HEALTH_MAX_SYNC_AGE_HOURS = env.float("JAINAM_HEALTH_MAX_SYNC_AGE_HOURS", default=26.0)

# Lookups (jainam_prop.services.lookups). A process re-checks the instruments' generation every
# CHECK_INTERVAL seconds and the shared generation key lives GENERATION_TTL seconds: together
# they bound staleness after a sync (1 s with the defaults).
JAINAM_LOOKUP_CHECK_INTERVAL = env.float("JAINAM_LOOKUP_CHECK_INTERVAL", default=0.5)
JAINAM_LOOKUP_GENERATION_TTL = env.float("JAINAM_LOOKUP_GENERATION_TTL", default=0.5)
JAINAM_LOOKUP_ENTRY_TTL = env.float("JAINAM_LOOKUP_ENTRY_TTL", default=86_400)
JAINAM_LOOKUP_MEMORY_MAX = env.int("JAINAM_LOOKUP_MEMORY_MAX", default=200_000)
JAINAM_LOOKUP_CACHE_RETRY = env.float("JAINAM_LOOKUP_CACHE_RETRY", default=5.0)
# API budget of lookup calls (symbol, search, expiry, instruments) per API key, apart from the
# order budget above (JAINAM_ORDER_RATE_LIMIT); same notation, 0 = no limit. Over it: HTTP 429
# with Retry-After.
JAINAM_LOOKUP_RATE_LIMIT = env.str("JAINAM_LOOKUP_RATE_LIMIT", default="50 per second")

# --- Auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING").upper()
JAINAM_LOG_LEVEL = env.str("JAINAM_LOG_LEVEL", default="INFO").upper()
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# An unknown level would crash logging's set-up before the checks could name it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL if LOG_LEVEL in _LEVELS else "WARNING"},
    "loggers": {
        "jainam_prop": {
            "level": JAINAM_LOG_LEVEL if JAINAM_LOG_LEVEL in _LEVELS else "INFO",
            "propagate": True,
        },
    },
}
