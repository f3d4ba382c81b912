"""Actions on existing orders: status, modify, cancel, cancel all (OpenAlgo semantics).

Each action first reads the dealer order book: an unknown id (or another client's order,
which the dealer book of our client does not show) is ``OrderNotFound``, an order in a
final state is ``OrderStateConflict``, and in both cases nothing is sent to the broker.
Modifications pass the same field rules as new orders before they are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from jainam_prop.errors import (
    OrderInvalid,
    OrderNotFound,
    OrderStateConflict,
    OutcomeUnknown,
    XTSRejected,
)
from jainam_prop.services import dealer, reconcile
from jainam_prop.services.books import (
    WORKING_STATUSES,
    instrument_key,
    openalgo_status,
    order_json,
    symbols_for,
)
from jainam_prop.services.orders import ORDER_TYPE_BY_PRICETYPE, parse_order
from jainam_prop.services.orders.fields import PRICETYPES_WITH_PRICE, PRICETYPES_WITH_TRIGGER
from jainam_prop.services.orders.place import TIME_IN_FORCE, prepare_order
from jainam_prop.services.rate_limit import check_order_rate
from jainam_prop.xts.interactive import InteractiveClient

logger = logging.getLogger(__name__)

MAX_ORDER_ID_LENGTH = 32


def order_id_field(value: Any) -> str:
    """An AppOrderID as sent by a caller (digits, as a string or a number)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise OrderInvalid(field="orderid", rule="is required")
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ORDER_ID_LENGTH:
        raise OrderInvalid(
            field="orderid", rule=f"must be a broker order id of digits (got {str(value)[:40]!r})"
        )
    return text


def order_status_api(order_id: str, *, client: InteractiveClient | None = None) -> dict[str, Any]:
    """OpenAlgo orderstatus ``data`` of one order of today's book."""
    row = _working_row(order_id, client=client, action=None)
    return order_json(row, symbols_for([row]))


def modify_order_api(
    order: Mapping[str, Any],
    *,
    client: InteractiveClient | None = None,
    api_key_id: int | None = None,
) -> reconcile.WriteResult:
    """Modify one working order with OpenAlgo's modifyorder fields; see the module doc.

    ``api_key_id``'s order budget is charged once every check passed, right before sending.
    """
    order_id = order_id_field(order.get("orderid"))
    fields = {name: value for name, value in order.items() if name != "orderid"}
    fields.setdefault("strategy", "modify")
    for required in ("pricetype", "product", "price"):
        if fields.get(required) in (None, ""):
            raise OrderInvalid(field=required, rule="is required")
    parsed = parse_order(fields)
    # Every pre-trade rule of a new order (live contract, lots, freeze limit, tick).
    instrument = prepare_order(parsed, broker=settings.JAINAM_BROKER).instrument
    row = _working_row(order_id, client=client, action="modified")
    if instrument_key(row) != (instrument.token, instrument.exchange):
        raise OrderInvalid(
            field="symbol",
            rule=f"order {order_id} is for token {row.get('ExchangeInstrumentID')} on "
            f"{row.get('ExchangeSegment')}, not {parsed.exchange}:{parsed.symbol}; a modify "
            "cannot change the instrument",
        )
    if str(row.get("OrderSide", "")).upper() != parsed.action:
        raise OrderInvalid(
            field="action",
            rule=f"order {order_id} is a {row.get('OrderSide')}; cancel and place "
            "a new order to change the side",
        )
    if str(row.get("ProductType", "")).upper() != parsed.product:
        raise OrderInvalid(
            field="product",
            rule=f"order {order_id} is {row.get('ProductType')}; a modify cannot change "
            "the product",
        )
    limit = parsed.price if parsed.pricetype in PRICETYPES_WITH_PRICE else 0
    stop = parsed.trigger_price if parsed.pricetype in PRICETYPES_WITH_TRIGGER else 0
    xts_modify = {
        "appOrderID": int(order_id),
        "modifiedProductType": parsed.product,
        "modifiedOrderType": ORDER_TYPE_BY_PRICETYPE[parsed.pricetype],
        "modifiedOrderQuantity": parsed.quantity,
        "modifiedDisclosedQuantity": parsed.disclosed_quantity,
        "modifiedLimitPrice": float(limit),
        "modifiedStopPrice": float(stop),
        "modifiedTimeInForce": TIME_IN_FORCE,
        "orderUniqueIdentifier": reconcile.new_order_identifier(),
        "clientID": dealer.dealer_client_id(),
    }
    if api_key_id is not None:
        check_order_rate(api_key_id=api_key_id)
    result = reconcile.modify(xts_modify, client=client)
    logger.info("Modified order %s (%s)", order_id, xts_modify["orderUniqueIdentifier"])
    return result


def cancel_order_api(
    order_id: str, *, client: InteractiveClient | None = None, api_key_id: int | None = None
) -> reconcile.WriteResult:
    """Cancel one working order of today's book (the key's budget charged before sending)."""
    order_id = order_id_field(order_id)
    _working_row(order_id, client=client, action="cancelled")
    if api_key_id is not None:
        check_order_rate(api_key_id=api_key_id)
    result = reconcile.cancel(order_id=order_id, client_id=dealer.dealer_client_id(), client=client)
    logger.info("Cancelled order %s", order_id)
    return result


@dataclass
class CancelAllReport:
    cancelled: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    unknown: list[dict[str, str]] = field(default_factory=list)


def cancel_all_orders_api(*, client: InteractiveClient | None = None) -> CancelAllReport:
    """Cancel every working order of today's book, one cancel per order.

    A cancel whose answer was lost and whose effect the book does not show is reported in
    ``unknown``; a cancel the broker refused in ``failed`` with its reason.
    """
    client_id = dealer.dealer_client_id()
    rows = dealer.order_rows(client=client)
    report = CancelAllReport()
    for row in rows:
        if openalgo_status(row) not in WORKING_STATUSES:
            continue
        order_id = str(row.get("AppOrderID", ""))
        try:
            reconcile.cancel(order_id=order_id, client_id=client_id, client=client)
            report.cancelled.append(order_id)
        except OutcomeUnknown as exc:
            report.unknown.append({"orderid": order_id, "reason": _public_outcome(exc)})
        except XTSRejected as exc:
            report.failed.append({"orderid": order_id, "reason": exc.description or "refused"})
    logger.info(
        "Cancel all: %d cancelled, %d refused, %d unknown",
        len(report.cancelled),
        len(report.failed),
        len(report.unknown),
    )
    return report


def _public_outcome(exc: OutcomeUnknown) -> str:
    return "outcome unknown: the cancel may have reached the exchange; check the order book"


def _working_row(
    order_id: str, *, client: InteractiveClient | None, action: str | None
) -> dict[str, Any]:
    """The order's book row; for an ``action``, it must still be working."""
    row = dealer.find_order_row(dealer.order_rows(client=client), order_id)
    if row is None:
        raise OrderNotFound(order_id=order_id, client_id=dealer.dealer_client_id())
    status = openalgo_status(row)
    if action is not None and status not in WORKING_STATUSES:
        state = {"complete": "filled (complete)"}.get(status, status)
        raise OrderStateConflict(order_id=order_id, action=action, state=state)
    return row
