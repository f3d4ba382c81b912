"""Lookup endpoints: ``symbol`` and ``search``, in OpenAlgo's answer shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from jainam_prop.models import ApiKey
from jainam_prop.services import get_instrument, search_symbols
from jainam_prop.services.lookups import Instrument
from jainam_prop.services.orders import freeze_limit, max_quantity
from jainam_prop.views.api import (
    BadRequest,
    api_view,
    charge_lookup,
    exchange_field,
    optional_exchange_field,
    optional_string_field,
    string_field,
)
from jainam_prop.vocabulary import MONTHS

#: OpenAlgo's search answers at most 500 instruments.
SEARCH_LIMIT = 500
#: OpenAlgo's strike for instruments without one.
NO_STRIKE = -0.01


@api_view
def symbol(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    symbol_text = string_field(body, "symbol")
    exchange = exchange_field(body)
    charge_lookup(api_key)
    instrument = get_instrument(symbol_text, exchange, broker=settings.JAINAM_BROKER)
    return JsonResponse({"status": "success", "data": instrument_json(instrument)})


@api_view
def search(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    query = optional_string_field(body, "query")
    if query is None:
        raise BadRequest("query: is required and cannot be empty", field="query")
    exchange = optional_exchange_field(body)
    charge_lookup(api_key)
    found = search_symbols(
        query, exchange=exchange, broker=settings.JAINAM_BROKER, limit=SEARCH_LIMIT
    )
    return JsonResponse(
        {
            "status": "success",
            "message": search_message(
                total=found.total, shown=len(found.instruments), capped=found.capped
            ),
            "data": [instrument_json(instrument) for instrument in found.instruments],
        }
    )


def search_message(*, total: int, shown: int, capped: bool) -> str:
    """OpenAlgo's words, plus an honest count when there are more matches than shown."""
    if total == 0:
        return "No matching symbols found"
    if shown == total:
        return f"Found {total} matching symbols"
    more = f"more than {total}" if capped else str(total)
    return f"Found {more} matching symbols; showing the first {shown}: add terms to narrow it"


def instrument_json(instrument: Instrument) -> dict[str, Any]:
    """An instrument as OpenAlgo's symbol and search APIs answer it.

    ``token`` is a string, ``expiry`` DD-MMM-YY ("" without one), ``strike`` -0.01 without one.
    ``freeze_qty`` is OpenAlgo's: the largest quantity the exchange takes in one order, not
    counting lots (master FreezeQty minus one: NIFTY 1800); 0 when the master sets no limit.
    """
    expiry = instrument.expiry
    return {
        "symbol": instrument.symbol,
        "brsymbol": instrument.brsymbol,
        "name": instrument.name,
        "exchange": instrument.exchange,
        "brexchange": instrument.brexchange,
        "token": str(instrument.token),
        "expiry": f"{expiry.day:02d}-{MONTHS[expiry.month - 1]}-{expiry.year % 100:02d}"
        if expiry
        else "",
        "strike": float(instrument.strike) if instrument.strike is not None else NO_STRIKE,
        "lotsize": int(instrument.lot_size),
        "tick_size": float(instrument.tick_size),
        "freeze_qty": freeze_limit(instrument=instrument) or 0,
        "max_order_quantity": max_quantity(instrument=instrument),
        "instrumenttype": instrument.instrument_type,
    }
