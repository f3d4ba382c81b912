"""Per-API-key budgets (orders, lookups) in the shared cache."""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from jainam_prop.errors import RateLimited
from jainam_prop.services.rate_limit import (
    Rate,
    check_lookup_rate,
    check_order_rate,
    parse_rate,
)
from tests.helpers import redis_cache_settings


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10 per second", Rate(10, 1)),
        ("10", Rate(10, 1)),
        (10, Rate(10, 1)),
        ("100 per minute", Rate(100, 60)),
        ("5/hour", Rate(5, 3600)),
        (" 2 PER DAY ", Rate(2, 86400)),
        ("3 per seconds", Rate(3, 1)),
        ("0", Rate(0, 1)),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["ten per second", "10 per fortnight", "-1", "", "10 per"])
def test_bad_rate_names_the_variable(text):
    with pytest.raises(ImproperlyConfigured, match="JAINAM_ORDER_RATE_LIMIT"):
        parse_rate(text)


@override_settings(JAINAM_ORDER_RATE_LIMIT="3 per hour")
def test_counts_per_key_and_refuses_over_the_rate():
    for _ in range(3):
        check_order_rate(api_key_id=1)
    with pytest.raises(RateLimited) as excinfo:
        check_order_rate(api_key_id=1)
    assert excinfo.value.retry_after == 3600
    check_order_rate(api_key_id=2)  # another key has its own window


@override_settings(JAINAM_ORDER_RATE_LIMIT="2 per hour", JAINAM_LOOKUP_RATE_LIMIT="3 per hour")
def test_the_two_budgets_are_counted_apart():
    for _ in range(2):
        check_order_rate(api_key_id=1)
    for _ in range(3):
        check_lookup_rate(api_key_id=1)
    with pytest.raises(RateLimited, match="JAINAM_ORDER_RATE_LIMIT"):
        check_order_rate(api_key_id=1)
    with pytest.raises(RateLimited, match="JAINAM_LOOKUP_RATE_LIMIT"):
        check_lookup_rate(api_key_id=1)


@override_settings(JAINAM_LOOKUP_RATE_LIMIT="every second")
def test_a_bad_lookup_rate_names_its_variable():
    with pytest.raises(ImproperlyConfigured, match="JAINAM_LOOKUP_RATE_LIMIT"):
        check_lookup_rate(api_key_id=1)


@override_settings(JAINAM_ORDER_RATE_LIMIT="50 per hour")
def test_concurrent_hits_are_counted_exactly():
    accepted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(8)

    def hit() -> None:
        barrier.wait()
        for _ in range(10):
            try:
                check_order_rate(api_key_id=7)
                accepted.append(1)
            except RateLimited:
                refused.append(1)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 50
    assert len(refused) == 30


def test_limit_zero_never_refuses(settings):
    settings.JAINAM_ORDER_RATE_LIMIT = "0"
    for _ in range(100):
        check_order_rate(api_key_id=1)


def test_a_redis_outage_fails_open_with_one_warning_and_one_info_line(
    settings, private_redis, lookup_clock, caplog
):
    settings.JAINAM_ORDER_RATE_LIMIT = "1 per hour"
    caplog.set_level(logging.INFO, logger="jainam_prop")
    with override_settings(CACHES=redis_cache_settings(private_redis.url)):
        check_order_rate(api_key_id=1)  # the hour's one order, counted in Redis
        private_redis.stop()
        for _ in range(50):  # not enforced while Redis is down: trading goes on
            check_order_rate(api_key_id=1)
        lookup_clock.advance(60)  # a retry during the outage fails quietly
        for _ in range(50):
            check_order_rate(api_key_id=1)
        private_redis.start()  # back, empty (no persistence)
        lookup_clock.advance(60)
        check_order_rate(api_key_id=1)  # counted again
        with pytest.raises(RateLimited):  # and enforced again
            check_order_rate(api_key_id=1)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    outage = [r for r in caplog.records if r.name == "jainam_prop.cache_outage"]
    assert [r.levelno for r in outage] == [logging.WARNING, logging.INFO]
    # One warning for the outage; the only other one is the refusal after recovery.
    assert [r.name for r in warnings] == [
        "jainam_prop.cache_outage",
        "jainam_prop.services.rate_limit",
    ]
    assert "orders rate limit" in outage[0].getMessage()
    assert "rate limits not enforced" in outage[0].getMessage()
    assert "Cache is back" in outage[1].getMessage()
