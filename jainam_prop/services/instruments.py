"""Symbol services over the stored master: expiry dates and the instruments download.

Both read ``SymbolToken`` in bulk (whole exchanges, distinct expiries), which the cached
per-symbol lookups are not made for: they are plain ORM reads, streamed with ``iterator``
so that a download of every exchange never holds the whole table in memory. Dead contracts
(expiry before today, Asia/Kolkata) are left out: nothing can be traded on them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q

from jainam_prop.errors import OrderInvalid
from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from jainam_prop.vocabulary import EXCHANGES, FNO_EXCHANGES, MONTHS, today_ist

EXPIRY_KINDS: dict[str, tuple[str, ...]] = {"options": ("CE", "PE"), "futures": ("FUT",)}
# OpenAlgo's instruments columns, in its order.
COLUMNS: tuple[str, ...] = (
    "symbol",
    "brsymbol",
    "name",
    "exchange",
    "brexchange",
    "token",
    "expiry",
    "strike",
    "lotsize",
    "instrumenttype",
    "tick_size",
)
_DB_FIELDS = (
    "symbol",
    "brsymbol",
    "name",
    "exchange",
    "brexchange",
    "token",
    "expiry",
    "strike",
    "lot_size",
    "instrument_type",
    "tick_size",
)
CHUNK_ROWS = 2000


def expiry_text(expiry: date | None) -> str:
    """OpenAlgo's DD-MMM-YY (``25-AUG-26``); empty for no expiry."""
    if expiry is None:
        return ""
    return f"{expiry.day:02d}-{MONTHS[expiry.month - 1]}-{expiry.year % 100:02d}"


def expiry_dates(
    *, symbol: str, exchange: str, instrumenttype: str, broker: str = DEFAULT_BROKER
) -> list[str]:
    """Live expiry dates (nearest first) of an underlying's options or futures."""
    exchange = (exchange or "").strip().upper()
    if exchange not in FNO_EXCHANGES:
        raise OrderInvalid(
            field="exchange",
            rule=f"must be one of {', '.join(sorted(FNO_EXCHANGES))} (got {exchange[:20]!r})",
        )
    kinds = EXPIRY_KINDS.get((instrumenttype or "").strip().lower())
    if kinds is None:
        raise OrderInvalid(
            field="instrumenttype",
            rule=f"must be options or futures (got {str(instrumenttype)[:20]!r})",
        )
    dates = (
        SymbolToken.objects.filter(
            broker=broker,
            exchange=exchange,
            name=symbol.strip().upper(),
            instrument_type__in=kinds,
            expiry__gte=today_ist(),
        )
        .values_list("expiry", flat=True)
        .distinct()
        .order_by("expiry")
    )
    return [expiry_text(expiry) for expiry in dates]


def check_exchange(exchange: str | None) -> str | None:
    if exchange in (None, ""):
        return None
    upper = exchange.strip().upper()
    if upper not in EXCHANGES:
        raise OrderInvalid(
            field="exchange", rule=f"must be one of {', '.join(EXCHANGES)} (got {exchange[:20]!r})"
        )
    return upper


def _rows(*, exchange: str | None, broker: str) -> Iterator[dict[str, Any]]:
    query = SymbolToken.objects.filter(broker=broker).filter(
        Q(expiry__isnull=True) | Q(expiry__gte=today_ist())
    )
    if exchange:
        query = query.filter(exchange=exchange)
    values = query.order_by("exchange", "symbol").values_list(*_DB_FIELDS)
    for row in values.iterator(chunk_size=CHUNK_ROWS):
        item = dict(zip(COLUMNS, row, strict=True))
        item["token"] = str(item["token"])
        item["expiry"] = expiry_text(item["expiry"])
        item["strike"] = float(item["strike"]) if item["strike"] is not None else -1.0
        item["tick_size"] = float(item["tick_size"] or Decimal(0))
        yield item


def instruments_count(*, exchange: str | None, broker: str = DEFAULT_BROKER) -> int:
    query = SymbolToken.objects.filter(broker=broker).filter(
        Q(expiry__isnull=True) | Q(expiry__gte=today_ist())
    )
    return (query.filter(exchange=exchange) if exchange else query).count()


def instruments_json(*, exchange: str | None, broker: str = DEFAULT_BROKER) -> Iterator[bytes]:
    """The OpenAlgo instruments JSON answer, in chunks (one SQL count, then a cursor)."""
    count = instruments_count(exchange=exchange, broker=broker)
    yield f'{{"status": "success", "message": "Found {count} instruments", "data": ['.encode()
    buffer: list[str] = []
    first = True
    for item in _rows(exchange=exchange, broker=broker):
        buffer.append(("" if first else ",") + json.dumps(item))
        first = False
        if len(buffer) >= CHUNK_ROWS:
            yield "".join(buffer).encode()
            buffer.clear()
    yield ("".join(buffer) + "]}").encode()


def instruments_csv(*, exchange: str | None, broker: str = DEFAULT_BROKER) -> Iterator[bytes]:
    """The OpenAlgo instruments CSV (header line, then one line per instrument), in chunks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for count, item in enumerate(_rows(exchange=exchange, broker=broker), start=1):
        writer.writerow([item[column] for column in COLUMNS])
        if count % CHUNK_ROWS == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
