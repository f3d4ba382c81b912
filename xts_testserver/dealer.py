"""Interactive endpoints for dealer (prop) accounts: the session and the order writes (place,
modify, cancel, cancel-all), and the table of every interactive endpoint.

Each endpoint passes ``checks.guarded`` (session token), checks the ``clientID`` and the fields
the way XTS refuses them (HTTP 400 with an XTS error body), and only then touches the order
state. Books and positions are in ``reads.py``, convert and square-offs in ``portfolio.py``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from xts_testserver import portfolio, reads, wire
from xts_testserver.checks import (
    ORDER_SIDES,
    ORDER_TYPES,
    PRODUCT_TYPES,
    TIMES_IN_FORCE,
    Endpoint,
    body_of,
    client_of,
    done,
    guarded,
    instrument_of,
    is_int,
    missing,
    one_of,
    order_ack,
    order_id_of,
    price,
)
from xts_testserver.market import SEGMENT_CODES, check_keys
from xts_testserver.recording import RecordedRequest
from xts_testserver.wire import Refused

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer

ORDER_REQUIRED_FIELDS = (
    "exchangeSegment",
    "exchangeInstrumentID",
    "productType",
    "orderType",
    "orderSide",
    "timeInForce",
    "disclosedQuantity",
    "orderQuantity",
    "limitPrice",
    "stopPrice",
    "orderUniqueIdentifier",
)
MODIFY_REQUIRED_FIELDS = (
    "appOrderID",
    "modifiedProductType",
    "modifiedOrderType",
    "modifiedOrderQuantity",
    "modifiedDisclosedQuantity",
    "modifiedLimitPrice",
    "modifiedStopPrice",
    "modifiedTimeInForce",
)
LOT_CHECKED_SEGMENTS = ("NSEFO", "BSEFO")


# ---------------------------------------------------------------------- session


def session(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    refused = check_keys(request, server.interactive_credentials)
    if refused:
        return refused
    token = secrets.token_urlsafe(32)
    server.sessions.add_interactive(token)
    clients = sorted(server.clients) if server.clients is not None else [server.user_id]
    return wire.json_response(
        200,
        wire.success(
            "s-user-0001",
            "Logged in successfully",
            {
                "token": token,
                "userID": server.user_id,
                "isInvestorClient": False,
                "clientCodes": clients,
            },
        ),
    )


def logout(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    if not server.sessions.revoke(request.authorization):
        return wire.json_response(401, wire.INVALID_TOKEN)
    return wire.json_response(
        200, {"type": "success", "code": "s-user-0004", "description": "Logged out"}
    )


# ---------------------------------------------------------------------- order writes


def order_problem(server: XTSTestServer, body: dict[str, Any] | None) -> str | None:
    """Why the broker would refuse this order JSON, or None."""
    if body is None:
        return "The order must be a JSON object"
    required = ORDER_REQUIRED_FIELDS + (("clientID",) if server.require_client_id else ())
    absent = [name for name in required if body.get(name) in (None, "")]
    if absent:
        hint = " (clientID is required for dealer accounts)" if "clientID" in absent else ""
        return f"Missing required field(s): {', '.join(absent)}{hint}"
    segment = body["exchangeSegment"]
    if segment not in SEGMENT_CODES:
        return f"Invalid exchangeSegment {segment!r}; valid: {', '.join(SEGMENT_CODES)}"
    token = body["exchangeInstrumentID"]
    if not is_int(token):
        return f"exchangeInstrumentID must be an integer, got {token!r}"
    for name, allowed in (
        ("productType", PRODUCT_TYPES),
        ("orderType", ORDER_TYPES),
        ("orderSide", ORDER_SIDES),
        ("timeInForce", TIMES_IN_FORCE),
    ):
        if body[name] not in allowed:
            return f"Invalid {name} {body[name]!r}; valid: {', '.join(allowed)}"
    return quantity_problem(
        server,
        segment=segment,
        token=token,
        order_type=body["orderType"],
        names=("orderQuantity", "disclosedQuantity", "limitPrice", "stopPrice"),
        values=(
            body["orderQuantity"],
            body["disclosedQuantity"],
            body["limitPrice"],
            body["stopPrice"],
        ),
    )


def quantity_problem(
    server: XTSTestServer,
    *,
    segment: str,
    token: int,
    order_type: str,
    names: tuple[str, str, str, str],
    values: tuple[Any, Any, Any, Any],
) -> str | None:
    """Quantity, disclosed quantity, limit and stop price checks shared by place and modify."""
    quantity_name, disclosed_name, limit_name, stop_name = names
    quantity, disclosed, limit, stop = values
    if not is_int(quantity) or quantity <= 0:
        return f"{quantity_name} must be a positive integer, got {quantity!r}"
    if not is_int(disclosed) or not 0 <= disclosed <= quantity:
        return f"{disclosed_name} must be an integer from 0 to {quantity_name}, got {disclosed!r}"
    for name, value in ((limit_name, limit), (stop_name, stop)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            return f"{name} must be a number >= 0, got {value!r}"
    if order_type in ("LIMIT", "STOPLIMIT") and limit <= 0:
        return f"{limit_name} must be > 0 for a {order_type} order"
    if order_type in ("STOPLIMIT", "STOPMARKET") and stop <= 0:
        return f"{stop_name} must be > 0 for a {order_type} order"
    if server.validate_instruments:
        instrument = server.instrument(segment, token)
        if instrument is None:
            return f"Instrument {token} not found in {segment}"
        lot_size = instrument.lot_size
        if segment in LOT_CHECKED_SEGMENTS and lot_size > 1 and quantity % lot_size:
            return (
                f"{quantity_name} {quantity} is not a multiple of the lot size {lot_size} "
                f"of instrument {token}"
            )
    return None


def place(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = request.body if isinstance(request.body, dict) else None
    problem = order_problem(server, body)
    if problem:
        raise Refused("e-orders-0005", problem)
    assert body is not None
    client_id = client_of(server, body.get("clientID"))
    order = server.orders.place(
        client_id=client_id,
        segment=body["exchangeSegment"],
        token=body["exchangeInstrumentID"],
        side=body["orderSide"],
        order_type=body["orderType"],
        product=body["productType"],
        time_in_force=body["timeInForce"],
        quantity=body["orderQuantity"],
        disclosed=body["disclosedQuantity"],
        limit_price=price(body["limitPrice"]),
        stop_price=price(body["stopPrice"]),
        unique_id=str(body["orderUniqueIdentifier"]),
    )
    server.record_placed(body, order.app_order_id)
    return done("s-orders-0001", order_ack(order.app_order_id, order.unique_id, client_id))


def modify(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = body_of(request)
    client_id = client_of(server, body.get("clientID"))
    missing(body, MODIFY_REQUIRED_FIELDS)
    app_order_id = order_id_of(body["appOrderID"])
    order = server.orders.order(app_order_id, client_id=client_id)
    product = one_of("modifiedProductType", body["modifiedProductType"], PRODUCT_TYPES)
    order_type = one_of("modifiedOrderType", body["modifiedOrderType"], ORDER_TYPES)
    time_in_force = one_of("modifiedTimeInForce", body["modifiedTimeInForce"], TIMES_IN_FORCE)
    problem = quantity_problem(
        server,
        segment=order.segment,
        token=order.token,
        order_type=order_type,
        names=(
            "modifiedOrderQuantity",
            "modifiedDisclosedQuantity",
            "modifiedLimitPrice",
            "modifiedStopPrice",
        ),
        values=(
            body["modifiedOrderQuantity"],
            body["modifiedDisclosedQuantity"],
            body["modifiedLimitPrice"],
            body["modifiedStopPrice"],
        ),
    )
    if problem:
        raise Refused("e-orders-0005", problem)
    order = server.orders.modify(
        client_id=client_id,
        app_order_id=app_order_id,
        product=product,
        order_type=order_type,
        quantity=body["modifiedOrderQuantity"],
        disclosed=body["modifiedDisclosedQuantity"],
        limit_price=price(body["modifiedLimitPrice"]),
        stop_price=price(body["modifiedStopPrice"]),
        time_in_force=time_in_force,
        unique_id=str(body.get("orderUniqueIdentifier") or ""),
    )
    return done("s-orders-0002", order_ack(order.app_order_id, order.unique_id, client_id))


def cancel(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    raw = request.query.get("appOrderID")
    if raw in (None, ""):
        raise Refused("e-orders-0005", "Missing required field(s): appOrderID")
    order = server.orders.cancel(client_id=client_id, app_order_id=order_id_of(raw))
    return done("s-orders-0003", order_ack(order.app_order_id, order.unique_id, client_id))


def cancel_all(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = body_of(request)
    client_id = client_of(server, body.get("clientID"))
    missing(body, ("exchangeSegment", "exchangeInstrumentID"))
    segment, token = instrument_of(body)
    cancelled = server.orders.cancel_all(client_id=client_id, segment=segment, token=token)
    return done(
        "s-orders-0004",
        {"ClientID": client_id, "AppOrderIDs": [o.app_order_id for o in cancelled]},
    )


ENDPOINTS: dict[str, Endpoint] = {
    "session": session,
    "logout": logout,
    "orders": guarded(place),
    "modify": guarded(modify),
    "cancel": guarded(cancel),
    "cancelall": guarded(cancel_all),
    "orderbook": guarded(reads.order_book),
    "tradebook": guarded(reads.trade_book),
    "orderhistory": guarded(reads.order_history),
    "positions": guarded(reads.positions),
    "balance": guarded(reads.balance),
    "holdings": guarded(reads.holdings),
    "convert": guarded(portfolio.convert),
    "squareoff": guarded(portfolio.squareoff),
    "squareoffall": guarded(portfolio.squareoff_all),
}
