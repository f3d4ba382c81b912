"""The lifecycle endpoints end to end: Django views -> services -> XTS test server (loopback)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.fixtures_orders import CLIENT_ID
from xts_testserver import XTSTestServer

pytestmark = pytest.mark.django_db


def post(client, name: str, api_key: str, **fields):
    response = client.post(
        f"/api/v1/{name}",
        data=json.dumps({"apikey": api_key, **fields}),
        content_type="application/json",
    )
    return response.status_code, response.json()


def limit_order(contract, *, action="BUY", lots=1, price="10", **extra):
    return {
        "symbol": contract.symbol,
        "exchange": "NFO",
        "action": action,
        "quantity": str(contract.lot_size * lots),
        "pricetype": "LIMIT",
        "product": "NRML",
        "price": price,
        "strategy": "tests",
        **extra,
    }


def place_one(client, api_key, order) -> str:
    status, body = post(client, "basketorder", api_key, strategy="tests", orders=[order])
    assert status == 200, body
    (leg,) = body["results"]
    assert leg["status"] == "success", body
    return leg["orderid"]


def interactive_calls(server: XTSTestServer, method: str, suffix: str) -> list:
    return [r for r in server.requests_to(f"/interactive/{suffix}") if r.method == method]


def test_modify_status_cancel_of_a_working_order(client, api_key, today_master, dealer_settings):
    call = today_master.call
    order_id = place_one(client, api_key, limit_order(call, price="10"))
    (sent,) = interactive_calls(dealer_settings, "POST", "orders")
    assert sent.body["clientID"] == CLIENT_ID
    assert len(sent.body["orderUniqueIdentifier"]) == 16

    status, body = post(client, "orderstatus", api_key, orderid=order_id)
    assert status == 200
    assert body["data"]["order_status"] == "open"
    assert body["data"]["symbol"] == call.symbol
    assert body["data"]["price"] == 10

    status, body = post(
        client, "modifyorder", api_key, orderid=order_id, **limit_order(call, lots=2, price="12.5")
    )
    assert status == 200, body
    assert body["orderid"] == order_id
    (modify,) = interactive_calls(dealer_settings, "PUT", "orders")
    assert modify.body["clientID"] == CLIENT_ID
    assert modify.body["modifiedOrderQuantity"] == 2 * call.lot_size
    status, body = post(client, "orderstatus", api_key, orderid=order_id)
    assert body["data"]["quantity"] == str(2 * call.lot_size)
    assert body["data"]["price"] == 12.5

    status, body = post(client, "cancelorder", api_key, orderid=order_id)
    assert (status, body["status"], body["orderid"]) == (200, "success", order_id)
    (cancel,) = interactive_calls(dealer_settings, "DELETE", "orders")
    assert cancel.query["clientID"] == CLIENT_ID
    status, body = post(client, "orderstatus", api_key, orderid=order_id)
    assert body["data"]["order_status"] == "cancelled"

    # Cancel of a cancelled order: refused before anything is sent.
    status, body = post(client, "cancelorder", api_key, orderid=order_id)
    assert status == 409
    assert body == {
        "status": "error",
        "message": f"Order {order_id} is cancelled: it cannot be cancelled",
        "orderid": order_id,
        "order_status": "cancelled",
        "reason": "order_state",
    }
    assert len(interactive_calls(dealer_settings, "DELETE", "orders")) == 1


def test_bad_order_actions_send_nothing(client, api_key, today_master, dealer_settings):
    future = today_master.future
    market = {**limit_order(future), "pricetype": "MARKET", "price": "0"}
    filled = place_one(client, api_key, market)
    other = dealer_settings.orders.place(
        client_id="OTHERCLIENT", segment="NSEFO", token=future.token, side="BUY",
        order_type="LIMIT", product="NRML", time_in_force="DAY", quantity=future.lot_size,
        disclosed=0, limit_price=Decimal("10"), stop_price=Decimal(0), unique_id="theirs",
    )  # fmt: skip
    dealer_settings.clear_requests()
    cases = [
        ("modifyorder", {"orderid": filled, **limit_order(future)}, 409, "is filled (complete)"),
        ("cancelorder", {"orderid": filled}, 409, "is filled (complete)"),
        ("cancelorder", {"orderid": "424242"}, 404, "Order 424242 not found"),
        ("orderstatus", {"orderid": "424242"}, 404, "not found"),
        ("cancelorder", {"orderid": str(other.app_order_id)}, 404, "not found"),
        ("modifyorder", {"orderid": str(other.app_order_id), **limit_order(future)}, 404,
         "not found"),
        ("cancelorder", {}, 400, "orderid: is required"),
        ("cancelorder", {"orderid": "12ab"}, 400, "orderid: must be a broker order id"),
        ("orderstatus", {"orderid": ["1"]}, 400, "orderid:"),
        ("modifyorder", {"orderid": filled, **limit_order(future), "quantity": "abc"}, 400,
         "quantity: must be a positive integer"),
        ("modifyorder", {"orderid": filled, "symbol": future.symbol}, 400, "is required"),
        ("modifyorder", {"orderid": filled, **limit_order(today_master.call)}, 409, "filled"),
    ]  # fmt: skip
    for name, fields, code, words in cases:
        status, body = post(client, name, api_key, **fields)
        assert status == code, (name, fields, body)
        assert body["status"] == "error"
        assert words in body["message"], (name, body)
    writes = [
        r for r in dealer_settings.interactive_requests() if r.method in ("POST", "PUT", "DELETE")
    ]
    assert writes == []


def test_modify_refuses_a_changed_instrument_side_or_product(
    client, api_key, today_master, dealer_settings
):
    order_id = place_one(client, api_key, limit_order(today_master.call))
    cases = [
        ({**limit_order(today_master.future)}, "symbol:"),
        ({**limit_order(today_master.call, action="SELL")}, "action:"),
        ({**limit_order(today_master.call), "product": "MIS"}, "product:"),
        ({**limit_order(today_master.call), "quantity": "7"}, "quantity: must be a multiple"),
    ]
    for fields, words in cases:
        status, body = post(client, "modifyorder", api_key, orderid=order_id, **fields)
        assert status == 400, body
        assert body["message"].startswith(words), body
    assert interactive_calls(dealer_settings, "PUT", "orders") == []


def test_books_positions_funds_holdings(client, api_key, today_master, dealer_settings):
    future = today_master.future
    market = {**limit_order(future, lots=2), "pricetype": "MARKET", "price": "0"}
    order_id = place_one(client, api_key, market)

    status, body = post(client, "orderbook", api_key)
    assert status == 200
    (order,) = body["data"]["orders"]
    assert (order["orderid"], order["symbol"], order["order_status"]) == (
        order_id, future.symbol, "complete",
    )  # fmt: skip
    assert body["data"]["statistics"]["total_completed_orders"] == 1.0

    status, body = post(client, "tradebook", api_key)
    (trade,) = body["data"]
    assert (trade["orderid"], trade["symbol"], trade["quantity"]) == (
        order_id, future.symbol, float(2 * future.lot_size),
    )  # fmt: skip

    status, body = post(client, "positionbook", api_key)
    (position,) = body["data"]
    assert (position["symbol"], position["product"], position["quantity"]) == (
        future.symbol, "NRML", str(2 * future.lot_size),
    )  # fmt: skip

    status, body = post(
        client, "openposition", api_key, symbol=future.symbol, exchange="NFO", product="NRML"
    )
    assert (status, body) == (200, {"status": "success", "quantity": str(2 * future.lot_size)})
    status, body = post(
        client, "openposition", api_key, symbol=future.symbol, exchange="NFO", product="MIS"
    )
    assert body["quantity"] == "0"

    status, body = post(client, "funds", api_key)
    assert status == 200
    assert set(body["data"]) == {
        "availablecash", "collateral", "m2mrealized", "m2munrealized", "utiliseddebits",
    }  # fmt: skip
    assert Decimal(body["data"]["utiliseddebits"]) > 0

    dealer_settings.orders.set_holding(
        client_id=CLIENT_ID,
        isin="INE000TEST01",
        row={
            "ISIN": "INE000TEST01", "HoldingQuantity": 10, "BuyAvgPrice": 100,
            "ExchangeNSEInstrumentId": 999_999_999, "ExchangeBSEInstrumentId": 0,
        },
    )  # fmt: skip
    status, body = post(client, "holdings", api_key)
    assert status == 200
    (holding,) = body["data"]["holdings"]
    assert holding["quantity"] == 10
    assert holding["symbol"] is None  # kept, and marked:
    assert holding["symbol_known"] is False
    assert body["data"]["statistics"]["totalinvvalue"] == 1000.0

    reads = [r for r in dealer_settings.interactive_requests() if r.method == "GET"]
    assert reads
    assert all(r.query.get("clientID") == CLIENT_ID for r in reads)


def _carry(server, contract, quantity, product="NRML"):
    server.orders.carry(
        client_id=CLIENT_ID, segment="NSEFO", token=contract.token, product=product,
        quantity=quantity, price=Decimal("100"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "target", "current", "sent"),
    [
        ("BUY", 1, 0, ("BUY", 1)),
        ("BUY", 1, -1, ("BUY", 2)),
        ("BUY", 1, 1, None),
        ("BUY", 2, 1, ("BUY", 1)),
        ("SELL", -1, 1, ("SELL", 2)),
        ("SELL", -1, -1, None),
        ("SELL", 0, 1, ("SELL", 1)),
        ("SELL", 0, 0, ("SELL", 1)),  # no position, no target: the order as given
    ],
)
def test_smart_order_trades_the_difference(
    client, api_key, today_master, dealer_settings, action, target, current, sent
):
    future = today_master.future
    lot = future.lot_size
    if current:
        _carry(dealer_settings, future, current * lot)
    _carry(dealer_settings, future, 5 * lot, product="MIS")  # another product: not matched
    order = {**limit_order(future, action=action), "pricetype": "MARKET", "price": "0"}
    status, body = post(
        client, "placesmartorder", api_key, position_size=str(target * lot), **order
    )
    assert status == 200, body
    placed = interactive_calls(dealer_settings, "POST", "orders")
    if sent is None:
        assert placed == []
        assert body["message"] == f"No action needed: the position is already {current * lot}"
        return
    (request,) = placed
    assert (request.body["orderSide"], request.body["orderQuantity"]) == (sent[0], sent[1] * lot)
    assert request.body["productType"] == "NRML"
    assert body["orderid"]


def test_smart_order_bad_input(client, api_key, today_master, dealer_settings):
    order = limit_order(today_master.future)
    for value, words in [(None, "is required"), ("1.5", "whole number"), ([], "whole number")]:
        status, body = post(client, "placesmartorder", api_key, position_size=value, **order)
        assert status == 400, body
        assert body["message"].startswith(f"position_size: {'must be a ' if value else ''}"), body
        assert words in body["message"]
    assert interactive_calls(dealer_settings, "POST", "orders") == []


def test_close_position_squares_off_everything_in_slices(
    client, api_key, today_master, dealer_settings
):
    future, call = today_master.future, today_master.call
    big = future.lot_size * ((future.freeze_qty - 1) // future.lot_size) * 2 + future.lot_size
    _carry(dealer_settings, future, big)
    _carry(dealer_settings, call, -call.lot_size, product="MIS")
    _carry(dealer_settings, future, 0)
    status, body = post(client, "closeposition", api_key, strategy="tests")
    assert status == 200, body
    assert body["message"] == "All Open Positions Squared Off"
    sent = interactive_calls(dealer_settings, "POST", "orders")
    by_token: dict[int, list] = {}
    for request in sent:
        by_token.setdefault(request.body["exchangeInstrumentID"], []).append(request.body)
    assert sum(b["orderQuantity"] for b in by_token[future.token]) == big
    assert all(b["orderQuantity"] < future.freeze_qty for b in by_token[future.token])
    assert len(by_token[future.token]) == 3
    assert {(b["orderSide"], b["productType"]) for b in by_token[future.token]} == {
        ("SELL", "NRML")
    }
    assert [
        (b["orderSide"], b["productType"], b["orderQuantity"]) for b in by_token[call.token]
    ] == [("BUY", "MIS", call.lot_size)]
    status, body = post(client, "positionbook", api_key)
    assert {p["quantity"] for p in body["data"]} == {"0"}
    status, body = post(client, "closeposition", api_key)
    assert body == {"status": "success", "message": "No open positions to close"}


def test_basket_orders_buy_before_sell_and_bad_baskets_send_nothing(
    client, api_key, today_master, dealer_settings
):
    future, call = today_master.future, today_master.call
    orders = [limit_order(call, action="SELL"), limit_order(future)]
    status, body = post(client, "basketorder", api_key, strategy="tests", orders=orders)
    assert status == 200, body
    assert [leg["symbol"] for leg in body["results"]] == [future.symbol, call.symbol]
    sides = [r.body["orderSide"] for r in interactive_calls(dealer_settings, "POST", "orders")]
    assert sides == ["BUY", "SELL"]
    dealer_settings.clear_requests()

    compact = {"symbol": future.symbol, "exchange": "NFO", "action": "BUY", "quantity": "75"}
    cases = [
        ([], 400, "orders: must hold at least one order"),
        ("x", 400, "orders: must be a list"),
        (None, 400, "orders: must be a list"),
        ([compact] * 51, 400, "orders: must hold at most 50 orders (got 51)"),
        ([compact] * 1000, 413, "Request body too large"),
        ([orders[0], {**orders[1], "quantity": "-1"}], 400, "orders[1].quantity:"),
        ([orders[0], "order"], 400, "orders[1]: must be an order object"),
        ([orders[0], {**orders[1], "symbol": "NIFTY01JAN99FUT"}], 404, "not found"),
    ]
    for basket, code, words in cases:
        status, body = post(client, "basketorder", api_key, strategy="tests", orders=basket)
        assert status == code, (basket[:2] if basket else basket, body)
        assert body["status"] == "error"
        assert words in body["message"], body
    assert interactive_calls(dealer_settings, "POST", "orders") == []


def test_cancel_all_cancels_working_orders_only(client, api_key, today_master, dealer_settings):
    call = today_master.call
    working = [place_one(client, api_key, limit_order(call)) for _ in range(3)]
    market = {**limit_order(today_master.future), "pricetype": "MARKET", "price": "0"}
    place_one(client, api_key, market)
    status, body = post(client, "cancelallorder", api_key, strategy="tests")
    assert status == 200, body
    assert sorted(body["canceled_orders"]) == sorted(working)
    assert body["failed_cancellations"] == []
    assert body["message"] == "Canceled 3 orders. Failed to cancel 0 orders."


def test_expired_session_answered_invalid_token_is_renewed_once(
    client, api_key, today_master, dealer_settings
):
    post(client, "orderbook", api_key)  # logs in
    dealer_settings.inject_fault("invalid_token", endpoint="orderbook")
    status, body = post(client, "orderbook", api_key)
    assert status == 200, body
    logins = [
        r for r in dealer_settings.requests_to("/interactive/user/session") if r.method == "POST"
    ]
    assert len(logins) == 2


def test_broker_errors_never_show_the_broker_host(client, api_key, today_master, dealer_settings):
    host = f"127.0.0.1:{dealer_settings.port}"
    for kind in ("http500", "http400", "drop", "not_json", "error_body", "garbled"):
        dealer_settings.inject_fault(kind, endpoint="orderbook", times=5)
        status, body = post(client, "orderbook", api_key)
        dealer_settings.clear_faults()
        assert status == 502, (kind, body)
        assert host not in json.dumps(body), body
        assert "http" not in body["message"].lower(), body
