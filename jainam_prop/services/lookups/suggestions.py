"""Suggestions for a symbol not found, and the live contracts near a dead or unknown one.

Never a dead contract (expired before today, IST), and never a scan: each step is one or two
indexed queries reading a handful of rows (or one expiry's strikes of one underlying).
"""

from __future__ import annotations

import difflib
from datetime import date
from decimal import Decimal

from jainam_prop import vocabulary

from . import db
from .records import Record

SUGGESTIONS = 3
_NEIGHBOURS = 25  # symbols read on each side of an unknown one, for close spellings
_SPELLING_CUTOFF = 0.75
_SYMBOL_MAX_LENGTH = 64


def suggestions(broker: str, exchange: str, symbol: str, *, today: date) -> tuple[str, ...]:
    """Up to three close matches: the same symbol live on another exchange, else the live
    contracts of the same underlying nearest the expiry (and strike) asked, else similar
    spellings of live symbols on the exchange."""
    if len(symbol) > _SYMBOL_MAX_LENGTH:
        return ()
    elsewhere = db.live_elsewhere(broker, symbol, exchange=exchange, today=today, limit=SUGGESTIONS)
    if elsewhere:
        return tuple(f"{symbol} on {other}" for other in elsewhere)
    parsed = vocabulary.parse_symbol(symbol)
    if parsed is not None:
        near = near_records(
            broker,
            name=parsed.name,
            exchange=exchange,
            kind=parsed.kind,
            expiry=parsed.expiry,
            strike=parsed.strike,
            today=today,
            limit=SUGGESTIONS,
        )
        if near:
            return tuple(record[0] for record in near)
    candidates = db.neighbours(broker, symbol, exchange=exchange, today=today, count=_NEIGHBOURS)
    return tuple(
        difflib.get_close_matches(symbol, candidates, n=SUGGESTIONS, cutoff=_SPELLING_CUTOFF)
    )


def near_records(
    broker: str,
    *,
    name: str,
    exchange: str,
    kind: str,
    expiry: date | None,
    strike: Decimal | None,
    today: date,
    limit: int,
) -> list[Record]:
    """Live contracts of ``name`` nearest ``expiry`` (today when None or past).

    A future (``kind`` FUT) gets the ``limit`` live futures of the nearest expiries. An option
    (CE, PE) gets options of the nearest live expiry: ``kind`` first, then the strikes nearest
    ``strike``. When the underlying has no live contract of that family, contracts of any
    kind at its nearest live expiry.
    """
    reference = expiry if expiry is not None and expiry > today else today
    family = ("FUT",) if kind == "FUT" else ("CE", "PE")
    for kinds in (family, None):
        wanted = limit if kinds == ("FUT",) else 1
        expiries = db.nearest_expiries(
            broker,
            name=name,
            exchange=exchange,
            kinds=kinds,
            reference=reference,
            today=today,
            count=wanted,
        )
        if not expiries:
            continue
        closest = sorted(set(expiries), key=lambda day: (abs((day - reference).days), day))
        chosen = closest[:wanted]
        rows = db.contracts_at(
            broker,
            name=name,
            exchange=exchange,
            expiries=chosen,
            kinds=kinds,
            kind=kind,
            strike=strike,
            limit=limit,
        )
        rank = {day: i for i, day in enumerate(chosen)}
        expiry_at = vocabulary.INSTRUMENT_COLUMNS.index("expiry")
        rows.sort(key=lambda record: rank[date.fromordinal(record[expiry_at])])
        return rows
    return []
