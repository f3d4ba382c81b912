"""Order service: validate an OpenAlgo order, map it to an XTS order and place it.

The mapping rules (product, price type -> order type, prices per price type) live here and
nowhere else; the exchange rules (OpenAlgo exchange -> XTS segment, which exchanges are F&O)
come from the master parser. Every check runs before anything is sent to the broker, and each
failure names the field and the rule (``OrderInvalid``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from jainam_prop.errors import MissingSetting, OrderInvalid
from jainam_prop.master_parser import (
    EXCHANGE_BY_SEGMENT,
    FNO_EXCHANGES,
    INDEX_EXCHANGE_BY_SEGMENT,
    SEGMENT_BY_EXCHANGE,
)
from jainam_prop.services.lookups import Instrument, get_instrument
from jainam_prop.xts.interactive import InteractiveClient, interactive_client_from_settings

logger = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = ("BUY", "SELL")
# OpenAlgo pricetype -> XTS orderType.
ORDER_TYPE_BY_PRICETYPE: dict[str, str] = {
    "MARKET": "MARKET",
    "LIMIT": "LIMIT",
    "SL": "STOPLIMIT",
    "SL-M": "STOPMARKET",
}
# OpenAlgo product -> XTS productType (same names on XTS).
PRODUCT_TYPE_BY_PRODUCT: dict[str, str] = {"CNC": "CNC", "NRML": "NRML", "MIS": "MIS"}
TIME_IN_FORCE = "DAY"
PRICETYPES_WITH_PRICE = frozenset({"LIMIT", "SL"})
PRICETYPES_WITH_TRIGGER = frozenset({"SL", "SL-M"})
# Exchanges an order can be placed on: every exchange of the master except the index lists.
TRADABLE_EXCHANGES: tuple[str, ...] = tuple(EXCHANGE_BY_SEGMENT.values())
CASH_EXCHANGES: frozenset[str] = frozenset(TRADABLE_EXCHANGES) - FNO_EXCHANGES
INDEX_EXCHANGES: frozenset[str] = frozenset(INDEX_EXCHANGE_BY_SEGMENT.values())
DEFAULT_PRICETYPE = "MARKET"
DEFAULT_PRODUCT = "MIS"
MAX_QUANTITY = 1_000_000_000
MAX_PRICE = Decimal("1e9")
MAX_STRATEGY_LENGTH = 64
REQUIRED_FIELDS: tuple[str, ...] = ("symbol", "exchange", "action", "quantity", "strategy")


@dataclass(frozen=True)
class OpenAlgoOrder:
    """A validated OpenAlgo order (upper-cased enums, integer quantities, decimal prices)."""

    symbol: str
    exchange: str
    action: str
    quantity: int
    pricetype: str
    product: str
    price: Decimal
    trigger_price: Decimal
    disclosed_quantity: int
    strategy: str


def place_order_api(
    order: Mapping[str, Any],
    *,
    broker: str | None = None,
    client: InteractiveClient | None = None,
) -> str:
    """Validate ``order`` (OpenAlgo fields), place it on XTS and return the AppOrderID.

    Raises ``OrderInvalid`` (bad field), ``SymbolNotFound`` (unknown symbol),
    ``MissingSetting`` (interactive credentials or client id not configured) before anything
    is sent; ``XTSRejected`` / ``XTSUnavailable`` / ``XTSTimeout`` / ``XTSBadResponse`` when
    the broker refused the order or could not be reached.
    """
    parsed = parse_order(order)
    instrument = get_instrument(
        parsed.symbol, parsed.exchange, broker=broker or settings.JAINAM_BROKER
    )
    check_lot_size(parsed, instrument=instrument)
    if not settings.JAINAM_CLIENT_ID:
        raise MissingSetting("JAINAM_CLIENT_ID", "place orders for the Jainam dealer account")
    xts_order = to_xts_order(parsed, token=instrument.token, client_id=settings.JAINAM_CLIENT_ID)
    client = client or interactive_client_from_settings()
    app_order_id = client.place_order(xts_order)
    logger.info(
        "Placed order %s: %s %d %s:%s (token %d) %s %s for strategy %r",
        app_order_id,
        parsed.action,
        parsed.quantity,
        parsed.exchange,
        parsed.symbol,
        instrument.token,
        parsed.pricetype,
        parsed.product,
        parsed.strategy,
    )
    return str(app_order_id)


def to_xts_order(order: OpenAlgoOrder, *, token: int, client_id: str) -> dict[str, Any]:
    """The XTS ``POST /orders`` body of a validated order.

    Prices the price type does not use are sent as 0 (a MARKET order never carries a limit).
    """
    limit_price = order.price if order.pricetype in PRICETYPES_WITH_PRICE else Decimal(0)
    stop_price = order.trigger_price if order.pricetype in PRICETYPES_WITH_TRIGGER else Decimal(0)
    return {
        "exchangeSegment": SEGMENT_BY_EXCHANGE[order.exchange],
        "exchangeInstrumentID": int(token),
        "productType": PRODUCT_TYPE_BY_PRODUCT[order.product],
        "orderType": ORDER_TYPE_BY_PRICETYPE[order.pricetype],
        "orderSide": order.action,
        "timeInForce": TIME_IN_FORCE,
        "disclosedQuantity": order.disclosed_quantity,
        "orderQuantity": order.quantity,
        "limitPrice": float(limit_price),
        "stopPrice": float(stop_price),
        "orderUniqueIdentifier": order.strategy,
        "clientID": client_id,
    }


def check_lot_size(order: OpenAlgoOrder, *, instrument: Instrument) -> None:
    """F&O quantities are whole lots."""
    lot_size = int(instrument.lot_size or 0)
    if order.exchange in FNO_EXCHANGES and lot_size > 1 and order.quantity % lot_size:
        raise OrderInvalid(
            field="quantity",
            rule=(
                f"must be a multiple of the lot size {lot_size} of {order.symbol} on "
                f"{order.exchange} (got {order.quantity}; nearest: "
                f"{max(lot_size, order.quantity - order.quantity % lot_size)})"
            ),
        )


def parse_order(order: Mapping[str, Any]) -> OpenAlgoOrder:
    """Check every field of an OpenAlgo order that needs no lookup; raise ``OrderInvalid``."""
    if not isinstance(order, Mapping):
        raise OrderInvalid(field="body", rule="must be a JSON object of OpenAlgo order fields")
    for field in REQUIRED_FIELDS:
        value = order.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise OrderInvalid(field=field, rule="is required")

    symbol = _text(order, "symbol", max_length=64)
    exchange = _choice(order, "exchange", TRADABLE_EXCHANGES)
    action = _choice(order, "action", ACTIONS)
    pricetype = _choice(order, "pricetype", tuple(ORDER_TYPE_BY_PRICETYPE), DEFAULT_PRICETYPE)
    product = _choice(order, "product", tuple(PRODUCT_TYPE_BY_PRODUCT), DEFAULT_PRODUCT)
    quantity = _integer(order, "quantity", minimum=1)
    disclosed_quantity = _integer(order, "disclosed_quantity", minimum=0, default=0)
    price = _price(order, "price")
    trigger_price = _price(order, "trigger_price")
    strategy = _text(order, "strategy", max_length=MAX_STRATEGY_LENGTH)

    if product == "CNC" and exchange not in CASH_EXCHANGES:
        raise OrderInvalid(
            field="product",
            rule=f"CNC (delivery) is only for cash equity ({', '.join(sorted(CASH_EXCHANGES))}); "
            f"use NRML or MIS on {exchange}",
        )
    if pricetype in PRICETYPES_WITH_PRICE and price <= 0:
        raise OrderInvalid(field="price", rule=f"must be greater than 0 for a {pricetype} order")
    if pricetype in PRICETYPES_WITH_TRIGGER and trigger_price <= 0:
        raise OrderInvalid(
            field="trigger_price", rule=f"must be greater than 0 for a {pricetype} order"
        )
    if pricetype == "SL" and action == "BUY" and trigger_price > price:
        raise OrderInvalid(
            field="trigger_price",
            rule=f"must not exceed the price for a BUY SL order (trigger {trigger_price} > "
            f"price {price})",
        )
    if pricetype == "SL" and action == "SELL" and trigger_price < price:
        raise OrderInvalid(
            field="trigger_price",
            rule=f"must not be below the price for a SELL SL order (trigger {trigger_price} < "
            f"price {price})",
        )
    if disclosed_quantity > quantity:
        raise OrderInvalid(
            field="disclosed_quantity",
            rule=f"must not exceed quantity ({disclosed_quantity} > {quantity})",
        )
    return OpenAlgoOrder(
        symbol=symbol,
        exchange=exchange,
        action=action,
        quantity=quantity,
        pricetype=pricetype,
        product=product,
        price=price,
        trigger_price=trigger_price,
        disclosed_quantity=disclosed_quantity,
        strategy=strategy,
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(order: Mapping[str, Any], field: str, *, max_length: int) -> str:
    value = order.get(field)
    if not isinstance(value, str):
        raise OrderInvalid(field=field, rule=f"must be a string (got {type(value).__name__})")
    value = value.strip()
    if len(value) > max_length:
        raise OrderInvalid(field=field, rule=f"must be at most {max_length} characters")
    return value


def _choice(
    order: Mapping[str, Any], field: str, choices: tuple[str, ...], default: str | None = None
) -> str:
    value = order.get(field)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().upper() in choices:
        return value.strip().upper()
    hint = ""
    if field == "exchange" and isinstance(value, str) and value.strip().upper() in INDEX_EXCHANGES:
        hint = "; indices cannot be traded, use their futures or options on NFO/BFO"
    raise OrderInvalid(
        field=field, rule=f"must be one of {', '.join(choices)} (got {_shown(value)}){hint}"
    )


def _integer(
    order: Mapping[str, Any], field: str, *, minimum: int, default: int | None = None
) -> int:
    """A whole number; OpenAlgo clients often send numbers as strings ("75")."""
    value = order.get(field)
    if value is None and default is not None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    kind = "a positive integer" if minimum > 0 else "a non-negative integer"
    if number is None or number < minimum:
        raise OrderInvalid(field=field, rule=f"must be {kind} (got {_shown(value)})")
    if number > MAX_QUANTITY:
        raise OrderInvalid(field=field, rule=f"must be at most {MAX_QUANTITY:,} (got {number})")
    return number


def _price(order: Mapping[str, Any], field: str) -> Decimal:
    """A non-negative price (number or numeric string); absent means 0."""
    value = order.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    price: Decimal | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            price = Decimal(str(value).strip())
        except InvalidOperation:
            price = None
    if price is None or not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise OrderInvalid(
            field=field, rule=f"must be a number from 0 to {MAX_PRICE:,.0f} (got {_shown(value)})"
        )
    return price
