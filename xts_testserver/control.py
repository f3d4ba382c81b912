"""The control API (``/_control/...``): how a test drives a server running in another process.

Faults, datasets, resets and the request log, plus the order-state levers: fill, reject or
re-state an order, hold new orders, restrict the known clients, seed carried positions and
holdings. Control requests are never recorded in the request log.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from xts_testserver import books, wire
from xts_testserver.order_state import IST, Order

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer


def ok(result: Any) -> wire.Response:
    return wire.json_response(200, {"type": "success", "result": result})


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "AppOrderID": order.app_order_id,
        "ClientID": order.client_id,
        "OrderStatus": order.status,
        "OrderQuantity": order.quantity,
        "CumulativeQuantity": order.filled,
        "OrderAverageTradedPrice": books.money(order.average_price),
    }


def _int(body: dict[str, Any], name: str) -> int:
    if name not in body:
        raise ValueError(f"{name} is required")
    return int(body[name])


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def handle(
    server: XTSTestServer, method: str, path: str, query: dict[str, str], body: Any
) -> wire.Response:
    body = body if isinstance(body, dict) else {}
    action = ACTIONS.get((method, path))
    if action is None:
        return wire.error_response(404, "e-control-0404", f"No control endpoint {method} {path}")
    try:
        return action(server, body)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as exc:
        return wire.error_response(400, "e-control-0400", str(exc))
    except wire.Refused as refused:  # e.g. an unknown appOrderID
        return wire.error_response(400, "e-control-0400", refused.description)


def _requests(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    return ok([r.to_json() for r in server.requests.snapshot()])


def _health(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    return ok(
        {
            "dataset": server.dataset,
            "variant": server.variant,
            "pending_faults": len(server.pending_faults),
            "orders": len(server.orders.orders()),
        }
    )


def _fault(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    fault = server.inject_fault(
        str(body.get("kind", "")),
        endpoint=body.get("endpoint"),
        segment=body.get("segment"),
        times=int(body.get("times", 1)),
        delay=float(body.get("delay", 1.0)),
    )
    return ok({"kind": fault.kind, "endpoint": fault.endpoint})


def _clear_faults(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    server.clear_faults()
    return ok(None)


def _dataset(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    if "text" in body:
        server.set_master(str(body.get("segment", "")), str(body["text"]))
    else:
        anchor = body.get("anchor")
        server.set_dataset(
            str(body.get("dataset", "")),
            variant=int(body.get("variant", 0)),
            anchor=date.fromisoformat(anchor) if anchor else None,
        )
    return ok({"dataset": server.dataset, "variant": server.variant})


def _reset(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    server.reset()
    return ok(None)


def _orders(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    return ok([order_summary(o) for o in server.orders.orders()])


def _fill(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    quantity = body.get("quantity")
    order = server.orders.fill(
        _int(body, "appOrderID"),
        quantity=None if quantity is None else int(quantity),
        price=_optional_decimal(body.get("price")),
    )
    return ok(order_summary(order))


def _reject(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    reason = str(body.get("reason") or "RMS:Rejected by the test server")
    return ok(order_summary(server.orders.reject(_int(body, "appOrderID"), reason=reason)))


def _status(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    order = server.orders.set_status(
        _int(body, "appOrderID"),
        status=str(body.get("status", "")),
        reason=str(body.get("reason") or ""),
    )
    return ok(order_summary(order))


def _settings(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    state = server.orders
    if "fill_market_orders" in body:
        state.fill_market_orders = bool(body["fill_market_orders"])
    if "status_on_place" in body:
        status = str(body["status_on_place"])
        if status not in ("New", "PendingNew"):
            raise ValueError(f"status_on_place must be New or PendingNew, got {status!r}")
        state.status_on_place = status
    return ok(
        {"fill_market_orders": state.fill_market_orders, "status_on_place": state.status_on_place}
    )


def _clients(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    clients = body.get("clients")
    if clients is not None and not isinstance(clients, list):
        raise ValueError("clients must be a list of client codes, or null for any client")
    server.clients = None if clients is None else {str(c) for c in clients}
    return ok(None if server.clients is None else sorted(server.clients))


def _position(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    quantity = _int(body, "quantity")
    if not quantity:
        raise ValueError("quantity must not be 0 (positive: long, negative: short)")
    server.orders.carry(
        client_id=str(body["clientID"]),
        segment=str(body["exchangeSegment"]),
        token=_int(body, "exchangeInstrumentID"),
        product=str(body.get("productType", "NRML")),
        quantity=quantity,
        price=Decimal(str(body.get("price", "100"))),
    )
    return ok(None)


def _holding(server: XTSTestServer, body: dict[str, Any]) -> wire.Response:
    isin = str(body["isin"])
    row = books.holding_row(
        isin=isin,
        quantity=_int(body, "quantity"),
        buy_average_price=Decimal(str(body.get("buyAvgPrice", "100"))),
        nse_token=int(body.get("nseInstrumentID", 0)),
        bse_token=int(body.get("bseInstrumentID", 0)),
        created=datetime.now(IST),
    )
    server.orders.set_holding(client_id=str(body["clientID"]), isin=isin, row=row)
    return ok(row)


ACTIONS = {
    ("GET", "/requests"): _requests,
    ("GET", "/health"): _health,
    ("GET", "/orders"): _orders,
    ("POST", "/fault"): _fault,
    ("POST", "/clear_faults"): _clear_faults,
    ("POST", "/dataset"): _dataset,
    ("POST", "/reset"): _reset,
    ("POST", "/fill"): _fill,
    ("POST", "/reject"): _reject,
    ("POST", "/status"): _status,
    ("POST", "/settings"): _settings,
    ("POST", "/clients"): _clients,
    ("POST", "/position"): _position,
    ("POST", "/holding"): _holding,
}
