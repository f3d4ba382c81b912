"""Per-API-key budgets, counted in the shared Django cache (all processes agree).

Two budgets, each its own setting in OpenAlgo's notation (``"10 per second"``,
``"100 per minute"``, ``"10/second"`` or a bare ``"10"`` per second; ``0`` turns it off):

- ``orders`` (``JAINAM_ORDER_RATE_LIMIT``, default 10 per second as OpenAlgo's
  ``ORDER_RATE_LIMIT``): calls that write orders. Charged by the order service only for a
  request that passed every check, right before it is sent: a refused request costs nothing.
- ``lookups`` (``JAINAM_LOOKUP_RATE_LIMIT``, default 50 per second as OpenAlgo's
  ``API_RATE_LIMIT``): symbol and search calls, charged once their fields are read.

Each key gets a fixed window that opens with its first order (``cache.add``) and counts
atomically (``cache.incr``: Redis INCRBY, or the in-process cache's lock). When the cache is
unreachable the limit is not enforced: a Redis outage must not stop trading.
:mod:`jainam_prop.cache_outage` says so once per outage (and once when it ends) and backs
off, so orders during an outage do not wait on a dead Redis.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from jainam_prop import cache_outage
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


#: Budget name -> the setting that holds its rate.
BUDGETS: dict[str, str] = {
    "orders": "JAINAM_ORDER_RATE_LIMIT",
    "lookups": "JAINAM_LOOKUP_RATE_LIMIT",
}


def parse_rate(text: str | int, *, variable: str = "JAINAM_ORDER_RATE_LIMIT") -> Rate:
    match = _RATE.match(str(text))
    if not match:
        raise ImproperlyConfigured(
            f"{variable}={text!r} is not a rate: use e.g. '10 per second', "
            "'100 per minute' or '0' (no limit)."
        )
    period = (match.group("period") or "second").lower()
    return Rate(count=int(match.group("count")), period_seconds=_PERIODS[period])


def check_order_rate(*, api_key_id: int) -> None:
    """Count one order-writing call for this key; ``RateLimited`` when over the budget."""
    check_rate(budget="orders", api_key_id=api_key_id)


def check_lookup_rate(*, api_key_id: int) -> None:
    """Count one lookup call for this key; ``RateLimited`` when over the budget."""
    check_rate(budget="lookups", api_key_id=api_key_id)


def check_rate(*, budget: str, api_key_id: int) -> None:
    """Count one call of ``budget`` for this key; raise ``RateLimited`` when over its rate."""
    variable = BUDGETS[budget]
    rate = parse_rate(getattr(settings, variable), variable=variable)
    if rate.count <= 0:
        return
    key = f"ratelimit:{budget}:{api_key_id}"
    count = cache_outage.guarded(
        f"{budget} rate limit", _hit, key, timeout=rate.period_seconds, default=None
    )
    if count is None:  # the cache is down: not enforced (cache_outage logged it)
        return
    if count > rate.count:
        logger.warning("API key id %d over the %s rate limit (%s)", api_key_id, budget, rate)
        what = "Order" if budget == "orders" else "Lookup"
        raise RateLimited(
            f"{what} rate limit exceeded: at most {rate} per API key ({variable}). Nothing "
            "was sent to the broker; retry later.",
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
