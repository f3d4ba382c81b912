"""Health of one running instance, for load balancers and monitoring (``GET /healthz``).

Healthy means: the database answers, the cache answers, and the last successful master sync
of the broker finished less than ``JAINAM_HEALTH_MAX_SYNC_AGE_HOURS`` ago (default 26 h: a
daily sync with two hours of slack). Anything else is unhealthy, with one reason per failed
check.

What it reveals: check names, exception class names, the time of the last successful sync
and its age. Never a URL, host, user name, key or exception text (those may carry
credentials); the full error is logged on the server at WARNING.

Cost: one indexed query (the latest successful ``SyncRun``, which also proves the database
answers) and two cache round trips (a set and a get of one small key).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

from jainam_prop import cache_outage
from jainam_prop.models import SyncRun

logger = logging.getLogger(__name__)

# Each check writes its own key (concurrent checks in other workers cannot overwrite it),
# which expires on its own.
HEALTH_CACHE_KEY_PREFIX = "health:probe:"
HEALTH_CACHE_TTL_SECONDS = 10


@dataclass(frozen=True)
class HealthReport:
    """The outcome of :func:`check_health`. ``ok`` is True only when every check passed."""

    ok: bool
    checks: dict[str, str]
    reasons: tuple[str, ...] = ()
    last_sync_at: datetime | None = None
    sync_age_hours: float | None = None
    max_sync_age_hours: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of ``/healthz`` (no secrets: see the module docstring)."""
        return {
            "status": "ok" if self.ok else "unhealthy",
            "checks": dict(self.checks),
            "reasons": list(self.reasons),
            "last_sync_at": self.last_sync_at.isoformat() if self.last_sync_at else None,
            "sync_age_hours": (
                round(self.sync_age_hours, 2) if self.sync_age_hours is not None else None
            ),
            "max_sync_age_hours": self.max_sync_age_hours,
        }


def check_health(*, broker: str | None = None, now: datetime | None = None) -> HealthReport:
    """Check the database, the cache and the age of the last successful sync of ``broker``.

    ``now`` (an aware datetime, default the current time) is the moment the sync age is
    measured from. Never raises for a failed check: the failure is a reason in the report.
    """
    broker = broker or settings.JAINAM_BROKER
    now = now or timezone.now()
    max_age_hours = float(settings.JAINAM_HEALTH_MAX_SYNC_AGE_HOURS)
    checks: dict[str, str] = {}
    reasons: list[str] = []

    last_sync_at: datetime | None = None
    age_hours: float | None = None
    database_ok = False
    try:
        last_sync_at = (
            SyncRun.objects.filter(broker=broker, status=SyncRun.Status.SUCCESS)
            .order_by("-started_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        database_ok = True
        checks["database"] = "ok"
    except DatabaseError as exc:
        logger.warning("Health check: the database did not answer: %s", exc)
        checks["database"] = f"error ({type(exc).__name__})"
        reasons.append(
            f"database unavailable ({type(exc).__name__}): check DATABASE_URL and that the "
            "database server is up"
        )

    if not database_ok:
        checks["sync"] = "unknown (database unavailable)"
    elif last_sync_at is None:
        checks["sync"] = "never"
        reasons.append(
            f"no successful master sync yet for {broker}: run manage.py sync_master_contract"
        )
    else:
        age_hours = (now - last_sync_at) / timedelta(hours=1)
        if age_hours > max_age_hours:
            checks["sync"] = "too old"
            reasons.append(
                f"last successful master sync of {broker} finished {age_hours:.1f} h ago "
                f"(limit JAINAM_HEALTH_MAX_SYNC_AGE_HOURS={max_age_hours:g}): check the daily "
                "sync job and the latest SyncRun in the admin"
            )
        else:
            checks["sync"] = "ok"

    cache_reason = _check_cache()
    if cache_reason is None:
        checks["cache"] = "ok"
    else:
        checks["cache"] = cache_reason[0]
        reasons.append(cache_reason[1])

    report = HealthReport(
        ok=not reasons,
        checks=checks,
        reasons=tuple(reasons),
        last_sync_at=last_sync_at,
        sync_age_hours=age_hours,
        max_sync_age_hours=max_age_hours,
    )
    if not report.ok:
        logger.warning("Health check failed: %s", "; ".join(report.reasons))
    return report


def _check_cache() -> tuple[str, str] | None:
    """None when the cache stores and returns a value; else (check text, reason)."""
    nonce = secrets.token_hex(8)
    key = HEALTH_CACHE_KEY_PREFIX + nonce
    try:
        # Always tried (a probe must see the cache as it is now); an outage is logged once
        # for every cache user by cache_outage.
        cache_outage.checked(
            "health check", cache.set, key, nonce, timeout=HEALTH_CACHE_TTL_SECONDS
        )
        answer = cache_outage.checked("health check", cache.get, key)
    except Exception as exc:  # any backend error means "the cache is unusable"
        if not isinstance(exc, cache_outage.CACHE_ERRORS):
            logger.warning("Health check: the cache did not answer: %s", exc)
        return (
            f"error ({type(exc).__name__})",
            f"cache unavailable ({type(exc).__name__}): check REDIS_URL and that Redis is up",
        )
    if answer != nonce:
        return (
            "error (value not stored)",
            "cache did not return the value just stored: check Redis (read-only replica, "
            "maxmemory eviction, or IGNORE_EXCEPTIONS hiding errors)",
        )
    return None
