"""What every interactive endpoint checks first, and the small parsers they share.

The session token (401 otherwise), the ``clientID`` (missing or unknown: HTTP 400), field
presence and values; a failed check raises ``wire.Refused``, which ``guarded`` turns into the XTS
error answer, so endpoints read as straight-line code.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from xts_testserver import wire
from xts_testserver.market import SEGMENT_CODES
from xts_testserver.recording import RecordedRequest
from xts_testserver.wire import Refused

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer

PRODUCT_TYPES = ("MIS", "NRML", "CNC")
ORDER_TYPES = ("MARKET", "LIMIT", "STOPLIMIT", "STOPMARKET")
ORDER_SIDES = ("BUY", "SELL")
TIMES_IN_FORCE = ("DAY", "IOC")
DAY_OR_NET = {"daywise": True, "netwise": False}
SQUAREOFF_QUANTITY_TYPES = ("ExactQty", "Percentage")

Endpoint = Callable[["XTSTestServer", RecordedRequest], wire.Response]


def guarded(endpoint: Endpoint) -> Endpoint:
    """Session check first, then the endpoint under the order state's lock; ``Refused``
    becomes its XTS error answer."""

    def run(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
        if not server.sessions.is_interactive(request.authorization):
            status = server.sessions.refusal_status(request.authorization)
            return wire.json_response(status, wire.INVALID_TOKEN)
        try:
            with server.orders.lock:  # one interactive request at a time sees and changes state
                return endpoint(server, request)
        except Refused as refused:
            return refused.response()

    run.__name__ = endpoint.__name__
    run.__doc__ = endpoint.__doc__
    return run


# ---------------------------------------------------------------------- request helpers


def body_of(request: RecordedRequest) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise Refused("e-request-0001", "The request body must be a JSON object")
    return request.body


def client_of(server: XTSTestServer, value: Any, *, required: bool = True) -> str:
    """The clientID the call is for; refused when missing (dealer calls) or unknown."""
    if value in (None, ""):
        if required and server.require_client_id:
            raise Refused(
                "e-user-0012", "clientID is required for dealer accounts (missing clientID)"
            )
        return server.user_id
    client_id = str(value)
    if server.clients is not None and client_id not in server.clients:
        raise Refused("e-user-0013", f"Invalid clientID {client_id}: not a client of this dealer")
    return client_id


def missing(body: dict[str, Any], names: tuple[str, ...]) -> None:
    absent = [name for name in names if body.get(name) in (None, "")]
    if absent:
        raise Refused("e-orders-0005", f"Missing required field(s): {', '.join(absent)}")


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def order_id_of(value: Any) -> int:
    if is_int(value):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise Refused("e-orders-0005", f"appOrderID must be an integer, got {value!r}")


def one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Refused("e-orders-0005", f"Invalid {name} {value!r}; valid: {', '.join(allowed)}")
    return value


def instrument_of(body: dict[str, Any]) -> tuple[str, int]:
    segment, token = body.get("exchangeSegment"), body.get("exchangeInstrumentID")
    if segment not in SEGMENT_CODES:
        raise Refused(
            "e-orders-0005",
            f"Invalid exchangeSegment {segment!r}; valid: {', '.join(SEGMENT_CODES)}",
        )
    if not is_int(token):
        raise Refused("e-orders-0005", f"exchangeInstrumentID must be an integer, got {token!r}")
    return segment, token


def day_wise_of(name: str, value: Any) -> bool:
    found = DAY_OR_NET.get(str(value).lower()) if value is not None else None
    if found is None:
        raise Refused("e-portfolio-0001", f"Invalid {name} {value!r}; valid: DayWise, NetWise")
    return found


def price(value: Any) -> Decimal:
    return Decimal(str(value))


def done(code: str, result: Any) -> wire.Response:
    return wire.json_response(200, wire.success(code, "Request sent", result))


def listed(code: str, description: str, result: Any) -> wire.Response:
    return wire.json_response(200, wire.success(code, description, result))


def order_ack(app_order_id: int, unique_id: str, client_id: str) -> dict[str, Any]:
    """``result`` of an order write: which order, under which identifier, for which client."""
    return {"AppOrderID": app_order_id, "OrderUniqueIdentifier": unique_id, "ClientID": client_id}
