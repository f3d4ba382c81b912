"""Symbol services over the stored master: expiry dates and the instruments download.

Both check their input and shape OpenAlgo's answers; the rows come from the lookups' bulk
reads (``services.lookups.bulk``: streamed, dead contracts left out: nothing can be traded
on them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from jainam_prop.errors import OrderInvalid
from jainam_prop.models import DEFAULT_BROKER
from jainam_prop.services.lookups import (
    live_expiries,
    live_instrument_count,
    live_instrument_rows,
)
from jainam_prop.vocabulary import EXCHANGES, FNO_EXCHANGES, api_expiry

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


def check_expiry_request(*, exchange: Any, instrumenttype: Any) -> tuple[str, tuple[str, ...]]:
    """(exchange, instrument kinds) of an expiry request; ``OrderInvalid`` naming the field."""
    upper = str(exchange or "").strip().upper()
    if upper not in FNO_EXCHANGES:
        raise OrderInvalid(
            field="exchange",
            rule=f"must be one of {', '.join(sorted(FNO_EXCHANGES))} (got {upper[:20]!r})",
        )
    kinds = EXPIRY_KINDS.get(str(instrumenttype or "").strip().lower())
    if kinds is None:
        raise OrderInvalid(
            field="instrumenttype",
            rule=f"must be options or futures (got {str(instrumenttype)[:20]!r})",
        )
    return upper, kinds


def expiry_dates(
    *, symbol: str, exchange: str, instrumenttype: str, broker: str = DEFAULT_BROKER
) -> list[str]:
    """Live expiry dates (nearest first) of an underlying's options or futures."""
    exchange, kinds = check_expiry_request(exchange=exchange, instrumenttype=instrumenttype)
    dates = live_expiries(
        name=symbol.strip().upper(), exchange=exchange, kinds=kinds, broker=broker
    )
    return [api_expiry(expiry) for expiry in dates]


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
    rows = live_instrument_rows(fields=_DB_FIELDS, exchange=exchange, broker=broker)
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["token"] = str(item["token"])
        item["expiry"] = api_expiry(item["expiry"])
        item["strike"] = float(item["strike"]) if item["strike"] is not None else -1.0
        item["tick_size"] = float(item["tick_size"] or Decimal(0))
        yield item


def instruments_count(*, exchange: str | None, broker: str = DEFAULT_BROKER) -> int:
    return live_instrument_count(exchange=exchange, broker=broker)


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
