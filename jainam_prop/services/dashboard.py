"""Reads behind the admin dashboard: instruments per exchange, recent syncs, health.

A selector (read-only): the admin's index page calls :func:`dashboard_summary` and renders
what it returns; no face queries ``SymbolToken`` for it. Its cost is fixed whatever the size
of the master: one read of the recent runs (with the last failed or refused one), the
per-exchange counts, and :func:`check_health`.

The counts are one aggregate over the whole master, so they are cached under the broker's
lookup generation and today's date: instruments change only in a sync, which bumps the
generation, so a cached answer is never stale. A cache outage only costs the aggregate.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Q

from jainam_prop.models import SymbolToken, SyncRun
from jainam_prop.services.health import HealthReport, check_health
from jainam_prop.services.lookups import current_generation
from jainam_prop.vocabulary import today_ist

logger = logging.getLogger(__name__)
COUNTS_CACHE_SECONDS = 86_400

RECENT_RUNS = 30
PROBLEM_STATUSES = (SyncRun.Status.FAILED, SyncRun.Status.REFUSED, SyncRun.Status.ABANDONED)


@dataclass(frozen=True)
class ExchangeCounts:
    """Instruments of one exchange: live beyond this week, expiring this week, dead.

    The three are disjoint: ``dead`` expired before today and stays until the next sync
    removes it; ``expiring_this_week`` expires from today to Sunday; ``live`` is the rest
    (later expiries and instruments without an expiry).
    """

    exchange: str
    live: int
    expiring_this_week: int
    dead: int

    @property
    def total(self) -> int:
        return self.live + self.expiring_this_week + self.dead


@dataclass(frozen=True)
class Dashboard:
    today: date
    week_end: date
    exchanges: list[ExchangeCounts]
    runs: list[SyncRun]  # the latest RECENT_RUNS, oldest first
    last_problem: SyncRun | None
    health: HealthReport

    @property
    def instruments(self) -> int:
        return sum(row.total for row in self.exchanges)

    @property
    def dead(self) -> int:
        return sum(row.dead for row in self.exchanges)


def instrument_counts(*, broker: str, today: date) -> list[ExchangeCounts]:
    """Per exchange (alphabetical), in one aggregate query."""
    week_end = today + timedelta(days=6 - today.weekday())
    rows = (
        SymbolToken.objects.filter(broker=broker)
        .values("exchange")
        .annotate(
            total=Count("*"),
            dead=Count("expiry", filter=Q(expiry__lt=today)),
            week=Count("expiry", filter=Q(expiry__gte=today, expiry__lte=week_end)),
        )
        .order_by("exchange")
    )
    return [
        ExchangeCounts(
            exchange=row["exchange"],
            live=row["total"] - row["dead"] - row["week"],
            expiring_this_week=row["week"],
            dead=row["dead"],
        )
        for row in rows
    ]


def cached_instrument_counts(*, broker: str, today: date) -> list[ExchangeCounts]:
    """``instrument_counts``, cached under (broker, lookup generation, today)."""
    key = f"dashboard:counts:{broker}:{current_generation(broker=broker)}:{today.isoformat()}"
    try:
        cached = cache.get(key)
    except Exception as exc:  # the cache is down: the database still answers
        logger.warning("Dashboard: the cache did not answer (%s); counting in the database", exc)
        return instrument_counts(broker=broker, today=today)
    if cached is not None:
        return [ExchangeCounts(**row) for row in cached]
    counts = instrument_counts(broker=broker, today=today)
    try:
        cache.set(key, [asdict(row) for row in counts], timeout=COUNTS_CACHE_SECONDS)
    except Exception as exc:
        logger.warning("Dashboard: the cache did not store the counts (%s)", exc)
    return counts


def recent_runs(*, broker: str) -> tuple[list[SyncRun], SyncRun | None]:
    """The latest ``RECENT_RUNS`` runs (newest first) and the last problem run, in ONE query.

    The problem run is among the recent ones or older than all of them, so the first
    ``RECENT_RUNS`` rows of the combined read are exactly the recent runs.
    """
    runs = SyncRun.objects.filter(broker=broker).order_by("-started_at")
    latest = runs.values("pk")[:RECENT_RUNS]
    problem = runs.filter(status__in=PROBLEM_STATUSES).values("pk")[:1]
    rows = list(
        SyncRun.objects.filter(Q(pk__in=latest) | Q(pk__in=problem)).order_by("-started_at")
    )
    last_problem = next((run for run in rows if run.status in PROBLEM_STATUSES), None)
    return rows[:RECENT_RUNS], last_problem


def dashboard_summary(
    *, broker: str, today: date | None = None, now: datetime | None = None
) -> Dashboard:
    """Everything the admin's index page shows: at most three queries plus the health check's
    one (the runs; the generation, when this process has not read it lately; the counts, on
    a cache miss)."""
    today = today or today_ist()
    runs, last_problem = recent_runs(broker=broker)
    return Dashboard(
        today=today,
        week_end=today + timedelta(days=6 - today.weekday()),
        exchanges=cached_instrument_counts(broker=broker, today=today),
        runs=runs[::-1],
        last_problem=last_problem,
        health=check_health(broker=broker, now=now),
    )
