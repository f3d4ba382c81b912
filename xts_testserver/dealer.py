"""Interactive endpoints for dealer (prop) accounts: session, orders, books, portfolio.

Each endpoint checks the session token, the ``clientID`` (JSON body for writes, query string for
reads), then the request fields the way XTS refuses them (HTTP 400 with an XTS error body), and
only then touches the order state. The investor forms (``GET orders``, ``GET orders/trades``,
``GET portfolio/positions``) answer the same books; their ``clientID`` is optional.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from xts_testserver import books, wire
from xts_testserver.market import SEGMENT_CODES, check_keys
from xts_testserver.order_state import OrderStateError
from xts_testserver.recording import RecordedRequest

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
PRODUCT_TYPES = ("MIS", "NRML", "CNC")
ORDER_TYPES = ("MARKET", "LIMIT", "STOPLIMIT", "STOPMARKET")
ORDER_SIDES = ("BUY", "SELL")
TIMES_IN_FORCE = ("DAY", "IOC")
LOT_CHECKED_SEGMENTS = ("NSEFO", "BSEFO")
DAY_OR_NET = {"daywise": True, "netwise": False}
SQUAREOFF_QUANTITY_TYPES = ("ExactQty", "Percentage")

Endpoint = Callable[["XTSTestServer", RecordedRequest], wire.Response]


class Refusal(Exception):
    """Stops an endpoint with an XTS error answer."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.response = wire.error_response(status, code, description)


def refusal_of(error: OrderStateError) -> Refusal:
    return Refusal(error.code, error.description)


