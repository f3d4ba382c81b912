"""Interim batch reverse lookup, until the lookups package provides its own.

``get_instrument_by_tokens`` has the contract of the lookups room (one SQL query for up to
500 (token, exchange) pairs; missing pairs absent). It is replaced by the cached lookups
function when that lands; callers import it from here only until then.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from jainam_prop.services.lookups import Instrument

_FIELDS = (
    "symbol",
    "exchange",
    "token",
    "brsymbol",
    "brexchange",
    "name",
    "expiry",
    "strike",
    "lot_size",
    "tick_size",
    "instrument_type",
)


def get_instrument_by_tokens(
    pairs: Iterable[tuple[int, str]], *, broker: str = DEFAULT_BROKER
) -> dict[tuple[int, str], Instrument]:
    wanted = {(int(token), exchange) for token, exchange in pairs}
    if not wanted:
        return {}
    by_exchange: dict[str, set[int]] = {}
    for token, exchange in wanted:
        by_exchange.setdefault(exchange, set()).add(token)
    where = Q()
    for exchange, tokens in by_exchange.items():
        where |= Q(exchange=exchange, token__in=sorted(tokens))
    found: dict[tuple[int, str], Instrument] = {}
    for row in SymbolToken.objects.filter(where, broker=broker).values_list(*_FIELDS):
        instrument = Instrument(*row, broker=broker)
        key = (int(instrument.token), instrument.exchange)
        if key in wanted:
            found[key] = instrument
    return found
