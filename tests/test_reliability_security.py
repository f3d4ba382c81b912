"""Security: production settings safe by default, ``check --deploy`` clean in production, and
secrets (API keys, XTS key pairs, session tokens) in no log line, error, run record or page.

Settings are read by child processes with a controlled environment (settings are evaluated
once per process). The order path's secrets are covered by tests/test_orders.py and
tests/test_views.py; this module covers the market-data login of the sync (success, session
refused and renewed, wrong secret, broker down), the command's error, the sync history in the
admin and the API key admin pages.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import CommandError, call_command

from jainam_prop.errors import XTSRejected, XTSUnavailable
from jainam_prop.models import SyncRun
from jainam_prop.services.api_keys import create_api_key
from jainam_prop.services.sync import sync_master_contract
from tests.fixtures_orders import BEL_FUT, ORDERS, free_port, order_posts
from xts_testserver import XTSTestServer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# What an operator exports in production (README-ops "Production settings").
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "jainam.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://jainam.example.com",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
}
SETTINGS_DUMP = (
    "import json, django; django.setup()\n"
    "from django.conf import settings as s\n"
    "names = ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',\n"
    "         'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD',\n"
    "         'SECURE_PROXY_SSL_HEADER', 'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS']\n"
    "print(json.dumps({n: getattr(s, n) for n in names}))\n"
)


def child_env(**overrides: str) -> dict[str, str]:
    """A clean environment: no DJANGO_*, DATABASE_URL, REDIS_URL or JAINAM_* of this run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "JAINAM_", "DATABASE_", "REDIS_", "CACHE_"))
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return env


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        env=child_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_of(**overrides: str) -> dict:
    child = run(["-c", SETTINGS_DUMP], **overrides)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


# --- production settings ---------------------------------------------------------------------


def test_missing_secret_key_stops_start_up_with_a_clear_error():
    for env in ({}, {"DJANGO_SECRET_KEY": ""}, {"DJANGO_DEBUG": "0"}, {"DJANGO_DEBUG": "false"}):
        child = run(["manage.py", "check"], **env)
        assert child.returncode != 0, env
        assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in child.stderr
        assert "DJANGO_DEBUG=1 for local development" in child.stderr


def test_debug_runs_without_a_secret_key():
    child = run(["manage.py", "check"], DJANGO_DEBUG="1")
    assert child.returncode == 0, child.stderr


@pytest.mark.parametrize(
    ("value", "debug"),
    [(None, False), ("", False), ("0", False), ("false", False), ("off", False),
     ("1", True), ("true", True), ("on", True)],
)  # fmt: skip
def test_debug_is_off_unless_asked_for(value, debug):
    env = {"DJANGO_SECRET_KEY": "k" * 60}
    if value is not None:
        env["DJANGO_DEBUG"] = value
    assert settings_of(**env)["DEBUG"] is debug


def test_https_settings_are_secure_by_default_outside_debug():
    assert settings_of(DJANGO_SECRET_KEY="k" * 60) == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # Without a proxy header Django cannot tell https from http behind a TLS proxy:
        # redirecting would loop, so the redirect waits for DJANGO_SECURE_PROXY_SSL_HEADER.
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
    }


def test_a_declared_tls_proxy_turns_the_redirect_on():
    values = settings_of(**PRODUCTION_ENV)
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True


