"""Settings are validated once, at start-up, by Django system checks (jainam_prop/checks.py):
each bad value is an error naming its environment variable, in ``manage.py check``, in every
management command and in the WSGI/ASGI entry points, never a failure on the first request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks

from jainam_prop import checks
from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from tests.helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent
KEY = {"DJANGO_SECRET_KEY": "settings-checks-" + "k" * 40}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean_env(**KEY, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_errors() -> list[str]:
    return [error.msg for error in run_checks(tags=[checks.TAG])]


def test_the_defaults_pass():
    assert settings_errors() == []


@pytest.mark.parametrize(
    ("name", "value", "variable", "problem"),
    [
        ("JAINAM_ORDER_RATE_LIMIT", "10 per fortnight", "JAINAM_ORDER_RATE_LIMIT", "not a rate"),
        ("JAINAM_ORDER_RATE_LIMIT", "ten per second", "JAINAM_ORDER_RATE_LIMIT", "not a rate"),
        ("JAINAM_HTTP_READ_TIMEOUT", "abc", "JAINAM_HTTP_READ_TIMEOUT", "not a number"),
        ("JAINAM_HTTP_CONNECT_TIMEOUT", 0.0, "JAINAM_HTTP_CONNECT_TIMEOUT", "greater than 0"),
        ("JAINAM_HTTP_RETRIES", "3.5", "JAINAM_HTTP_RETRIES", "not a whole number"),
        ("JAINAM_HTTP_RETRIES", -1, "JAINAM_HTTP_RETRIES", "0 or more"),
        ("JAINAM_HTTP_BACKOFF", -0.5, "JAINAM_HTTP_BACKOFF", "0 or more"),
        ("JAINAM_SYNC_MIN_RATIO", 1.5, "JAINAM_SYNC_MIN_RATIO", "between 0 and 1"),
        ("JAINAM_SYNC_MAX_MALFORMED", "none", "JAINAM_SYNC_MAX_MALFORMED", "not a whole number"),
        ("JAINAM_HEALTH_MAX_SYNC_AGE_HOURS", -2.0, "JAINAM_HEALTH_MAX_SYNC_AGE_HOURS", "than 0"),
        ("JAINAM_LOOKUP_MEMORY_MAX", 0, "JAINAM_LOOKUP_MEMORY_MAX", "greater than 0"),
        ("JAINAM_MARKET_URL", "ftp://xts.example", "JAINAM_MARKET_URL", "http:// or https://"),
        ("JAINAM_INTERACTIVE_URL", "https://", "JAINAM_INTERACTIVE_URL", "with a host"),
        ("JAINAM_BROKER", "", "JAINAM_BROKER", "non-empty broker key"),
        ("JAINAM_BROKER", "b" * 33, "JAINAM_BROKER", "longer than 32"),
        ("CACHE_SOCKET_TIMEOUT", "fast", "CACHE_SOCKET_TIMEOUT", "not a number"),
        ("JAINAM_LOG_LEVEL", "LOUD", "JAINAM_LOG_LEVEL", "not a log level"),
        ("DEBUG", "ture", "DJANGO_DEBUG", "not a boolean"),
        ("SECURE_HSTS_SECONDS", "a year", "DJANGO_SECURE_HSTS_SECONDS", "not a whole number"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_variable(settings, name, value, variable, problem):
    setattr(settings, name, value)

    errors = run_checks(tags=[checks.TAG])

    assert [(e.id, e.obj) for e in errors] == [("jainam_prop.E001", variable)]
    assert errors[0].msg.startswith(f"{variable}={value!r} ")
    assert problem in errors[0].msg
    assert variable in errors[0].hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JAINAM_ORDER_RATE_LIMIT", "100 per minute"),
        ("JAINAM_ORDER_RATE_LIMIT", "10/second"),
        ("JAINAM_ORDER_RATE_LIMIT", "0"),
        ("JAINAM_MARKET_URL", "https://xts.example:3000/apibinarymarketdata"),
        ("JAINAM_MARKET_URL", ""),
        ("JAINAM_HTTP_RETRIES", 0),
        ("JAINAM_SYNC_MIN_RATIO", 0),
        ("JAINAM_SYNC_MIN_RATIO", 1),
        ("SECURE_HSTS_SECONDS", 0),
    ],
)
def test_good_values_pass(settings, name, value):
    setattr(settings, name, value)
    assert settings_errors() == []


def test_every_project_setting_has_a_rule():
    project = {n for n in dir(django_settings) if n.startswith("JAINAM_")}
    assert project - set(checks.RULES) == set(), "give each setting a rule in jainam_prop.checks"


def test_manage_py_check_fails_naming_each_bad_variable():
    child = run(
        ["manage.py", "check"],
        JAINAM_ORDER_RATE_LIMIT="10 per fortnite",
        JAINAM_HTTP_READ_TIMEOUT="sixty",
        DJANGO_SECURE_HSTS_PRELOAD="maybe",
        LOG_LEVEL="chatty",
    )

    assert child.returncode != 0
    for text in (
        "JAINAM_ORDER_RATE_LIMIT='10 per fortnite' is not a rate",
        "JAINAM_HTTP_READ_TIMEOUT='sixty' is not a number",
        "DJANGO_SECURE_HSTS_PRELOAD='maybe' is not a boolean",
        "LOG_LEVEL='CHATTY' is not a log level",
    ):
        assert text in child.stderr
    assert "Traceback" not in child.stderr


def test_a_management_command_stops_before_its_work():
    child = run(["manage.py", "lookup_token", "NIFTY", "NSE_INDEX"], JAINAM_HTTP_RETRIES="three")

    assert child.returncode != 0
    assert "JAINAM_HTTP_RETRIES='three' is not a whole number" in child.stderr


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_the_server_entry_points_refuse_to_start(module):
    child = run(["-c", f"import {module}"], JAINAM_ORDER_RATE_LIMIT="10 per fortnite")

    assert child.returncode != 0
    assert "ImproperlyConfigured: Invalid settings" in child.stderr
    assert "JAINAM_ORDER_RATE_LIMIT='10 per fortnite' is not a rate" in child.stderr


def test_the_server_entry_points_start_with_the_defaults():
    child = run(["-c", "import config.wsgi, config.asgi"])
    assert child.returncode == 0, child.stderr


def test_the_broker_key_has_one_source():
    assert DEFAULT_BROKER == django_settings.JAINAM_BROKER
    assert SymbolToken._meta.get_field("broker").default == django_settings.JAINAM_BROKER


@pytest.mark.parametrize(
    ("method", "raw", "default", "value"),
    [
        ("float", "2.5", 1.0, 2.5),
        ("float", "abc", 1.0, "abc"),
        ("int", "7", 1, 7),
        ("int", "3.5", 1, "3.5"),
        ("bool", "on", False, True),
        ("bool", "OFF", True, False),
        ("bool", "ture", False, "ture"),
        ("str", None, None, None),
        ("float", None, None, None),
        ("int", None, 4, 4),
    ],
)
def test_settings_keep_unparseable_text_for_the_checks(monkeypatch, method, raw, default, value):
    from config.settings import _Env

    if raw is None:
        monkeypatch.delenv("JAINAM_TEST_VALUE", raising=False)
    else:
        monkeypatch.setenv("JAINAM_TEST_VALUE", raw)

    assert getattr(_Env(), method)("JAINAM_TEST_VALUE", default=default) == value
