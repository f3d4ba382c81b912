"""``jainam_prop.cache_outage``: back-off, one WARNING per outage, one INFO when it ends.

Real failures only: the cache is a Redis on a closed port or a private redis-server that the
test stops and starts; time is the helper's injectable clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import override_settings

from jainam_prop import cache_outage
from tests.fixtures_lookups import FakeClock, free_port, redis_cache_settings

LOGGER = "jainam_prop.cache_outage"


@pytest.fixture
def clock(monkeypatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(cache_outage, "clock", fake)
    cache_outage.reset()
    yield fake
    cache_outage.reset()


def outage_log(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def test_a_failed_call_returns_the_default_and_backs_off(clock, settings, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings.JAINAM_CACHE_RETRY = 5
    calls = []

    def flaky_get(key):
        calls.append(key)
        return caches["default"].get(key)

    with override_settings(CACHES=redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0")):
        assert cache_outage.guarded("test get", flaky_get, "k", default="fallback") == "fallback"
        assert cache_outage.is_down()
        for _ in range(10):  # backed off: the dead cache is not called again
            assert cache_outage.guarded("test get", flaky_get, "k", default="x") == "x"
        assert calls == ["k"]
        clock.advance(5)
        assert cache_outage.guarded("test get", flaky_get, "k", default="x") == "x"
        assert calls == ["k", "k"]
        cache_outage.reset()  # override_settings' CACHES change also resets
    [(level, message)] = outage_log(caplog)  # one line for the whole outage
    assert level == logging.WARNING
    for part in ("Cache unavailable", "ConnectionError", "test get", "REDIS_URL", "5.0 s"):
        assert part in message


def test_the_end_of_an_outage_is_one_info_line(clock, private_redis, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    with override_settings(CACHES=redis_cache_settings(private_redis.url)):
        cache = caches["default"]
        assert cache_outage.guarded("set", cache.set, "k", 1, default=False) is True
        private_redis.stop()
        for _ in range(3):
            assert cache_outage.guarded("get", cache.get, "k", default="down") == "down"
        private_redis.start()
        clock.advance(60)
        assert cache_outage.guarded("get", cache.get, "k", default="down") is None  # empty, up
        assert not cache_outage.is_down()
    levels = [level for level, _ in outage_log(caplog)]
    assert levels == [logging.WARNING, logging.INFO]
    assert "is back" in outage_log(caplog)[1][1]


def test_checked_always_calls_and_raises(clock, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    with override_settings(CACHES=redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0")):
        cache = caches["default"]
        for _ in range(3):
            with pytest.raises(cache_outage.CACHE_ERRORS):
                cache_outage.checked("probe", cache.get, "k")
        assert cache_outage.is_down()
    assert len(outage_log(caplog)) == 1


def test_other_errors_are_not_outages(clock):
    def broken():
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        cache_outage.guarded("bug", broken)
    assert not cache_outage.is_down()


@pytest.mark.parametrize("value", [0, -1, "5", True])
def test_a_bad_retry_setting_is_refused(clock, settings, value):
    settings.JAINAM_CACHE_RETRY = value
    dead = redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0")
    with override_settings(CACHES=dead), pytest.raises(Exception, match="JAINAM_CACHE_RETRY"):
        cache_outage.guarded("get", caches["default"].get, "k")
