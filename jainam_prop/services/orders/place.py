"""Place one OpenAlgo order on XTS: check it whole, then send it once.

The OpenAlgo -> XTS mapping (product, price type -> order type, prices per price type) lives
here and nowhere else. Order of work: fields, instrument, pre-trade rules, configuration,
the key's order budget, then one POST. Anything refused before the POST sends nothing; a POST
whose answer is lost is looked up in the order book by its identifier (``reconcile.place``):
found, its AppOrderID is the answer; not found, ``OrderOutcomeUnknown`` (never retried, never
called failed).

Every order carries its own ``orderUniqueIdentifier`` (``new_unique_id``): ``jp`` and 14 hex
digits (16 characters; XTS's length limit is unconfirmed, so it stays short). The OpenAlgo
``strategy`` is logged next to it, not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings

from jainam_prop.errors import MissingSetting, OrderOutcomeUnknown, XTSRejected
from jainam_prop.services import reconcile
from jainam_prop.services.lookups import Instrument, get_instrument
from jainam_prop.services.orders.fields import (
    PRICETYPES_WITH_PRICE,
    PRICETYPES_WITH_TRIGGER,
    OpenAlgoOrder,
    parse_order,
)
from jainam_prop.services.orders.pretrade import check_order
from jainam_prop.services.rate_limit import check_order_rate
from jainam_prop.vocabulary import SEGMENT_BY_EXCHANGE, today_ist
from jainam_prop.xts.interactive import InteractiveClient, interactive_client_from_settings

logger = logging.getLogger(__name__)

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
UNIQUE_ID_LENGTH = reconcile.IDENTIFIER_LENGTH


@dataclass(frozen=True)
class ReadyOrder:
    """An order that passed every check: what is sent, and what it is for."""

    order: OpenAlgoOrder
    instrument: Instrument
    client_id: str


def place_order_api(
    order: Mapping[str, Any],
    *,
    broker: str | None = None,
    client: InteractiveClient | None = None,
    api_key_id: int | None = None,
    today: date | None = None,
) -> str:
    """Check ``order`` (OpenAlgo fields), place it on XTS and return the AppOrderID.

    Raises, before anything is sent: ``OrderInvalid`` and its kinds (a field or a pre-trade
    rule), ``SymbolNotFound``, ``MissingSetting``, ``RateLimited`` (``api_key_id``'s order
    budget; only an order that passed every check is counted). After sending:
    ``XTSRejected`` / ``XTSUnavailable`` / ``XTSBadResponse``, or ``OrderOutcomeUnknown``
    when the answer was lost.
    """
    ready = prepare_order(parse_order(order), broker=broker, today=today)
    client = client or interactive_client_from_settings()
    if api_key_id is not None:
        check_order_rate(api_key_id=api_key_id)
    return send_order(ready, client=client)


def prepare_order(
    order: OpenAlgoOrder, *, broker: str | None = None, today: date | None = None
) -> ReadyOrder:
    """Look the instrument up and run every pre-trade rule; nothing is sent."""
    today = today or today_ist()
    instrument = get_instrument(
        order.symbol, order.exchange, broker=broker or settings.JAINAM_BROKER
    )
    check_order(
        instrument=instrument,
        quantity=order.quantity,
        pricetype=order.pricetype,
        price=order.price,
        trigger_price=order.trigger_price,
        today=today,
    )
    return ReadyOrder(order=order, instrument=instrument, client_id=dealer_client_id())


def dealer_client_id() -> str:
    if not settings.JAINAM_CLIENT_ID:
        raise MissingSetting("JAINAM_CLIENT_ID", "place orders for the Jainam dealer account")
    return settings.JAINAM_CLIENT_ID


def send_order(
    ready: ReadyOrder, *, client: InteractiveClient, unique_id: str | None = None
) -> str:
    """POST one checked order; the AppOrderID as a string."""
    order, instrument = ready.order, ready.instrument
    unique_id = unique_id or new_unique_id()
    xts_order = to_xts_order(
        order, token=instrument.token, client_id=ready.client_id, unique_id=unique_id
    )
    try:
        result = reconcile.place(xts_order, client=client)
    except OrderOutcomeUnknown as exc:
        logger.error(
            "Order outcome unknown (%s): %s %d %s:%s uid %s for strategy %r; check the order "
            "book before placing it again",
            exc,
            order.action,
            order.quantity,
            order.exchange,
            order.symbol,
            unique_id,
            order.strategy,
        )
        raise
    if result.status == "rejected":
        reason = result.reason or "rejected (no reason in the order book)"
        raise XTSRejected(
            f"XTS rejected order {result.order_id} (read from the order book after its answer "
            f"was lost): {reason}",
            description=reason,
        )
    app_order_id = result.order_id
    logger.info(
        "Placed order %s uid %s: %s %d %s:%s (token %d) %s %s for strategy %r",
        app_order_id,
        unique_id,
        order.action,
        order.quantity,
        order.exchange,
        order.symbol,
        instrument.token,
        order.pricetype,
        order.product,
        order.strategy,
    )
    return str(app_order_id)


def new_unique_id() -> str:
    """A fresh ``orderUniqueIdentifier`` (``reconcile.new_order_identifier``)."""
    return reconcile.new_order_identifier()


def to_xts_order(
    order: OpenAlgoOrder, *, token: int, client_id: str, unique_id: str
) -> dict[str, Any]:
    """The XTS ``POST /orders`` body of a checked order.

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
        "orderUniqueIdentifier": unique_id,
        "clientID": client_id,
    }
