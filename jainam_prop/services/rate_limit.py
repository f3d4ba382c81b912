"""Per-API-key order rate limit, counted in the shared Django cache (all processes agree).

``JAINAM_ORDER_RATE_LIMIT`` uses OpenAlgo's notation: ``"10 per second"`` (the default, as
OpenAlgo's ``ORDER_RATE_LIMIT``), ``"100 per minute"``, ``"10/second"`` or a bare ``"10"``
(per second); ``0`` turns the limit off.

Each key gets a fixed window that opens with its first order (``cache.add``) and counts
atomically (``cache.incr``: Redis INCRBY, or the in-process cache's lock). When the cache is
unreachable the limit is not enforced (a warning is logged): a Redis outage must not stop
trading.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from jainam_prop.errors import RateLimited

logger = logging.getLogger(__name__)

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(
    r"^\s*(?P<count>\d+)\s*(?:(?:per|/)\s*(?P<period>second|minute|hour|day)s?)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rate:
    count: int
    period_seconds: int

    def __str__(self) -> str:
        unit = {v: k for k, v in _PERIODS.items()}[self.period_seconds]
        return f"{self.count} per {unit}"


def parse_rate(text: str | int) -> Rate:
    match = _RATE.match(str(text))
    if not match:
        raise ImproperlyConfigured(
            f"JAINAM_ORDER_RATE_LIMIT={text!r} is not a rate: use e.g. '10 per second', "
            "'100 per minute' or '0' (no limit)."
        )
    period = (match.group("period") or "second").lower()
    return Rate(count=int(match.group("count")), period_seconds=_PERIODS[period])


def check_order_rate(*, api_key_id: int) -> None:
    """Count one order for this key; raise ``RateLimited`` when over the configured rate."""
    rate = parse_rate(settings.JAINAM_ORDER_RATE_LIMIT)
    if rate.count <= 0:
        return
    key = f"ratelimit:orders:{api_key_id}"
    try:
        count = _hit(key, timeout=rate.period_seconds)
    except Exception as exc:
        logger.warning(
            "Order rate limit not enforced: the shared cache failed (%s)", type(exc).__name__
        )
        return
    if count > rate.count:
        logger.warning("API key id %d over the order rate limit (%s)", api_key_id, rate)
        raise RateLimited(
            f"Order rate limit exceeded: at most {rate} per API key. Nothing was sent to the "
            "broker; retry later.",
            retry_after=math.ceil(rate.period_seconds),
        )


def _hit(key: str, *, timeout: int) -> int:
    for _ in range(3):
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # the window expired between add and incr: open a new one
            continue
    raise RuntimeError("rate-limit window kept expiring")
