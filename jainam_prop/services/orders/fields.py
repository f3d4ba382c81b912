"""OpenAlgo order fields: read and check what needs no instrument record.

Turns the JSON fields of an OpenAlgo order (``symbol``, ``quantity`` as "75" or 75, ...) into
an ``OpenAlgoOrder`` with upper-cased choices, integer quantities and decimal prices, or
raises ``OrderInvalid`` naming the field and the rule. The rules that need the master
(dead contract, lots, tick, freeze) live in ``pretrade``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from jainam_prop.errors import OrderInvalid
from jainam_prop.vocabulary import (
    EXCHANGE_BY_SEGMENT,
    FNO_EXCHANGES,
    INDEX_EXCHANGE_BY_SEGMENT,
)

ACTIONS: tuple[str, ...] = ("BUY", "SELL")
PRICETYPES: tuple[str, ...] = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS: tuple[str, ...] = ("CNC", "NRML", "MIS")
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
    pricetype = _choice(order, "pricetype", PRICETYPES, DEFAULT_PRICETYPE)
    product = _choice(order, "product", PRODUCTS, DEFAULT_PRODUCT)
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


def parse_split_size(order: Mapping[str, Any]) -> int:
    """The ``splitsize`` of an OpenAlgo split order: a positive whole number, required."""
    if order.get("splitsize") is None or order.get("splitsize") == "":
        raise OrderInvalid(field="splitsize", rule="is required")
    return _integer(order, "splitsize", minimum=1)


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
