"""Position-aware orders: placesmartorder, openposition, closeposition and basketorder.

Dealer net positions are matched by what the broker keys them on, (segment, token,
product), never by a trading symbol. Every order sent here passes the same field and
instrument rules as a placed order, carries its own ``orderUniqueIdentifier`` and goes
through ``reconcile.place`` (a lost answer is settled by the order book). ``closeposition``
squares off every open position with market orders, in slices when the quantity is at or
above the contract's freeze limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from django.conf import settings

from jainam_prop.errors import OrderInvalid, OutcomeUnknown, XTSRejected
from jainam_prop.services import dealer, reconcile
from jainam_prop.services.books import Position, positions, symbols_for
from jainam_prop.services.lookups import Instrument, get_instrument
from jainam_prop.services.orders import OpenAlgoOrder, max_quantity, parse_order, to_xts_order
from jainam_prop.services.orders.place import ReadyOrder, prepare_order
from jainam_prop.services.rate_limit import check_order_rate
from jainam_prop.vocabulary import SEGMENT_BY_EXCHANGE
from jainam_prop.xts.interactive import InteractiveClient

logger = logging.getLogger(__name__)

MAX_BASKET_ORDERS = 50
CLOSE_STRATEGY = "closeposition"


CheckedOrder = ReadyOrder  # an order that passed every pre-trade rule, ready to send


def check_order(fields: Mapping[str, Any]) -> CheckedOrder:
    """Field rules, the instrument lookup and every pre-trade rule; nothing is sent."""
    return prepare_order(parse_order(fields), broker=settings.JAINAM_BROKER)


def send_order(
    checked: CheckedOrder, *, client: InteractiveClient | None = None
) -> reconcile.WriteResult:
    """Send one checked order with a fresh identifier (reconciled when its answer is lost)."""
    xts_order = to_xts_order(
        checked.order,
        token=checked.instrument.token,
        client_id=checked.client_id,
        unique_id=reconcile.new_order_identifier(),
    )
    result = reconcile.place(xts_order, client=client)
    logger.info(
        "Placed order %s (%s): %s %d %s:%s for strategy %r",
        result.order_id,
        result.identifier,
        checked.order.action,
        checked.order.quantity,
        checked.order.exchange,
        checked.order.symbol,
        checked.order.strategy,
    )
    return result


# --- positions -------------------------------------------------------------------------------


def net_quantity(
    instrument: Instrument, product: str, *, client: InteractiveClient | None = None
) -> int:
    """The dealer net quantity of one (segment, token, product); 0 when there is none."""
    key = (SEGMENT_BY_EXCHANGE[instrument.exchange], int(instrument.token), product)
    rows = dealer.position_rows(client=client)
    return sum(position.quantity for position in positions(rows) if position.key == key)


def open_position_api(fields: Mapping[str, Any], *, client: InteractiveClient | None = None) -> int:
    """OpenAlgo openposition: the net quantity of symbol/exchange/product."""
    parsed = parse_order({**fields, "action": "BUY", "quantity": 1, "strategy": "openposition"})
    instrument = get_instrument(parsed.symbol, parsed.exchange, broker=settings.JAINAM_BROKER)
    return net_quantity(instrument, parsed.product, client=client)


@dataclass(frozen=True)
class SmartResult:
    result: reconcile.WriteResult | None  # None: the position already matched
    current: int
    target: int


def smart_order_api(
    fields: Mapping[str, Any],
    *,
    client: InteractiveClient | None = None,
    api_key_id: int | None = None,
) -> SmartResult:
    """OpenAlgo placesmartorder: trade the difference between position_size and the book.

    ``api_key_id``'s order budget is charged only when an order is about to be sent.
    """
    target = _signed_integer(fields.get("position_size"), field="position_size")
    checked = check_order(fields)
    current = net_quantity(checked.instrument, checked.order.product, client=client)
    if target == 0 and current == 0:
        _charge(api_key_id)
        return SmartResult(send_order(checked, client=client), current, target)
    delta = target - current
    if delta == 0:
        return SmartResult(None, current, target)
    order = _with(checked.order, action="BUY" if delta > 0 else "SELL", quantity=abs(delta))
    ready = prepare_order(order, broker=settings.JAINAM_BROKER)  # the rules, on what is sent
    _charge(api_key_id)
    return SmartResult(send_order(ready, client=client), current, target)


def _charge(api_key_id: int | None) -> None:
    if api_key_id is not None:
        check_order_rate(api_key_id=api_key_id)


def _with(order: OpenAlgoOrder, **changes: Any) -> OpenAlgoOrder:
    values = {name: getattr(order, name) for name in order.__dataclass_fields__}
    values.update(changes)
    if values["disclosed_quantity"] > values["quantity"]:
        values["disclosed_quantity"] = 0
    return OpenAlgoOrder(**values)


def _signed_integer(value: Any, *, field: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise OrderInvalid(field=field, rule="is required")
    text = ""
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value).strip()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10:
        raise OrderInvalid(field=field, rule=f"must be a whole number (got {str(value)[:40]!r})")
    return int(text)


# --- close all -------------------------------------------------------------------------------


class _Leg(TypedDict):
    """What a square-off leg is, whatever its outcome (the first fields of ``LegResult``)."""

    symbol: str | None
    exchange: str | None
    token: int
    product: str
    action: str
    quantity: int


@dataclass(frozen=True)
class LegResult:
    """One square-off order (a slice of one position)."""

    symbol: str | None
    exchange: str | None
    token: int
    product: str
    action: str
    quantity: int
    status: str  # "success", "error", "unknown"
    orderid: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def slices(quantity: int, *, largest: int | None) -> list[int]:
    """Split ``quantity`` into orders of at most ``largest`` (the contract's largest legal
    order, ``orders.max_quantity``; None: no limit); the last slice holds the rest."""
    if not largest or largest <= 0 or quantity <= largest:
        return [quantity]
    parts = [largest] * (quantity // largest)
    if quantity % largest:
        parts.append(quantity % largest)
    return parts


def close_positions_api(*, client: InteractiveClient | None = None) -> list[LegResult]:
    """Square off every open net position with market orders in the position's product."""
    client_id = dealer.dealer_client_id()
    rows = dealer.position_rows(client=client)
    open_positions = [position for position in positions(rows) if position.quantity]
    symbols = symbols_for([position.row for position in open_positions])
    legs: list[LegResult] = []
    for position in open_positions:
        instrument = symbols.instrument(position.row)
        largest = max_quantity(instrument=instrument) if instrument else None
        action = "SELL" if position.quantity > 0 else "BUY"
        for quantity in slices(abs(position.quantity), largest=largest):
            legs.append(_square_off(position, instrument, action, quantity, client_id, client))
    return legs