def test_debug_relaxes_https_and_env_overrides_each_setting():
    relaxed = settings_of(DJANGO_DEBUG="1")
    assert relaxed["SESSION_COOKIE_SECURE"] is False
    assert relaxed["CSRF_COOKIE_SECURE"] is False
    assert relaxed["SECURE_HSTS_SECONDS"] == 0
    assert relaxed["SECURE_SSL_REDIRECT"] is False
    overridden = settings_of(
        DJANGO_SECRET_KEY="k" * 60,
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
    )
    assert overridden["SECURE_SSL_REDIRECT"] is True
    assert overridden["SESSION_COOKIE_SECURE"] is False
    assert overridden["SECURE_HSTS_SECONDS"] == 3600
    assert overridden["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False


def test_check_deploy_is_clean_in_the_production_configuration():
    child = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "System check identified no issues" in child.stdout


@pytest.mark.parametrize(
    ("drop", "change", "warning"),
    [
        ("DJANGO_SECURE_PROXY_SSL_HEADER", {}, "security.W008"),  # no HTTPS redirect
        ("DJANGO_SECURE_HSTS_PRELOAD", {}, "security.W021"),
        (None, {"DJANGO_SECRET_KEY": "short-key"}, "security.W009"),
        (None, {"DJANGO_DEBUG": "1"}, "security.W018"),
        (None, {"DJANGO_SESSION_COOKIE_SECURE": "0"}, "security.W012"),
    ],
)
def test_check_deploy_names_each_weakened_setting(drop, change, warning):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != drop}
    env.update(change)
    child = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert child.returncode != 0
    assert warning in child.stdout + child.stderr


# --- secrets of the market-data login (sync) -------------------------------------------------


def all_levels(caplog) -> None:
    """Capture DEBUG everywhere. The root level alone is not enough: settings.LOGGING gives the
    ``jainam_prop`` logger its own level (INFO), which filters its children's DEBUG records."""
    caplog.set_level(logging.DEBUG)
    for name in ("jainam_prop", "django", "xts_testserver"):
        caplog.set_level(logging.DEBUG, logger=name)


MARKET_KEY = "market-app-key-" + secrets.token_hex(8)
MARKET_SECRET = "market-secret-" + secrets.token_hex(8)
WRONG_SECRET = "wrong-market-secret-" + secrets.token_hex(8)


@pytest.fixture
def market(settings):
    with XTSTestServer(dataset="samples", market_credentials=(MARKET_KEY, MARKET_SECRET)) as server:
        settings.JAINAM_MARKET_URL = server.market_url
        settings.JAINAM_MARKET_API_KEY = MARKET_KEY
        settings.JAINAM_MARKET_API_SECRET = MARKET_SECRET
        settings.JAINAM_HTTP_RETRIES = 1
        settings.JAINAM_HTTP_BACKOFF = 0.01
        yield server


@pytest.mark.django_db
def test_market_secrets_and_tokens_appear_nowhere(market, settings, caplog, admin_client):
    all_levels(caplog)
    errors: list[str] = []

    sync_master_contract(segments=["NSEFO"])  # login
    market.inject_fault("auth_expired", endpoint="master")  # session refused: log in again
    sync_master_contract(segments=["NSEFO"])
    market.inject_fault("http500", endpoint="login", times=2)  # down: first try and retry
    with pytest.raises(XTSUnavailable) as down:
        sync_master_contract(segments=["NSEFO"])
    errors.append(str(down.value))
    settings.JAINAM_MARKET_API_SECRET = WRONG_SECRET
    with pytest.raises(XTSRejected) as refused:  # HTTP 400 e-user-0005 from the login
        sync_master_contract(segments=["NSEFO"])
    errors.append(str(refused.value))
    with pytest.raises(CommandError) as command:
        call_command("sync_master_contract", "--segments", "NSEFO")
    errors.append(str(command.value))

    logins = [r for r in market.requests_to("/auth/login") if r.method == "POST"]
    assert len(logins) >= 4
    tokens = {r.authorization for r in market.requests_to("/instruments/master")} - {None}
    assert len(tokens) == 3  # a session per sync run, plus the renewed one
    runs = list(SyncRun.objects.values_list("status", "error"))
    assert [status for status, _ in runs].count(SyncRun.Status.FAILED) == 3
    pages = [
        admin_client.get("/admin/jainam_prop/syncrun/"),
        *(admin_client.get(f"/admin/jainam_prop/syncrun/{pk}/change/")
          for pk in SyncRun.objects.values_list("pk", flat=True)),
    ]  # fmt: skip
    assert all(page.status_code == 200 for page in pages)

    text = "\n".join(
        [
            caplog.text,
            *errors,
            *(error for _, error in runs),
            *(page.content.decode() for page in pages),
        ]
    )
    assert "Invalid appKey or secretKey" in text  # the failure itself is reported
    for secret in (MARKET_KEY, MARKET_SECRET, WRONG_SECRET, *tokens):
        assert secret not in text


