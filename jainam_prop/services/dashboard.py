"""Reads behind the admin dashboard: instruments per exchange, recent syncs, health.

A selector (read-only): the admin's index page calls :func:`dashboard_summary` and renders
what it returns; no face queries ``SymbolToken`` for it. Its cost is fixed whatever the size
of the master: one aggregate over the (broker, exchange, name, expiry) index, one read of the
recent runs, one of the last failed or refused run, and :func:`check_health`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q

from jainam_prop.models import SymbolToken, SyncRun
from jainam_prop.services.health import HealthReport, check_health
from jainam_prop.vocabulary import today_ist

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


def dashboard_summary(
    *, broker: str, today: date | None = None, now: datetime | None = None
) -> Dashboard:
    """Everything the admin's index page shows, in four queries plus the health check's one."""
    today = today or today_ist()
    runs = list(SyncRun.objects.filter(broker=broker).order_by("-started_at")[:RECENT_RUNS])
    last_problem = next((run for run in runs if run.status in PROBLEM_STATUSES), None)
    if last_problem is None:
        last_problem = (
            SyncRun.objects.filter(broker=broker, status__in=PROBLEM_STATUSES)
            .order_by("-started_at")
            .first()
        )
    return Dashboard(
        today=today,
        week_end=today + timedelta(days=6 - today.weekday()),
        exchanges=instrument_counts(broker=broker, today=today),
        runs=runs[::-1],
        last_problem=last_problem,
        health=check_health(broker=broker, now=now),
    )