def _square_off(
    position: Position,
    instrument: Instrument | None,
    action: str,
    quantity: int,
    client_id: str,
    client: InteractiveClient | None,
) -> LegResult:
    xts_order = {
        "exchangeSegment": position.segment,
        "exchangeInstrumentID": position.token,
        "productType": position.product,
        "orderType": "MARKET",
        "orderSide": action,
        "timeInForce": "DAY",
        "disclosedQuantity": 0,
        "orderQuantity": quantity,
        "limitPrice": 0.0,
        "stopPrice": 0.0,
        "orderUniqueIdentifier": reconcile.new_order_identifier(),
        "clientID": client_id,
    }
    leg: _Leg = {
        "symbol": instrument.symbol if instrument else None,
        "exchange": instrument.exchange if instrument else None,
        "token": position.token,
        "product": position.product,
        "action": action,
        "quantity": quantity,
    }
    try:
        result = reconcile.place(xts_order, client=client)
    except OutcomeUnknown as exc:
        return LegResult(**leg, status="unknown", message=public_outcome(exc))
    except XTSRejected as exc:
        return LegResult(**leg, status="error", message=exc.description or "refused")
    if result.status == "rejected":
        return LegResult(**leg, status="error", orderid=result.order_id, message=result.reason)
    return LegResult(**leg, status="success", orderid=result.order_id)


def public_outcome(exc: OutcomeUnknown) -> str:
    """The caller's words for an unknown outcome (no broker host, the identifier named)."""
    return (
        f"outcome unknown: the order may be live; check the order book (unique_id {exc.identifier})"
    )


# --- basket ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasketLeg:
    symbol: str
    status: str  # "success", "error", "unknown"
    orderid: str | None = None
    message: str = ""
    unique_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"symbol": self.symbol, "status": self.status}
        if self.orderid:
            data["orderid"] = self.orderid
        if self.message:
            data["message"] = self.message
        if self.unique_id:
            data["unique_id"] = self.unique_id
        return data


def check_basket(orders: Any, *, strategy: Any) -> list[CheckedOrder]:
    """Every order of a basket checked before any is sent (errors name ``orders[i]``)."""
    if not isinstance(orders, list):
        raise OrderInvalid(field="orders", rule="must be a list of order objects")
    if not orders:
        raise OrderInvalid(field="orders", rule="must hold at least one order (got an empty list)")
    if len(orders) > MAX_BASKET_ORDERS:
        raise OrderInvalid(
            field="orders", rule=f"must hold at most {MAX_BASKET_ORDERS} orders (got {len(orders)})"
        )
    checked = []
    for index, order in enumerate(orders):
        where = f"orders[{index}]"
        if not isinstance(order, dict):
            raise OrderInvalid(field=where, rule="must be an order object")
        try:
            checked.append(check_order({"strategy": strategy, **order}))
        except OrderInvalid as exc:
            raise OrderInvalid(field=f"{where}.{exc.field}", rule=exc.rule) from None
    return checked


def basket_order_api(
    checked: Sequence[CheckedOrder], *, client: InteractiveClient | None = None
) -> list[BasketLeg]:
    """Send a checked basket, BUY orders before SELL orders (as OpenAlgo does)."""
    ordered = [c for c in checked if c.order.action == "BUY"] + [
        c for c in checked if c.order.action != "BUY"
    ]
    legs = []
    for item in ordered:
        try:
            result = send_order(item, client=client)
        except OutcomeUnknown as exc:
            legs.append(
                BasketLeg(
                    item.order.symbol,
                    "unknown",
                    message=public_outcome(exc),
                    unique_id=exc.identifier,
                )
            )
            continue
        except XTSRejected as exc:
            legs.append(BasketLeg(item.order.symbol, "error", message=exc.description or "refused"))
            continue
        if result.status == "rejected":
            legs.append(
                BasketLeg(
                    item.order.symbol,
                    "error",
                    orderid=result.order_id,
                    message=result.reason or "rejected",
                )
            )
        else:
            legs.append(
                BasketLeg(
                    item.order.symbol,
                    "success",
                    orderid=result.order_id,
                    unique_id=result.identifier,
                )
            )
    return legs
