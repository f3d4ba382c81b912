"""The XTS test server's dealer (prop) interactive API, driven over real loopback HTTP.

Orders, books, positions and the control calls that steer fills; faults on every dealer endpoint.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from xts_testserver import FIRST_APP_ORDER_ID, XTSTestServer
from xts_testserver.faults import READ_ENDPOINTS, WRITE_ENDPOINTS

REPO = Path(__file__).resolve().parent.parent
KEYS = {"appKey": "key", "secretKey": "secret", "source": "WEBAPI"}
CLIENT = "DLR01"
OTHER = "DLR02"
BEL_FUT = 58130  # NSEFO sample: BEL26AUGFUT, lot 1425, band 350.95-428.85
BEL_LOT = 1425
BEL_REFERENCE = "389.90"  # mid of the band, on the 0.05 tick
ICICIGI_CE = 80902  # NSEFO sample option, lot 325
TIMEOUT = 10


class Dealer:
    """A logged-in dealer session against one test server."""

    def __init__(self, server: XTSTestServer | SimpleNamespace) -> None:
        self.server = server  # only its interactive_url and control_url are used
        response = requests.post(
            f"{server.interactive_url}/user/session", json=KEYS, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["result"]["token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        timeout: float = TIMEOUT,
    ) -> requests.Response:
        return requests.request(
            method,
            f"{self.server.interactive_url}{path}",
            json=json,
            params=params,
            headers={"Authorization": self.token},
            timeout=timeout,
        )

    def ok(self, method: str, path: str, **kwargs) -> Any:
        """The ``result`` of an XTS success: an object or, for the books, a list."""
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["type"] == "success", payload
        return payload["result"]

    def place(self, client: str = CLIENT, **changes) -> int:
        return self.ok("POST", "/orders", json=an_order(client, **changes))["AppOrderID"]

    def order_book(self, client: str = CLIENT) -> list[dict]:
        return self.ok("GET", "/orders/dealerorderbook", params={"clientID": client})

    def order(self, app_order_id: int, client: str = CLIENT) -> dict:
        return next(o for o in self.order_book(client) if o["AppOrderID"] == app_order_id)

    def trades(self, client: str = CLIENT) -> list[dict]:
        return self.ok("GET", "/orders/dealertradebook", params={"clientID": client})

    def positions(self, client: str = CLIENT, day_or_net: str = "NetWise") -> list[dict]:
        result = self.ok(
            "GET",
            "/portfolio/dealerpositions",
            params={"dayOrNet": day_or_net, "clientID": client},
        )
        return result["positionList"]

    def control(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.server.control_url}{path}", json=body, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return response.json()["result"]


def an_order(client: str = CLIENT, **changes) -> dict:
    order = {
        "exchangeSegment": "NSEFO",
        "exchangeInstrumentID": BEL_FUT,
        "productType": "NRML",
        "orderType": "MARKET",
        "orderSide": "BUY",
        "timeInForce": "DAY",
        "disclosedQuantity": 0,
        "orderQuantity": BEL_LOT,
        "limitPrice": 0,
        "stopPrice": 0,
        "orderUniqueIdentifier": "strategy-1",
        "clientID": client,
    }
    order.update(changes)
    return {key: value for key, value in order.items() if value is not None}


def a_limit(client: str = CLIENT, **changes) -> dict:
    return {"orderType": "LIMIT", "limitPrice": 380.5, **changes}


def a_modify(app_order_id: int, client: str | None = CLIENT, **changes) -> dict:
    body = {
        "appOrderID": app_order_id,
        "modifiedProductType": "NRML",
        "modifiedOrderType": "LIMIT",
        "modifiedOrderQuantity": 2 * BEL_LOT,
        "modifiedDisclosedQuantity": 0,
        "modifiedLimitPrice": 381.0,
        "modifiedStopPrice": 0,
        "modifiedTimeInForce": "DAY",
        "orderUniqueIdentifier": "strategy-1",
        "clientID": client,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def server():
    with XTSTestServer(dataset="samples") as running:
        yield running


@pytest.fixture
def dealer(server) -> Dealer:
    return Dealer(server)


# ---------------------------------------------------------------------- place and books


def test_market_order_fills_at_once_at_the_reference_price(dealer):
    app_order_id = dealer.place()

    assert app_order_id == FIRST_APP_ORDER_ID
    row = dealer.order(app_order_id)
    assert row["OrderStatus"] == "Filled"
    assert row["OrderType"] == "Market"
    assert row["OrderSide"] == "BUY"
    assert row["TradingSymbol"] == "BEL26AUGFUT"
    assert row["OrderAverageTradedPrice"] == BEL_REFERENCE
    assert row["CumulativeQuantity"] == BEL_LOT
    assert row["LeavesQuantity"] == 0
    assert row["OrderUniqueIdentifier"] == "strategy-1"
    assert row["ClientID"] == CLIENT
    [trade] = dealer.trades()
    assert trade["AppOrderID"] == app_order_id
    assert trade["LastTradedQuantity"] == BEL_LOT
    assert Decimal(str(trade["LastTradedPrice"])) == Decimal(BEL_REFERENCE)


def test_limit_order_stays_new_until_the_control_call_fills_it(dealer):
    app_order_id = dealer.place(**a_limit(orderQuantity=2 * BEL_LOT))
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["OrderType"], row["OrderPrice"]) == ("New", "Limit", 380.5)
    assert row["OrderAverageTradedPrice"] == ""
    assert dealer.trades() == []

    dealer.control("/fill", {"appOrderID": app_order_id, "quantity": BEL_LOT})
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["CumulativeQuantity"], row["LeavesQuantity"]) == (
        "PartiallyFilled",
        BEL_LOT,
        BEL_LOT,
    )

    dealer.control("/fill", {"appOrderID": app_order_id, "price": 380.25})
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["CumulativeQuantity"]) == ("Filled", 2 * BEL_LOT)
    assert row["OrderAverageTradedPrice"] == "380.38"  # (380.5 + 380.25) / 2, shown to 2 places
    assert [t["LastTradedQuantity"] for t in dealer.trades()] == [BEL_LOT, BEL_LOT]


@pytest.mark.parametrize(
    ("changes", "book_type"),
    [
        ({"orderType": "STOPLIMIT", "limitPrice": 390, "stopPrice": 389}, "StopLimit"),
        ({"orderType": "STOPMARKET", "stopPrice": 389}, "StopMarket"),
    ],
)
def test_stop_orders_wait_and_show_mixed_case_types(dealer, changes, book_type):
    row = dealer.order(dealer.place(**changes))
    assert (row["OrderStatus"], row["OrderType"]) == ("New", book_type)


def test_control_reject_and_status(dealer):
    rejected = dealer.place(**a_limit())
    dealer.control("/reject", {"appOrderID": rejected, "reason": "RMS:Margin Exceeds"})
    row = dealer.order(rejected)
    assert (row["OrderStatus"], row["CancelRejectReason"]) == ("Rejected", "RMS:Margin Exceeds")

    pending = dealer.place(**a_limit())
    dealer.control("/status", {"appOrderID": pending, "status": "PendingNew"})
    assert dealer.order(pending)["OrderStatus"] == "PendingNew"


def test_orders_can_wait_in_pending_new(dealer):
    dealer.control("/settings", {"status_on_place": "PendingNew"})
    app_order_id = dealer.place()
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["ExchangeOrderID"]) == ("PendingNew", "")
    dealer.control("/fill", {"appOrderID": app_order_id})
    assert dealer.order(app_order_id)["OrderStatus"] == "Filled"


def test_market_orders_can_be_held_open(dealer):
    dealer.control("/settings", {"fill_market_orders": False})
    assert dealer.order(dealer.place())["OrderStatus"] == "New"


def test_order_history_is_the_trail_of_states(dealer):
    app_order_id = dealer.place(**a_limit(orderQuantity=2 * BEL_LOT))
    dealer.control("/fill", {"appOrderID": app_order_id, "quantity": BEL_LOT})
    dealer.ok("DELETE", "/orders", params={"appOrderID": app_order_id, "clientID": CLIENT})

    trail = dealer.ok("GET", "/orders", params={"appOrderID": app_order_id, "clientID": CLIENT})
    assert [row["OrderStatus"] for row in trail] == [
        "PendingNew",
        "New",
        "PartiallyFilled",
        "PendingCancel",
        "Cancelled",
    ]
    assert {row["AppOrderID"] for row in trail} == {app_order_id}


def test_books_are_per_client(dealer):
    mine = dealer.place(CLIENT)
    theirs = dealer.place(OTHER)
    assert [o["AppOrderID"] for o in dealer.order_book(CLIENT)] == [mine]
    assert [o["AppOrderID"] for o in dealer.order_book(OTHER)] == [theirs]
    assert [t["AppOrderID"] for t in dealer.trades(OTHER)] == [theirs]
    assert [p["AccountID"] for p in dealer.positions(OTHER)] == [OTHER]


# ---------------------------------------------------------------------- modify and cancel


def test_modify_an_open_order(dealer):
    app_order_id = dealer.place(**a_limit())
    result = dealer.ok("PUT", "/orders", json=a_modify(app_order_id))
    assert result["AppOrderID"] == app_order_id
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["OrderQuantity"], row["OrderPrice"]) == (
        "New",
        2 * BEL_LOT,
        381,
    )


def test_modify_to_market_fills(dealer):
    app_order_id = dealer.place(**a_limit())
    dealer.ok(
        "PUT",
        "/orders",
        json=a_modify(app_order_id, modifiedOrderType="MARKET", modifiedLimitPrice=0),
    )
    row = dealer.order(app_order_id)
    assert (row["OrderStatus"], row["OrderType"]) == ("Filled", "Market")


@pytest.mark.parametrize("final", ["Filled", "Cancelled", "Rejected"])
def test_modify_of_a_finished_order_is_an_xts_error(dealer, final):
    app_order_id = dealer.place(**a_limit())
    if final == "Filled":
        dealer.control("/fill", {"appOrderID": app_order_id})
    elif final == "Cancelled":
        dealer.ok("DELETE", "/orders", params={"appOrderID": app_order_id, "clientID": CLIENT})
    else:
        dealer.control("/reject", {"appOrderID": app_order_id})

    response = dealer.call("PUT", "/orders", json=a_modify(app_order_id))

    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert final in response.json()["description"]
    assert dealer.order(app_order_id)["OrderStatus"] == final


def test_modify_below_the_filled_quantity_is_refused(dealer):
    app_order_id = dealer.place(**a_limit(orderQuantity=2 * BEL_LOT))
    dealer.control("/fill", {"appOrderID": app_order_id, "quantity": BEL_LOT})
    response = dealer.call(
        "PUT", "/orders", json=a_modify(app_order_id, modifiedOrderQuantity=BEL_LOT)
    )
    assert response.status_code == 400
    assert "already filled" in response.json()["description"]


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"modifiedOrderType": "SL"}, "Invalid modifiedOrderType"),
        ({"modifiedOrderQuantity": 100}, "lot size"),
        ({"modifiedLimitPrice": 0}, "modifiedLimitPrice must be > 0"),
        ({"modifiedTimeInForce": None}, "Missing required field(s): modifiedTimeInForce"),
        ({"appOrderID": "abc"}, "appOrderID must be an integer"),
    ],
)
def test_invalid_modify_is_refused(dealer, changes, complaint):
    app_order_id = dealer.place(**a_limit())
    response = dealer.call("PUT", "/orders", json=a_modify(app_order_id, **changes))
    assert response.status_code == 400
    assert complaint in response.json()["description"]


def test_cancel_an_open_order_then_again(dealer):
    app_order_id = dealer.place(**a_limit())
    params = {"appOrderID": app_order_id, "clientID": CLIENT}
    result = dealer.ok("DELETE", "/orders", params=params)
    assert result["AppOrderID"] == app_order_id
    assert dealer.order(app_order_id)["OrderStatus"] == "Cancelled"

    again = dealer.call("DELETE", "/orders", params=params)

    assert again.status_code == 400
    assert again.json()["type"] == "error"
    assert "Cancelled" in again.json()["description"]


def test_cancel_of_a_filled_order_is_refused(dealer):
    app_order_id = dealer.place()
    response = dealer.call(
        "DELETE", "/orders", params={"appOrderID": app_order_id, "clientID": CLIENT}
    )
    assert response.status_code == 400
    assert "Filled" in response.json()["description"]


def test_cancel_all_cancels_the_open_orders_of_one_instrument(dealer):
    first = dealer.place(**a_limit())
    second = dealer.place(**a_limit())
    other_instrument = dealer.place(
        **a_limit(exchangeInstrumentID=ICICIGI_CE, orderQuantity=325, limitPrice=10)
    )
    other_client = dealer.place(OTHER, **a_limit())
    filled = dealer.place()

    result = dealer.ok(
        "POST",
        "/orders/cancelall",
        json={"exchangeSegment": "NSEFO", "exchangeInstrumentID": BEL_FUT, "clientID": CLIENT},
    )

    assert sorted(result["AppOrderIDs"]) == [first, second]
    statuses = {o["AppOrderID"]: o["OrderStatus"] for o in dealer.order_book()}
    assert statuses == {
        first: "Cancelled",
        second: "Cancelled",
        other_instrument: "New",
        filled: "Filled",
    }
    assert dealer.order(other_client, OTHER)["OrderStatus"] == "New"


@pytest.mark.parametrize(
    ("method", "path", "params", "json"),
    [
        ("DELETE", "/orders", {"clientID": OTHER}, None),
        ("GET", "/orders", {"clientID": OTHER}, None),
        ("PUT", "/orders", None, {"clientID": OTHER}),
    ],
    ids=["cancel", "history", "modify"],
)
def test_another_clients_order_is_not_found(dealer, method, path, params, json):
    app_order_id = dealer.place(**a_limit())
    if params is not None:
        params = {**params, "appOrderID": app_order_id}
    if json is not None:
        json = a_modify(app_order_id, client=OTHER)

    response = dealer.call(method, path, params=params, json=json)

    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert "not found" in response.json()["description"]
    assert dealer.order(app_order_id)["OrderStatus"] == "New"


def test_unknown_order_id_is_not_found(dealer):
    response = dealer.call("DELETE", "/orders", params={"appOrderID": 123, "clientID": CLIENT})
    assert response.status_code == 400
    assert "not found" in response.json()["description"]


# ---------------------------------------------------------------------- clientID

OPEN_ORDER = FIRST_APP_ORDER_ID + 1  # placed by prepare(): a LIMIT order left New


def prepare(dealer: Dealer) -> None:
    """A filled MARKET buy (a one-lot NRML position) and an open LIMIT order, for CLIENT."""
    dealer.place()
    assert dealer.place(**a_limit()) == OPEN_ORDER


def state(server: XTSTestServer) -> tuple[list, list]:
    """What a processed write changes: orders and position quantities."""
    orders = [
        (o.app_order_id, o.status, o.quantity, o.limit_price, o.order_type)
        for o in server.orders.orders()
    ]
    positions = [
        (key, bucket.quantity(day_wise=False))
        for key, bucket in server.orders.positions(CLIENT, day_wise=False)
    ]
    return orders, positions


DEALER_CALLS = {
    "modify": ("PUT", "/orders", None, {"appOrderID": OPEN_ORDER}),
    "cancel": ("DELETE", "/orders", {"appOrderID": OPEN_ORDER}, None),
    "cancelall": (
        "POST",
        "/orders/cancelall",
        None,
        {"exchangeSegment": "NSEFO", "exchangeInstrumentID": BEL_FUT},
    ),
    "orderbook": ("GET", "/orders/dealerorderbook", {}, None),
    "tradebook": ("GET", "/orders/dealertradebook", {}, None),
    "orderhistory": ("GET", "/orders", {"appOrderID": OPEN_ORDER}, None),
    "positions": ("GET", "/portfolio/dealerpositions", {"dayOrNet": "NetWise"}, None),
    "balance": ("GET", "/user/balance", {}, None),
    "holdings": ("GET", "/portfolio/holdings", {}, None),
    "convert": (
        "PUT",
        "/portfolio/positions/convert",
        None,
        {
            "exchangeSegment": "NSEFO",
            "exchangeInstrumentID": BEL_FUT,
            "oldProductType": "NRML",
            "newProductType": "MIS",
            "isDayWise": True,
            "targetQty": BEL_LOT,
        },
    ),
    "squareoff": (
        "PUT",
        "/portfolio/squareoff",
        None,
        {
            "exchangeSegment": "NSEFO",
            "exchangeInstrumentID": BEL_FUT,
            "productType": "NRML",
            "squareoffMode": "NetWise",
            "positionSquareOffQuantityType": "ExactQty",
            "squareOffQtyValue": BEL_LOT,
        },
    ),
    "squareoffall": ("PUT", "/portfolio/squareoffall", None, {"squareoffMode": "NetWise"}),
}


def with_client(name: str, client: str | None) -> tuple[str, str, dict | None, dict | None]:
    method, path, params, json = DEALER_CALLS[name]
    extra = {} if client is None else {"clientID": client}
    if name == "modify":
        return method, path, None, a_modify(OPEN_ORDER, client=client)
    if params is not None:
        return method, path, {**params, **extra}, None
    return method, path, None, {**(json or {}), **extra}


def test_every_dealer_endpoint_is_listed():
    assert set(DEALER_CALLS) == set(WRITE_ENDPOINTS + READ_ENDPOINTS) - {"orders"}


@pytest.mark.parametrize("name", sorted(DEALER_CALLS))
def test_dealer_call_without_client_id_is_a_400(server, dealer, name):
    prepare(dealer)
    before = state(server)
    method, path, params, json = with_client(name, None)

    response = dealer.call(method, path, params=params, json=json)

    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert "clientID" in response.json()["description"]
    assert state(server) == before


@pytest.mark.parametrize("name", sorted(DEALER_CALLS))
def test_dealer_call_for_an_unknown_client_is_a_400(server, name):
    server.clients = {CLIENT}
    dealer = Dealer(server)
    prepare(dealer)
    before = state(server)
    method, path, params, json = with_client(name, "NOBODY")

    response = dealer.call(method, path, params=params, json=json)

    assert response.status_code == 400
    assert "Invalid clientID NOBODY" in response.json()["description"]
    assert state(server) == before


def test_place_for_an_unknown_client_is_refused(server):
    server.clients = {CLIENT}
    dealer = Dealer(server)
    response = dealer.call("POST", "/orders", json=an_order("NOBODY"))
    assert response.status_code == 400
    assert "Invalid clientID" in response.json()["description"]
    assert server.orders.orders() == []


def test_session_lists_the_known_clients(server):
    server.clients = {CLIENT, OTHER}
    response = requests.post(f"{server.interactive_url}/user/session", json=KEYS, timeout=TIMEOUT)
    result = response.json()["result"]
    assert (result["isInvestorClient"], result["clientCodes"]) == (False, [CLIENT, OTHER])


def test_clients_control_call(dealer):
    assert dealer.control("/clients", {"clients": [CLIENT]}) == [CLIENT]
    assert dealer.call("POST", "/orders", json=an_order(OTHER)).status_code == 400
    assert dealer.control("/clients", {"clients": None}) is None
    assert dealer.call("POST", "/orders", json=an_order(OTHER)).status_code == 200


# ---------------------------------------------------------------------- portfolio


def test_positions_are_built_from_fills(dealer):
    dealer.place(orderQuantity=2 * BEL_LOT)
    sell = dealer.place(**a_limit(orderSide="SELL", limitPrice=400))
    dealer.control("/fill", {"appOrderID": sell, "quantity": BEL_LOT})

    [row] = dealer.positions()

    assert row["ExchangeSegment"] == "NSEFO"
    assert row["ExchangeInstrumentId"] == str(BEL_FUT)
    assert "ExchangeInstrumentID" not in row
    assert row["ProductType"] == "NRML"
    assert row["Quantity"] == str(BEL_LOT)
    assert row["BuyAveragePrice"] == BEL_REFERENCE
    assert row["SellAveragePrice"] == "400.00"
    assert row["OpenBuyQuantity"] == str(2 * BEL_LOT)
    assert row["OpenSellQuantity"] == str(BEL_LOT)
    assert Decimal(row["RealizedMTM"]) == (Decimal("400") - Decimal(BEL_REFERENCE)) * BEL_LOT


def test_day_wise_leaves_out_carried_positions(dealer):
    dealer.control(
        "/position",
        {
            "clientID": CLIENT,
            "exchangeSegment": "NSEFO",
            "exchangeInstrumentID": BEL_FUT,
            "productType": "NRML",
            "quantity": -BEL_LOT,
            "price": 395,
        },
    )
    assert [p["Quantity"] for p in dealer.positions(day_or_net="NetWise")] == [str(-BEL_LOT)]
    assert dealer.positions(day_or_net="DayWise") == []

    dealer.place()  # buys back today
    assert [p["Quantity"] for p in dealer.positions(day_or_net="NetWise")] == ["0"]
    assert [p["Quantity"] for p in dealer.positions(day_or_net="DayWise")] == [str(BEL_LOT)]


def test_positions_need_day_or_net(dealer):
    response = dealer.call("GET", "/portfolio/dealerpositions", params={"clientID": CLIENT})
    assert response.status_code == 400
    assert "dayOrNet" in response.json()["description"]


def test_squareoff_places_an_opposite_market_order_that_fills(dealer):
    dealer.place(orderQuantity=2 * BEL_LOT)
    _, path, _, body = with_client("squareoff", CLIENT)

    result = dealer.ok("PUT", path, json=body)

    row = dealer.order(result["AppOrderID"])
    assert (row["OrderSide"], row["OrderType"], row["OrderStatus"]) == ("SELL", "Market", "Filled")
    assert row["OrderQuantity"] == BEL_LOT
    assert [p["Quantity"] for p in dealer.positions()] == [str(BEL_LOT)]


def test_squareoff_without_a_position_is_refused(dealer):
    _, path, _, body = with_client("squareoff", CLIENT)
    response = dealer.call("PUT", path, json=body)
    assert response.status_code == 400
    assert "No open" in response.json()["description"]
    assert dealer.order_book() == []


def test_squareoff_all_flattens_every_position_of_the_client(dealer):
    dealer.place()
    dealer.place(exchangeInstrumentID=ICICIGI_CE, orderQuantity=325, orderSide="SELL")
    dealer.place(OTHER)

    result = dealer.ok(
        "PUT", "/portfolio/squareoffall", json={"squareoffMode": "NetWise", "clientID": CLIENT}
    )

    assert len(result["AppOrderIDs"]) == 2
    assert {p["Quantity"] for p in dealer.positions()} == {"0"}
    assert [p["Quantity"] for p in dealer.positions(OTHER)] == [str(BEL_LOT)]


def test_convert_moves_quantity_between_products(dealer):
    dealer.place(orderQuantity=2 * BEL_LOT)
    _, path, _, body = with_client("convert", CLIENT)

    dealer.ok("PUT", path, json=body)

    quantities = {p["ProductType"]: p["Quantity"] for p in dealer.positions()}
    assert quantities == {"NRML": str(BEL_LOT), "MIS": str(BEL_LOT)}


def test_convert_more_than_held_is_refused(dealer):
    dealer.place()
    _, path, _, body = with_client("convert", CLIENT)
    response = dealer.call("PUT", path, json={**body, "targetQty": 2 * BEL_LOT})
    assert response.status_code == 400
    assert [p["ProductType"] for p in dealer.positions()] == ["NRML"]


def test_balance_shape(dealer):
    dealer.place()
    result = dealer.ok("GET", "/user/balance", params={"clientID": CLIENT})
    limits = result["BalanceList"][0]["limitObject"]["RMSSubLimits"]
    assert set(limits) >= {
        "netMarginAvailable",
        "collateral",
        "UnrealizedMTM",
        "RealizedMTM",
        "marginUtilized",
    }
    assert Decimal(limits["marginUtilized"]) > 0


def test_holdings_shape(dealer):
    assert dealer.ok("GET", "/portfolio/holdings", params={"clientID": CLIENT}) == {
        "RMSHoldings": {"ClientId": CLIENT, "Holdings": {}}
    }
    dealer.control(
        "/holding",
        {"clientID": CLIENT, "isin": "INE002A01018", "quantity": 10, "nseInstrumentID": 2885},
    )
    result = dealer.ok("GET", "/portfolio/holdings", params={"clientID": CLIENT})
    holding = result["RMSHoldings"]["Holdings"]["INE002A01018"]
    assert (holding["HoldingQuantity"], holding["ExchangeNSEInstrumentId"]) == (10, 2885)


def test_investor_forms_answer_the_same_books(dealer):
    app_order_id = dealer.place()
    assert [o["AppOrderID"] for o in dealer.ok("GET", "/orders", params={"clientID": CLIENT})] == [
        app_order_id
    ]
    assert len(dealer.ok("GET", "/orders/trades", params={"clientID": CLIENT})) == 1
    result = dealer.ok(
        "GET", "/portfolio/positions", params={"dayOrNet": "DayWise", "clientID": CLIENT}
    )
    assert [p["Quantity"] for p in result["positionList"]] == [str(BEL_LOT)]


# ---------------------------------------------------------------------- request log


def test_request_log_records_dealer_calls(dealer, server):
    server.clear_requests()
    app_order_id = dealer.place(**a_limit())
    dealer.call("DELETE", "/orders", params={"appOrderID": app_order_id, "clientID": CLIENT})
    dealer.order_book()

    log = requests.get(f"{server.control_url}/requests", timeout=TIMEOUT).json()["result"]

    assert [(r["method"], r["path"], r["endpoint"]) for r in log] == [
        ("POST", "/interactive/orders", "orders"),
        ("DELETE", "/interactive/orders", "cancel"),
        ("GET", "/interactive/orders/dealerorderbook", "orderbook"),
    ]
    assert log[0]["body"]["clientID"] == CLIENT
    assert log[1]["query"] == {"appOrderID": str(app_order_id), "clientID": CLIENT}
    assert [r.client_id for r in server.interactive_requests()] == [CLIENT] * 3


def test_wrong_method_on_a_dealer_path_is_a_405(dealer):
    response = dealer.call("POST", "/orders/dealerorderbook")
    assert response.status_code == 405
    assert "GET" in response.json()["description"]


# ---------------------------------------------------------------------- faults per endpoint

INTERACTIVE_CALLS = {"orders": ("POST", "/orders", None, None), **DEALER_CALLS}


def call_for(dealer: Dealer, name: str, **kwargs) -> requests.Response:
    if name == "orders":
        return dealer.call("POST", "/orders", json=an_order(), **kwargs)
    method, path, params, json = with_client(name, CLIENT)
    return dealer.call(method, path, params=params, json=json, **kwargs)


def test_the_fault_endpoints_cover_every_interactive_call():
    assert set(INTERACTIVE_CALLS) == set(WRITE_ENDPOINTS + READ_ENDPOINTS)


@pytest.mark.parametrize("name", sorted(INTERACTIVE_CALLS))
def test_every_call_succeeds_without_faults(dealer, name):
    prepare(dealer)
    response = call_for(dealer, name)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "success"


@pytest.mark.parametrize("name", sorted(WRITE_ENDPOINTS))
def test_a_processed_write_changes_the_state(server, dealer, name):
    prepare(dealer)
    before = state(server)
    assert call_for(dealer, name).status_code == 200
    assert state(server) != before


@pytest.mark.parametrize("kind", ["http500", "http400", "drop", "not_json", "error_body"])
@pytest.mark.parametrize("name", sorted(INTERACTIVE_CALLS))
def test_early_faults_answer_without_processing(server, dealer, name, kind):
    prepare(dealer)
    before = state(server)
    server.inject_fault(kind, endpoint=name)

    if kind == "drop":
        with pytest.raises(requests.ConnectionError):
            call_for(dealer, name)
    else:
        response = call_for(dealer, name)
        assert response.status_code in (200, 400, 500)
        assert response.headers["Content-Type"].startswith(("text/html", "application/json"))

    assert state(server) == before
    assert (server.requests[-1].endpoint, server.requests[-1].fault) == (name, kind)
    assert call_for(dealer, name).status_code == 200  # once, then normal


@pytest.mark.parametrize("name", sorted(WRITE_ENDPOINTS))
def test_accepted_then_drop_processes_the_write_and_answers_nothing(server, dealer, name):
    prepare(dealer)
    before = state(server)
    server.inject_fault("accepted_then_drop", endpoint=name)

    with pytest.raises(requests.ConnectionError):
        call_for(dealer, name)

    assert state(server) != before
    recorded = server.requests[-1]
    assert (recorded.endpoint, recorded.fault, recorded.status) == (
        name,
        "accepted_then_drop",
        None,
    )


@pytest.mark.parametrize("name", sorted(WRITE_ENDPOINTS))
def test_garbled_answer_after_a_processed_write(server, dealer, name):
    prepare(dealer)
    before = state(server)
    server.inject_fault("garbled", endpoint=name)

    response = call_for(dealer, name)

    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    assert state(server) != before


@pytest.mark.parametrize("name", sorted(READ_ENDPOINTS))
def test_garbled_book(server, dealer, name):
    prepare(dealer)
    server.inject_fault("garbled", endpoint=name)
    with pytest.raises(requests.JSONDecodeError):
        call_for(dealer, name).json()


@pytest.mark.parametrize("name", sorted(WRITE_ENDPOINTS))
def test_truncated_answer_after_a_processed_write(server, dealer, name):
    prepare(dealer)
    before = state(server)
    server.inject_fault("truncated", endpoint=name)

    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        call_for(dealer, name)

    assert state(server) != before


@pytest.mark.parametrize("name", sorted(WRITE_ENDPOINTS))
def test_slow_answer_after_a_processed_write(server, dealer, name):
    prepare(dealer)
    before = state(server)
    server.inject_fault("slow", endpoint=name, delay=5)

    with pytest.raises(requests.Timeout):
        call_for(dealer, name, timeout=0.3)

    assert state(server) != before


@pytest.mark.parametrize("name", sorted(INTERACTIVE_CALLS))
def test_invalid_token_is_the_sdk_expiry_form_and_revokes_the_session(server, dealer, name):
    prepare(dealer)
    before = state(server)
    server.inject_fault("invalid_token", endpoint=name)

    expired = call_for(dealer, name)
    again = call_for(dealer, name)

    for answer in (expired, again):  # the revoked token keeps being refused that way
        assert answer.status_code == 400
        assert answer.json() == {
            "type": "error",
            "code": "e-session-0002",
            "description": "Invalid Token",
        }
    assert state(server) == before
    dealer.__init__(server)  # a fresh session works
    assert call_for(dealer, name).status_code == 200


@pytest.mark.parametrize("name", sorted(INTERACTIVE_CALLS))
def test_auth_expired_on_every_endpoint(server, dealer, name):
    prepare(dealer)
    server.inject_fault("auth_expired", endpoint=name)
    assert call_for(dealer, name).status_code == 401
    assert call_for(dealer, name).status_code == 401


def test_reject_order_fault_on_modify(server, dealer):
    prepare(dealer)
    server.inject_fault("reject_order", endpoint="modify")
    response = call_for(dealer, "modify")
    assert (response.status_code, response.json()["code"]) == (400, "e-orders-0008")
    assert dealer.order(OPEN_ORDER)["OrderQuantity"] == BEL_LOT


def test_a_fault_on_one_dealer_endpoint_leaves_the_others_alone(server, dealer):
    prepare(dealer)
    server.inject_fault("http500", endpoint="cancel")

    for name in sorted(set(INTERACTIVE_CALLS) - {"cancel", "modify"}):
        assert call_for(dealer, name).status_code == 200, name
    assert call_for(dealer, "cancel").status_code == 500


def test_a_segment_fault_hits_only_calls_for_that_segment(server, dealer):
    prepare(dealer)
    server.inject_fault("http500", endpoint="cancelall", segment="NSECM")
    assert call_for(dealer, "cancelall").status_code == 200  # NSEFO
    assert len(server.pending_faults) == 1


def test_a_segment_fault_on_cancel_uses_the_orders_segment(server, dealer):
    prepare(dealer)
    server.inject_fault("http500", endpoint="cancel", segment="NSECM")
    server.inject_fault("http400", endpoint="cancel", segment="NSEFO")
    assert call_for(dealer, "cancel").status_code == 400
    assert [f.segment for f in server.pending_faults] == ["NSECM"]


def test_an_any_fault_hits_the_next_dealer_call(server, dealer):
    prepare(dealer)
    server.inject_fault("http500", endpoint="any")
    assert call_for(dealer, "balance").status_code == 500
    assert call_for(dealer, "balance").status_code == 200


def test_faults_over_the_control_api(server, dealer):
    prepare(dealer)
    response = requests.post(
        f"{server.control_url}/fault",
        json={"kind": "accepted_then_drop", "endpoint": "squareoffall"},
        timeout=TIMEOUT,
    )
    assert response.json()["result"] == {"kind": "accepted_then_drop", "endpoint": "squareoffall"}
    with pytest.raises(requests.ConnectionError):
        call_for(dealer, "squareoffall")
    assert {p["Quantity"] for p in dealer.positions()} == {"0"}


# ---------------------------------------------------------------------- control API


def test_control_orders_lists_every_client(dealer):
    dealer.place(CLIENT)
    dealer.place(OTHER, **a_limit())
    listed = requests.get(f"{dealer.server.control_url}/orders", timeout=TIMEOUT).json()["result"]
    assert [(o["ClientID"], o["OrderStatus"]) for o in listed] == [
        (CLIENT, "Filled"),
        (OTHER, "New"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "complaint"),
    [
        ("/fill", {"appOrderID": 123}, "not found"),
        ("/fill", {}, "appOrderID is required"),
        ("/fill", {"appOrderID": OPEN_ORDER, "quantity": 2 * BEL_LOT}, "quantity must be from 1"),
        ("/fill", {"appOrderID": FIRST_APP_ORDER_ID}, "nothing to fill"),
        ("/reject", {"appOrderID": FIRST_APP_ORDER_ID}, "cannot reject"),
        ("/status", {"appOrderID": OPEN_ORDER, "status": "Open"}, "Unknown status"),
        ("/settings", {"status_on_place": "Filled"}, "status_on_place"),
        ("/clients", {"clients": "DLR01"}, "list"),
        ("/position", {"clientID": CLIENT, "exchangeSegment": "NSEFO"}, "required"),
    ],
)
def test_invalid_control_calls_are_400(dealer, path, body, complaint):
    prepare(dealer)
    before = state(dealer.server)
    response = requests.post(f"{dealer.server.control_url}{path}", json=body, timeout=TIMEOUT)
    assert response.status_code == 400
    assert complaint in response.json()["description"]
    assert state(dealer.server) == before


def test_reset_forgets_orders_positions_and_settings(server, dealer):
    server.clients = {CLIENT}
    prepare(dealer)
    dealer.control("/settings", {"fill_market_orders": False})

    dealer.control("/reset", {})

    assert state(server) == ([], [])
    assert server.clients is None
    assert dealer.call("POST", "/orders", json=an_order(OTHER)).status_code == 200
    assert server.orders.orders()[0].app_order_id == FIRST_APP_ORDER_ID
    assert server.orders.orders()[0].status == "Filled"


def test_a_server_in_another_process_is_driven_over_the_control_api():
    process = subprocess.Popen(
        [sys.executable, "-m", "xts_testserver", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        dealer = Dealer(SimpleNamespace(**urls))
        app_order_id = dealer.place(**a_limit())
        dealer.control("/fill", {"appOrderID": app_order_id, "quantity": BEL_LOT})
        row = dealer.order(app_order_id)
        log = requests.get(f"{urls['control_url']}/requests", timeout=TIMEOUT).json()["result"]
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert (row["OrderStatus"], row["OrderAverageTradedPrice"]) == ("Filled", "380.50")
    assert [r["endpoint"] for r in log] == ["session", "orders", "orderbook"]


def test_instrument_lookup_matches_the_token_field_only(server):
    assert server.instrument("NSEFO", BEL_FUT).lot_size == BEL_LOT
    assert server.instrument("NSEFO", BEL_LOT) is None  # "|1425|" is BEL's lot size, not a token
    dealer = Dealer(server)
    response = dealer.call("POST", "/orders", json=an_order(exchangeInstrumentID=BEL_LOT))
    assert response.status_code == 400
    assert "Instrument 1425 not found in NSEFO" in response.json()["description"]