def guarded(endpoint: Endpoint) -> Endpoint:
    """Session check first, then the endpoint; a ``Refusal`` becomes its error answer."""

    def run(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
        if not server.sessions.is_interactive(request.authorization):
            return wire.json_response(401, wire.INVALID_TOKEN)
        try:
            return endpoint(server, request)
        except Refusal as refusal:
            return refusal.response
        except OrderStateError as error:
            return refusal_of(error).response

    run.__name__ = endpoint.__name__
    run.__doc__ = endpoint.__doc__
    return run


# ---------------------------------------------------------------------- request helpers


def body_of(request: RecordedRequest) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise Refusal("e-request-0001", "The request body must be a JSON object")
    return request.body


def client_of(server: XTSTestServer, value: Any, *, required: bool = True) -> str:
    """The clientID the call is for; refused when missing (dealer calls) or unknown."""
    if value in (None, ""):
        if required and server.require_client_id:
            raise Refusal(
                "e-user-0012", "clientID is required for dealer accounts (missing clientID)"
            )
        return server.user_id
    client_id = str(value)
    if server.clients is not None and client_id not in server.clients:
        raise Refusal("e-user-0013", f"Invalid clientID {client_id}: not a client of this dealer")
    return client_id


def missing(body: dict[str, Any], names: tuple[str, ...]) -> None:
    absent = [name for name in names if body.get(name) in (None, "")]
    if absent:
        raise Refusal("e-orders-0005", f"Missing required field(s): {', '.join(absent)}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def order_id_of(value: Any) -> int:
    if is_int(value):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise Refusal("e-orders-0005", f"appOrderID must be an integer, got {value!r}")


def one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Refusal("e-orders-0005", f"Invalid {name} {value!r}; valid: {', '.join(allowed)}")
    return value


def instrument_of(body: dict[str, Any]) -> tuple[str, int]:
    segment, token = body.get("exchangeSegment"), body.get("exchangeInstrumentID")
    if segment not in SEGMENT_CODES:
        raise Refusal(
            "e-orders-0005",
            f"Invalid exchangeSegment {segment!r}; valid: {', '.join(SEGMENT_CODES)}",
        )
    if not is_int(token):
        raise Refusal("e-orders-0005", f"exchangeInstrumentID must be an integer, got {token!r}")
    return segment, token


def day_wise_of(name: str, value: Any) -> bool:
    found = DAY_OR_NET.get(str(value).lower()) if value is not None else None
    if found is None:
        raise Refusal("e-portfolio-0001", f"Invalid {name} {value!r}; valid: DayWise, NetWise")
    return found


def price(value: Any) -> Decimal:
    return Decimal(str(value))


def done(code: str, result: Any) -> wire.Response:
    return wire.json_response(200, wire.success(code, "Request sent", result))


def listed(code: str, description: str, result: Any) -> wire.Response:
    return wire.json_response(200, wire.success(code, description, result))


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
        raise Refusal("e-orders-0005", problem)
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
    return done("s-orders-0001", _order_ack(order.app_order_id, order.unique_id, client_id))


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
        raise Refusal("e-orders-0005", problem)
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
    return done("s-orders-0002", _order_ack(order.app_order_id, order.unique_id, client_id))


def cancel(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    raw = request.query.get("appOrderID")
    if raw in (None, ""):
        raise Refusal("e-orders-0005", "Missing required field(s): appOrderID")
    order = server.orders.cancel(client_id=client_id, app_order_id=order_id_of(raw))
    return done("s-orders-0003", _order_ack(order.app_order_id, order.unique_id, client_id))


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


def _order_ack(app_order_id: int, unique_id: str, client_id: str) -> dict[str, Any]:
    return {"AppOrderID": app_order_id, "OrderUniqueIdentifier": unique_id, "ClientID": client_id}


# ---------------------------------------------------------------------- books


def order_book(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    rows = [books.order_row(o, login_id=server.user_id) for o in server.orders.orders(client_id)]
    return listed("s-orders-0009", "Order book retrieved successfully", rows)


def trade_book(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    rows = [
        row
        for order in server.orders.orders(client_id)
        for row in books.trade_rows(order, login_id=server.user_id)
    ]
    rows.sort(key=lambda row: row["ExecutionReportIndex"])
    return listed("s-orders-0010", "Trade book retrieved successfully", rows)


def order_history(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    order = server.orders.order(order_id_of(request.query.get("appOrderID")), client_id=client_id)
    rows = books.history_rows(order, login_id=server.user_id)
    return listed("s-orders-0011", "Order history retrieved successfully", rows)


def positions(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    day_wise = day_wise_of("dayOrNet", request.query.get("dayOrNet"))
    rows = [
        books.position_row(key, bucket, day_wise=day_wise)
        for key, bucket in server.orders.positions(client_id, day_wise=day_wise)
    ]
    return listed("s-portfolio-0001", "Positions retrieved successfully", {"positionList": rows})


def balance(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    held = server.orders.positions(client_id, day_wise=False)
    return listed(
        "s-user-0008", "Balance retrieved successfully", books.balance_result(client_id, held)
    )


def holdings(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    result = books.holdings_result(client_id, server.orders.holdings(client_id))
    return listed("s-portfolio-0002", "Holdings retrieved successfully", result)


def _is_dealer(request: RecordedRequest) -> bool:
    """The dealer paths need clientID; the investor forms of the same books do not."""
    return "/dealer" in request.path


# ---------------------------------------------------------------------- portfolio writes


def convert(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = body_of(request)
    client_id = client_of(server, body.get("clientID"))
    missing(
        body,
        (
            "exchangeSegment",
            "exchangeInstrumentID",
            "oldProductType",
            "newProductType",
            "targetQty",
        ),
    )
    segment, token = instrument_of(body)
    old = one_of("oldProductType", body["oldProductType"], PRODUCT_TYPES)
    new = one_of("newProductType", body["newProductType"], PRODUCT_TYPES)
    quantity = body["targetQty"]
    if not is_int(quantity) or quantity <= 0:
        raise Refusal("e-portfolio-0002", f"targetQty must be a positive integer, got {quantity!r}")
    day_wise = body.get("isDayWise")
    if not isinstance(day_wise, bool):
        raise Refusal("e-portfolio-0002", f"isDayWise must be true or false, got {day_wise!r}")
    server.orders.convert(
        client_id=client_id,
        segment=segment,
        token=token,
        old_product=old,
        new_product=new,
        day_wise=day_wise,
        quantity=quantity,
    )
    return done(
        "s-portfolio-0003",
        {
            "ClientID": client_id,
            "exchangeSegment": segment,
            "exchangeInstrumentID": token,
            "oldProductType": old,
            "newProductType": new,
            "targetQty": quantity,
        },
    )


def squareoff(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = body_of(request)
    client_id = client_of(server, body.get("clientID"))
    missing(
        body,
        (
            "exchangeSegment",
            "exchangeInstrumentID",
            "productType",
            "squareoffMode",
            "positionSquareOffQuantityType",
            "squareOffQtyValue",
        ),
    )
    segment, token = instrument_of(body)
    product = one_of("productType", body["productType"], PRODUCT_TYPES)
    day_wise = day_wise_of("squareoffMode", body["squareoffMode"])
    quantity_type = one_of(
        "positionSquareOffQuantityType",
        body["positionSquareOffQuantityType"],
        SQUAREOFF_QUANTITY_TYPES,
    )
    value = body["squareOffQtyValue"]
    if not is_int(value) or value <= 0:
        raise Refusal(
            "e-portfolio-0002", f"squareOffQtyValue must be a positive integer, got {value!r}"
        )
    order = server.orders.squareoff(
        client_id=client_id,
        segment=segment,
        token=token,
        product=product,
        day_wise=day_wise,
        quantity=value if quantity_type == "ExactQty" else None,
        percentage=value if quantity_type == "Percentage" else None,
        cancel_orders=body.get("cancelOrders") is True,
    )
    return done("s-portfolio-0004", _order_ack(order.app_order_id, order.unique_id, client_id))


def squareoff_all(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    body = body_of(request)
    client_id = client_of(server, body.get("clientID"))
    missing(body, ("squareoffMode",))
    day_wise = day_wise_of("squareoffMode", body["squareoffMode"])
    placed = server.orders.squareoff_all(client_id=client_id, day_wise=day_wise)
    return done(
        "s-portfolio-0005",
        {"ClientID": client_id, "AppOrderIDs": [o.app_order_id for o in placed]},
    )


ENDPOINTS: dict[str, Endpoint] = {
    "session": session,
    "logout": logout,
    "orders": guarded(place),
    "modify": guarded(modify),
    "cancel": guarded(cancel),
    "cancelall": guarded(cancel_all),
    "orderbook": guarded(order_book),
    "tradebook": guarded(trade_book),
    "orderhistory": guarded(order_history),
    "positions": guarded(positions),
    "balance": guarded(balance),
    "holdings": guarded(holdings),
    "convert": guarded(convert),
    "squareoff": guarded(squareoff),
    "squareoffall": guarded(squareoff_all),
}
