"""Bulk reads of the stored master: distinct live expiries and whole exchanges, streamed.

The per-symbol tiers (memory, cache, database) are made for order flow; an instruments download
or an expiry list reads many rows once, so these are plain ORM reads, streamed with
``iterator`` so that a download of every exchange never holds the whole table in memory. Dead
contracts (expiry before ``today``, Asia/Kolkata) are never returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet

from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from jainam_prop.vocabulary import today_ist

CHUNK_ROWS = 2000


def _live(*, broker: str, exchange: str | None, today: date | None) -> QuerySet[SymbolToken]:
    day = today or today_ist()
    query = SymbolToken.objects.filter(broker=broker).filter(
        Q(expiry__isnull=True) | Q(expiry__gte=day)
    )
    return query.filter(exchange=exchange) if exchange else query


def live_expiries(
    *,
    name: str,
    exchange: str,
    kinds: Iterable[str],
    broker: str = DEFAULT_BROKER,
    today: date | None = None,
) -> list[date]:
    """The distinct live expiry dates of an underlying's contracts of ``kinds``, nearest first."""
    dates = (
        _live(broker=broker, exchange=exchange, today=today)
        .filter(name=name, instrument_type__in=list(kinds), expiry__isnull=False)
        .values_list("expiry", flat=True)
        .distinct()
        .order_by("expiry")
    )
    return [day for day in dates if day is not None]


def live_instrument_count(
    *, exchange: str | None, broker: str = DEFAULT_BROKER, today: date | None = None
) -> int:
    """How many live instruments (of one exchange, or all) are stored."""
    return _live(broker=broker, exchange=exchange, today=today).count()


def live_instrument_rows(
    *,
    fields: Iterable[str],
    exchange: str | None,
    broker: str = DEFAULT_BROKER,
    today: date | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Tuples of ``fields`` of every live instrument (of one exchange, or all), by exchange and
    symbol, read ``CHUNK_ROWS`` at a time."""
    query = _live(broker=broker, exchange=exchange, today=today).order_by("exchange", "symbol")
    yield from query.values_list(*fields).iterator(chunk_size=CHUNK_ROWS)
