"""Interactive portfolio writes: position convert, square-off and square-off-all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xts_testserver import wire
from xts_testserver.checks import (
    PRODUCT_TYPES,
    SQUAREOFF_QUANTITY_TYPES,
    body_of,
    client_of,
    day_wise_of,
    done,
    instrument_of,
    is_int,
    missing,
    one_of,
    order_ack,
)
from xts_testserver.recording import RecordedRequest
from xts_testserver.wire import Refused

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer


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
        raise Refused("e-portfolio-0002", f"targetQty must be a positive integer, got {quantity!r}")
    day_wise = body.get("isDayWise")
    if not isinstance(day_wise, bool):
        raise Refused("e-portfolio-0002", f"isDayWise must be true or false, got {day_wise!r}")
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
        raise Refused(
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
    return done("s-portfolio-0004", order_ack(order.app_order_id, order.unique_id, client_id))


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
