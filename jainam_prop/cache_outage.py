"""One answer to "the cache is down": back off, say so once, keep serving.

Every user of the shared cache (lookups, health, the API rate limit, the XTS session store)
goes through this module, so that a Redis outage costs each process one WARNING line when it
starts and one INFO line when it ends, and a dead Redis is not hammered by every request.

API (all process-wide; one outage state per process, since there is one Redis):

``guarded(operation, fn, *args, default=None, **kwargs)``
    Run ``fn(*args, **kwargs)`` (a cache call) and return its result. On a cache error
    (:data:`CACHE_ERRORS`) return ``default`` and start backing off: for the next
    ``retry_interval()`` seconds every ``guarded`` call returns ``default`` at once without
    calling ``fn``; the first call after that tries the cache again. ``operation`` names the
    call in the log line (``"lookups get_many"``). Never raises a cache error; other errors
    (bugs, bad arguments) propagate.
``checked(operation, fn, *args, **kwargs)``
    Always call ``fn`` (no back-off), record the outage or the recovery like ``guarded``,
    and re-raise the cache error. For probes that must see the cache as it is now
    (``/healthz``).
``is_down() -> bool``
    Whether an outage is in progress (the last cache call failed).
``reset()``
    Forget the outage (tests; a change of ``CACHES`` resets it by itself).

Log lines (logger ``jainam_prop.cache_outage``): at WARNING ``Cache unavailable
(<ErrorClass> during <operation>: <error>) ...`` when an outage starts, at INFO ``Cache is
back after <s> s ...`` when a call succeeds again. Failed retries during an outage log nothing.

Settings: ``JAINAM_CACHE_RETRY`` (seconds between retries during an outage; default: the
older ``JAINAM_LOOKUP_CACHE_RETRY``, else 5). Tests replace :data:`clock` (monotonic seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: Errors that mean "the cache is unusable right now": django-redis re-raises redis-py's
#: (``ConnectionError``, ``TimeoutError``, ``ResponseError`` of a read-only replica...);
#: sockets may raise ``OSError``.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, ConnectionInterrupted, OSError)

#: Monotonic clock of the back-off; tests replace it.
clock: Callable[[], float] = time.monotonic

T = TypeVar("T")
_DEFAULT_RETRY = 5.0


def retry_interval() -> float:
    """Seconds between two attempts while the cache is down."""
    value = getattr(settings, "JAINAM_CACHE_RETRY", None)
    if value is None:
        value = getattr(settings, "JAINAM_LOOKUP_CACHE_RETRY", _DEFAULT_RETRY)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"JAINAM_CACHE_RETRY must be a positive number, got {value!r}")
    return float(value)


class _Outage:
    __slots__ = ("down_since", "down_until", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.down_until = float("-inf")

    def failed(self, operation: str, exc: BaseException) -> None:
        retry = retry_interval()
        with self.lock:
            now = clock()
            self.down_until = now + retry
            starts = self.down_since is None
            if starts:
                self.down_since = now
        if starts:
            logger.warning(
                "Cache unavailable (%s during %s: %s); callers fall back (lookups to the "
                "database, API rate limits not enforced, XTS sessions kept per process) and "
                "retry the cache every %.1f s. Check that Redis is running and reachable at "
                "REDIS_URL.",
                type(exc).__name__,
                operation,
                exc,
                retry,
            )

    def recovered(self) -> None:
        with self.lock:
            since, self.down_since = self.down_since, None
            self.down_until = float("-inf")
        if since is not None:
            logger.info("Cache is back after %.1f s; callers use it again", clock() - since)


_outage = _Outage()


def guarded(
    operation: str, fn: Callable[..., T], *args: Any, default: Any = None, **kwargs: Any
) -> T | Any:
    """``fn(*args, **kwargs)``, or ``default`` when the cache fails or is backed off."""
    if _outage.down_since is not None and clock() < _outage.down_until:
        return default
    try:
        result = fn(*args, **kwargs)
    except CACHE_ERRORS as exc:
        _outage.failed(operation, exc)
        return default
    if _outage.down_since is not None:
        _outage.recovered()
    return result


def checked(operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` always attempted; a cache error is recorded and re-raised."""
    try:
        result = fn(*args, **kwargs)
    except CACHE_ERRORS as exc:
        _outage.failed(operation, exc)
        raise
    if _outage.down_since is not None:
        _outage.recovered()
    return result


def is_down() -> bool:
    """Whether the last cache call failed (an outage is in progress)."""
    return _outage.down_since is not None


def reset() -> None:
    """Forget any outage in progress."""
    with _outage.lock:
        _outage.down_since = None
        _outage.down_until = float("-inf")


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        reset()