# --- API keys in the admin -------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_pages_never_show_the_key_or_its_hash(admin_client, caplog):
    all_levels(caplog)
    row, raw = create_api_key(user=User.objects.create_user("desk-trader"), name="desk")
    base = f"/admin/jainam_prop/apikey/{row.pk}"
    pages = [
        admin_client.get("/admin/jainam_prop/apikey/", {"q": "desk"}),
        admin_client.get(f"{base}/change/"),
        admin_client.get(f"{base}/history/"),
        admin_client.get(f"{base}/delete/"),
        admin_client.get(f"/admin/auth/user/{row.user_id}/change/"),
        admin_client.post(
            "/admin/jainam_prop/apikey/",
            {"action": "revoke_selected", "_selected_action": [row.pk]},
            follow=True,
        ),
    ]
    assert [page.status_code for page in pages] == [200] * len(pages)
    assert row.prefix in pages[0].content.decode()
    text = "\n".join(page.content.decode() for page in pages) + caplog.text
    assert "Revoked 1 API key(s)." in text
    assert raw not in text
    assert raw[len(row.prefix) :] not in text
    assert row.key_hash not in text


# --- the server error page -------------------------------------------------------------------


@pytest.mark.django_db
def test_error_pages_show_no_settings_outside_debug(client, settings):
    """DEBUG off: an unknown URL is a plain 404, without the URL map or any setting."""
    settings.JAINAM_INTERACTIVE_API_SECRET = "interactive-secret-" + secrets.token_hex(8)
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    assert settings.DEBUG is False
    response = client.get(f"/no-such-page-{free_port()}")
    assert response.status_code == 404
    page = response.content.decode()
    assert "urlpatterns" not in page
    assert "api/v1" not in page
    assert settings.JAINAM_INTERACTIVE_API_SECRET not in page
    assert settings.SECRET_KEY not in page


# --- secrets of the order path, at DEBUG -----------------------------------------------------


@pytest.mark.django_db
def test_order_path_secrets_appear_in_no_debug_line(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server, caplog
):
    """As tests/test_views.py's secrets test, with DEBUG captured for ``jainam_prop.*`` too
    (its ``caplog.set_level(DEBUG)`` sets the root only, which the INFO level of the
    ``jainam_prop`` logger overrides)."""
    all_levels(caplog)
    settings.JAINAM_ORDER_RATE_LIMIT = "0"
    body = {"apikey": api_key, "strategy": "s", "symbol": BEL_FUT.symbol, "exchange": "NFO",
            "action": "BUY", "quantity": str(BEL_FUT.lot_size), "product": "NRML"}  # fmt: skip

    def place(**fields) -> str:
        data = json.dumps({**body, **fields})
        return client.post("/api/v1/placeorder", data, content_type="application/json")

    answers = [place()]  # login + order
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS)  # re-login
    answers.append(place())
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS)
    answers.append(place())
    xts_orders_server.inject_fault("http500", endpoint=ORDERS)
    answers.append(place())
    wrong_key = api_key[:-1] + ("1" if api_key.endswith("0") else "0")  # always a different key
    answers.append(place(apikey=wrong_key))
    settings.JAINAM_INTERACTIVE_API_SECRET = WRONG_SECRET
    cache.clear()  # forget the shared session: the next order logs in with the wrong secret
    answers.append(place())

    # http500: the order book does not show the order, so its outcome is unknown (504).
    assert [a.status_code for a in answers] == [200, 200, 502, 504, 401, 502]
    tokens = {r.authorization for r in order_posts(xts_orders_server)} - {None}
    assert len(tokens) == 2
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    text = caplog.text + "\n".join(a.content.decode() for a in answers)
    for secret in (api_key, broker_settings.api_key, broker_settings.api_secret, WRONG_SECRET,
                   *tokens):  # fmt: skip
        assert secret not in text
