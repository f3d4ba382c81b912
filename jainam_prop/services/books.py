"""Dealer books in OpenAlgo's shape: orders, trades, positions, holdings and funds.

XTS rows name instruments by (segment, token); OpenAlgo callers want symbols. Each book
maps all its tokens with ONE batch lookup (``get_instruments_by_tokens``), never one lookup
per row. A row whose token is not in our instruments is still returned, with ``symbol``
null and ``symbol_known`` false: a book never drops an order or a position.

The mapping of XTS field values (order types, statuses, timestamps) lives here and nowhere
else; ``openalgo_status`` and ``openalgo_pricetype`` are shared with the order actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from jainam_prop.services.lookups import Instrument, get_instruments_by_tokens
from jainam_prop.vocabulary import EXCHANGE_BY_SEGMENT

# XTS order-book OrderType (mixed case in books) -> OpenAlgo pricetype.
PRICETYPE_BY_ORDER_TYPE: dict[str, str] = {
    "market": "MARKET",
    "limit": "LIMIT",
    "stoplimit": "SL",
    "stopmarket": "SL-M",
}
# XTS OrderStatus (case and separators ignored) -> OpenAlgo order_status.
STATUS_BY_ORDER_STATUS: dict[str, str] = {
    "filled": "complete",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "rejected": "rejected",
    "new": "open",
    "open": "open",
    "partiallyfilled": "open",
    "replaced": "open",
    "pendingnew": "open",
    "pendingreplace": "open",
    "pendingcancel": "open",
    "triggerpending": "trigger pending",
}
# States in which an order can still be modified or cancelled.
WORKING_STATUSES = frozenset({"open", "trigger pending"})
_TIMESTAMP_FORMATS = (
    "%d-%m-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
)


@dataclass(frozen=True)
class Symbols:
    """OpenAlgo names of the (segment, token) pairs of one book, looked up in one batch."""

    found: dict[tuple[int, str], Instrument]

    def instrument(self, row: dict[str, Any]) -> Instrument | None:
        key = instrument_key(row)
        return self.found.get(key) if key else None

    def fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """``symbol``, ``exchange``, ``token``, ``brsymbol`` and ``symbol_known`` of a row."""
        key = instrument_key(row)
        instrument = self.found.get(key) if key else None
        return {
            "symbol": instrument.symbol if instrument else None,
            "exchange": key[1] if key else None,
            "token": str(key[0]) if key else str(_token_field(row) or ""),
            "brsymbol": str(row.get("TradingSymbol") or ""),
            "symbol_known": instrument is not None,
        }


def symbols_for(rows: Iterable[dict[str, Any]]) -> Symbols:
    """One batch lookup for every instrument the rows name."""
    pairs = {key for row in rows if (key := instrument_key(row))}
    if not pairs:
        return Symbols(found={})
    return Symbols(found=get_instruments_by_tokens(pairs, broker=settings.JAINAM_BROKER))


def instrument_key(row: dict[str, Any]) -> tuple[int, str] | None:
    """(token, OpenAlgo exchange) of an XTS row, or None when the row does not say."""
    exchange = EXCHANGE_BY_SEGMENT.get(str(row.get("ExchangeSegment") or "").strip().upper())
    token = _token_field(row)
    if exchange is None or token is None:
        return None
    return token, exchange


def _token_field(row: dict[str, Any]) -> int | None:
    # Order and trade rows say ExchangeInstrumentID; position rows ExchangeInstrumentId.
    value = row.get("ExchangeInstrumentID", row.get("ExchangeInstrumentId"))
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def openalgo_status(row: dict[str, Any]) -> str:
    """OpenAlgo order_status of an order-book row (unknown XTS states are lower-cased)."""
    raw = str(row.get("OrderStatus") or "")
    key = raw.replace(" ", "").replace("_", "").replace("-", "").lower()
    return STATUS_BY_ORDER_STATUS.get(key, raw.lower() or "unknown")


def openalgo_pricetype(row: dict[str, Any]) -> str:
    raw = str(row.get("OrderType") or "")
    return PRICETYPE_BY_ORDER_TYPE.get(raw.replace("-", "").replace(" ", "").lower(), raw.upper())


def order_json(row: dict[str, Any], symbols: Symbols) -> dict[str, Any]:
    """One order-book row in OpenAlgo's orderbook/orderstatus shape (plus token fields)."""
    return {
        "action": str(row.get("OrderSide") or "").upper(),
        **symbols.fields(row),
        "orderid": str(row.get("AppOrderID", "")),
        "product": str(row.get("ProductType") or ""),
        "quantity": str(_int(row.get("OrderQuantity"))),
        "filled_quantity": str(_int(row.get("CumulativeQuantity"))),
        "price": _float(row.get("OrderPrice")),
        "pricetype": openalgo_pricetype(row),
        "order_status": openalgo_status(row),
        "trigger_price": _float(row.get("OrderStopPrice")),
        "average_price": _float(row.get("OrderAverageTradedPrice")),
        "timestamp": _timestamp(row.get("OrderGeneratedDateTime") or row.get("LastUpdateDateTime")),
        "unique_id": str(row.get("OrderUniqueIdentifier") or ""),
        "reason": str(row.get("CancelRejectReason") or ""),
    }


