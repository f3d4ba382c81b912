"""``GET /healthz`` and ``services.health.check_health``: database, cache, age of the last sync.

Real failures only: the sync runs against the XTS test server, a dead cache is a closed port
or a private redis-server that the test kills, a dead database is a child process whose
DATABASE_URL points nowhere.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from jainam_prop.errors import XTSRejected
from jainam_prop.models import SyncRun
from jainam_prop.services.health import check_health
from jainam_prop.services.sync import sync_master_contract
from tests.fixtures_lookups import redis_cache_settings
from tests.fixtures_orders import free_port

pytestmark = pytest.mark.django_db

HEALTHZ = "/healthz"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def synced(xts_server, settings) -> SyncRun:
    """One real successful sync (NSEFO) from the XTS test server."""
    settings.JAINAM_MARKET_URL = xts_server.market_url
    report = sync_master_contract(segments=["NSEFO"])
    assert report.run_id is not None  # a run that started has its record
    return SyncRun.objects.get(pk=report.run_id)


def dead_redis_settings() -> dict:
    return redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0")


# --- healthy ---------------------------------------------------------------------------------


def test_healthy_after_a_sync(client, synced, django_assert_num_queries):
    with django_assert_num_queries(1):  # the latest successful run; it also proves the database
        response = client.get(HEALTHZ)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "sync": "ok", "cache": "ok"}
    assert body["reasons"] == []
    assert body["last_sync_at"] == synced.finished_at.isoformat()
    assert 0 <= body["sync_age_hours"] < 1
    assert body["max_sync_age_hours"] == 26.0


def test_needs_no_authentication_and_is_never_cached(client, synced):
    response = client.get(HEALTHZ + "/")  # trailing slash accepted, no session, no key
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert client.head(HEALTHZ).status_code == 200
    assert client.post(HEALTHZ).status_code == 405


# --- the sync --------------------------------------------------------------------------------


def test_no_sync_yet_is_503_with_the_reason(client):
    response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"] == {"database": "ok", "sync": "never", "cache": "ok"}
    assert body["last_sync_at"] is None
    [reason] = body["reasons"]
    assert "no successful master sync yet" in reason
    assert "sync_master_contract" in reason


def test_sync_age_limit_defaults_to_26_hours(synced):
    finished = synced.finished_at
    assert check_health(now=finished + timedelta(hours=25, minutes=59)).ok
    late = check_health(now=finished + timedelta(hours=26, minutes=1))
    assert not late.ok
    assert late.checks["sync"] == "too old"
    [reason] = late.reasons
    assert "26.0 h ago" in reason
    assert "JAINAM_HEALTH_MAX_SYNC_AGE_HOURS=26" in reason


def test_too_old_sync_is_503_over_http(client, synced):
    SyncRun.objects.filter(pk=synced.pk).update(
        started_at=synced.started_at - timedelta(days=3),
        finished_at=synced.finished_at - timedelta(days=3),
    )
    response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["sync"] == "too old"
    assert 72 <= body["sync_age_hours"] < 73
    assert "72.0 h ago" in body["reasons"][0] or "72.1 h ago" in body["reasons"][0]


def test_age_limit_is_configurable(synced, settings):
    settings.JAINAM_HEALTH_MAX_SYNC_AGE_HOURS = 2
    assert check_health(now=synced.finished_at + timedelta(hours=1)).ok
    report = check_health(now=synced.finished_at + timedelta(hours=3))
    assert not report.ok
    assert "JAINAM_HEALTH_MAX_SYNC_AGE_HOURS=2" in report.reasons[0]


def test_failed_and_dry_runs_do_not_count_as_syncs(client, xts_server, settings, synced):
    """A later failure does not hide a young success; a dry run is not a sync."""
    xts_server.inject_fault("http400", endpoint="master")
    with pytest.raises(XTSRejected, match="HTTP 400"):
        sync_master_contract(segments=["NSEFO"])
    sync_master_contract(segments=["NSEFO"], dry_run=True)
    assert client.get(HEALTHZ).json()["last_sync_at"] == synced.finished_at.isoformat()

    SyncRun.objects.filter(status=SyncRun.Status.SUCCESS).delete()
    assert SyncRun.objects.count() == 2  # the failed run and the dry run
    response = client.get(HEALTHZ)
    assert response.status_code == 503
    assert response.json()["checks"]["sync"] == "never"


def test_a_sync_of_another_broker_does_not_count(client, synced, settings):
    settings.JAINAM_BROKER = "other_xts"
    response = client.get(HEALTHZ)
    assert response.status_code == 503
    assert "no successful master sync yet for other_xts" in response.json()["reasons"][0]


# --- the cache -------------------------------------------------------------------------------


def test_unreachable_cache_is_503_naming_only_the_error_class(client, synced):
    with override_settings(CACHES=dead_redis_settings()):
        response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["sync"] == "ok"
    assert body["checks"]["cache"].startswith("error (")
    [reason] = body["reasons"]
    assert reason.startswith("cache unavailable (")
    assert "REDIS_URL" in reason
    assert "127.0.0.1" not in response.content.decode()  # no host, port or URL


def test_redis_crash_and_recovery(client, synced, private_redis):
    """The same instance reports the outage while Redis is down and recovers by itself."""
    with override_settings(CACHES=redis_cache_settings(private_redis.url)):
        assert client.get(HEALTHZ).status_code == 200
        private_redis.stop()
        down = client.get(HEALTHZ)
        private_redis.start()  # same port, as a restarted service
        up = client.get(HEALTHZ)

    assert down.status_code == 503
    assert down.json()["reasons"][0].startswith("cache unavailable")
    assert up.status_code == 200


# --- the database (a child process whose DATABASE_URL points nowhere) -------------------------

CHILD = (
    "import django, json; django.setup()\n"
    "from django.test import Client\n"
    "response = Client().get('/healthz')\n"
    "print(json.dumps({'status': response.status_code, 'body': response.json()}))\n"
)


def unreachable_database_url(tmp_path: Path) -> str:
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path}/no-such-directory/db.sqlite3"
    return f"postgres://postgres@127.0.0.1:{free_port()}/relyb_nowhere"


def test_unreachable_database_is_503(tmp_path):
    url = unreachable_database_url(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SECRET_KEY": "health-child-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DJANGO_DEBUG", None)
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    answer = json.loads(child.stdout.strip().splitlines()[-1])

    assert answer["status"] == 503
    body = answer["body"]
    assert body["checks"]["database"].startswith("error (")
    assert body["checks"]["sync"] == "unknown (database unavailable)"
    assert body["checks"]["cache"] == "ok"
    assert body["reasons"][0].startswith("database unavailable (")
    assert "DATABASE_URL" in body["reasons"][0]
    text = json.dumps(body)
    assert url not in text
    assert "relyb_nowhere" not in text
    assert "no-such-directory" not in text


# --- TLS redirect ----------------------------------------------------------------------------


def test_healthz_is_exempt_from_the_https_redirect(client, synced, settings):
    """A monitoring probe inside the network calls plain http; the API is redirected."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(HEALTHZ).status_code == 200
    assert client.post("/api/v1/symbol", {}).status_code == 301


def test_a_cache_outage_is_logged_once_however_many_checks(client, synced, private_redis, caplog):
    caplog.set_level(logging.INFO, logger="jainam_prop.cache_outage")
    with override_settings(CACHES=redis_cache_settings(private_redis.url)):
        private_redis.stop()
        assert [client.get(HEALTHZ).status_code for _ in range(5)] == [503] * 5
        private_redis.start()
        assert client.get(HEALTHZ).status_code == 200
    outage = [r for r in caplog.records if r.name == "jainam_prop.cache_outage"]
    assert [r.levelno for r in outage] == [logging.WARNING, logging.INFO]
    assert "ConnectionError" in outage[0].getMessage()
    assert "127.0.0.1" not in client.get(HEALTHZ).content.decode()