def order_book(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAlgo orderbook ``data``: the orders and their statistics."""
    symbols = symbols_for(rows)
    orders = [order_json(row, symbols) for row in rows]
    return {
        "orders": orders,
        "statistics": {
            "total_buy_orders": float(sum(o["action"] == "BUY" for o in orders)),
            "total_sell_orders": float(sum(o["action"] == "SELL" for o in orders)),
            "total_completed_orders": float(sum(o["order_status"] == "complete" for o in orders)),
            "total_open_orders": float(sum(o["order_status"] in WORKING_STATUSES for o in orders)),
            "total_rejected_orders": float(sum(o["order_status"] == "rejected" for o in orders)),
        },
    }


def trade_book(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAlgo tradebook ``data``: one entry per fill."""
    symbols = symbols_for(rows)
    trades = []
    for row in rows:
        quantity = _int(row.get("LastTradedQuantity", row.get("OrderQuantity")))
        price = _decimal(row.get("LastTradedPrice", row.get("OrderAverageTradedPrice")))
        trades.append(
            {
                "action": str(row.get("OrderSide") or "").upper(),
                **symbols.fields(row),
                "orderid": str(row.get("AppOrderID", "")),
                "product": str(row.get("ProductType") or ""),
                "quantity": float(quantity),
                "average_price": float(price),
                "timestamp": _time_of_day(
                    row.get("ExchangeTransactTime") or row.get("LastUpdateDateTime")
                ),
                "trade_value": float(price * quantity),
            }
        )
    return trades


@dataclass(frozen=True)
class Position:
    """One dealer net position, keyed as the broker keys it: (segment, token, product)."""

    segment: str
    token: int
    product: str
    quantity: int
    row: dict[str, Any]

    @property
    def key(self) -> tuple[str, int, str]:
        return self.segment, self.token, self.product


def positions(rows: list[dict[str, Any]]) -> list[Position]:
    """Position rows with a readable key (rows without segment or token are refused)."""
    found = []
    for row in rows:
        token = _token_field(row)
        segment = str(row.get("ExchangeSegment") or "").strip().upper()
        if token is None or not segment:
            continue
        found.append(
            Position(
                segment=segment,
                token=token,
                product=str(row.get("ProductType") or "").strip().upper(),
                quantity=_int(row.get("Quantity")),
                row=row,
            )
        )
    return found


def position_book(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAlgo positionbook ``data`` (strings, as OpenAlgo answers them)."""
    symbols = symbols_for(rows)
    book = []
    for row in rows:
        quantity = _int(row.get("Quantity"))
        buy, sell = _decimal(row.get("BuyAveragePrice")), _decimal(row.get("SellAveragePrice"))
        average = buy if quantity > 0 else sell if quantity < 0 else Decimal(0)
        unrealized = _decimal(row.get("UnrealizedMTM"))
        pnl = (
            _decimal(row.get("MTM"))
            if "MTM" in row
            else (_decimal(row.get("RealizedMTM")) + unrealized)
        )
        # The dealer book carries no last price; with a non-zero quantity it follows from
        # the unrealised MTM: (ltp - average) * quantity.
        ltp = average + unrealized / quantity if quantity and "UnrealizedMTM" in row else None
        book.append(
            {
                **symbols.fields(row),
                "product": str(row.get("ProductType") or ""),
                "quantity": str(quantity),
                "average_price": f"{average:.2f}",
                "ltp": f"{ltp:.2f}" if ltp is not None else "0.00",
                "pnl": f"{pnl:.2f}",
            }
        )
    return book


def funds(result: Any) -> dict[str, str]:
    """OpenAlgo funds ``data`` from the XTS balance (``BalanceList[0].limitObject``)."""
    limits: dict[str, Any] = {}
    if isinstance(result, dict):
        balances = result.get("BalanceList") or []
        first = balances[0] if balances and isinstance(balances[0], dict) else {}
        limit_object = first.get("limitObject") or {}
        limits = limit_object.get("RMSSubLimits") or {}
    return {
        "availablecash": f"{_decimal(limits.get('netMarginAvailable')):.2f}",
        "collateral": f"{_decimal(limits.get('collateral')):.2f}",
        "m2mrealized": f"{_decimal(limits.get('RealizedMTM')):.2f}",
        "m2munrealized": f"{_decimal(limits.get('UnrealizedMTM')):.2f}",
        "utiliseddebits": f"{_decimal(limits.get('marginUtilized')):.2f}",
    }


def holdings(result: Any) -> dict[str, Any]:
    """OpenAlgo holdings ``data`` from XTS ``RMSHoldings.Holdings`` (keyed by ISIN).

    The dealer holdings carry no market price, so value and P&L are at cost (pnl 0).
    """
    entries: list[dict[str, Any]] = []
    if isinstance(result, dict):
        by_isin = (result.get("RMSHoldings") or {}).get("Holdings") or {}
        if isinstance(by_isin, dict):
            entries = [entry for entry in by_isin.values() if isinstance(entry, dict)]
    rows = [
        {
            "ExchangeSegment": "NSECM" if entry.get("ExchangeNSEInstrumentId") else "BSECM",
            "ExchangeInstrumentID": entry.get("ExchangeNSEInstrumentId")
            or entry.get("ExchangeBSEInstrumentId"),
            **entry,
        }
        for entry in entries
    ]
    symbols = symbols_for(rows)
    items = []
    invested = Decimal(0)
    for row in rows:
        quantity = _int(row.get("HoldingQuantity"))
        cost = _decimal(row.get("BuyAvgPrice")) * quantity
        invested += cost
        items.append(
            {
                **symbols.fields(row),
                "product": "CNC",
                "quantity": quantity,
                "isin": str(row.get("ISIN") or ""),
                "pnl": 0.0,
                "pnlpercent": 0.0,
            }
        )
    return {
        "holdings": items,
        "statistics": {
            "totalholdingvalue": float(invested),
            "totalinvvalue": float(invested),
            "totalprofitandloss": 0.0,
            "totalpnlpercentage": 0.0,
        },
    }


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _float(value: Any) -> float:
    return float(_decimal(value))


def _int(value: Any) -> int:
    return int(_decimal(value))


def _parse_timestamp(value: Any) -> datetime | None:
    text = str(value or "").strip()
    for pattern in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _timestamp(value: Any) -> str:
    """OpenAlgo's ``DD-Mon-YYYY HH:MM:SS`` (IST, as the broker stamps it)."""
    moment = _parse_timestamp(value)
    return moment.strftime("%d-%b-%Y %H:%M:%S") if moment else str(value or "")


def _time_of_day(value: Any) -> str:
    moment = _parse_timestamp(value)
    return moment.strftime("%H:%M:%S") if moment else str(value or "")
