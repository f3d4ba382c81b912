"""The XTS interactive client's dealer calls over loopback: clientID on every call, writes
sent once, reads retried, an expired session ("Invalid Token") renewed once."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from jainam_prop.errors import XTSNotSent, XTSRejected, XTSUnavailable
from jainam_prop.xts.http import HttpPolicy
from jainam_prop.xts.interactive import InteractiveClient
from tests.fixtures_orders import CLIENT_ID, INTERACTIVE_KEY, INTERACTIVE_SECRET
from tests.helpers import redis_cache_settings
from xts_testserver import XTSTestServer

POLICY = HttpPolicy(connect_timeout=2.0, read_timeout=2.0, retries=2, backoff=0.01)


@pytest.fixture
def xts(dealer_server: XTSTestServer, today_master):
    client = InteractiveClient(
        root=dealer_server.interactive_url,
        api_key=INTERACTIVE_KEY,
        api_secret=INTERACTIVE_SECRET,
        policy=POLICY,
    )
    yield client
    client.close()


def _order(token: int, *, unique_id: str = "jptest0000000001") -> dict:
    return {
        "exchangeSegment": "NSEFO",
        "exchangeInstrumentID": token,
        "productType": "NRML",
        "orderType": "LIMIT",
        "orderSide": "BUY",
        "timeInForce": "DAY",
        "disclosedQuantity": 0,
        "orderQuantity": 75,
        "limitPrice": 10.0,
        "stopPrice": 0.0,
        "orderUniqueIdentifier": unique_id,
        "clientID": CLIENT_ID,
    }


def _calls(server: XTSTestServer, method: str, suffix: str) -> list:
    return [r for r in server.requests_to(f"/interactive/{suffix}") if r.method == method]


def test_every_dealer_call_names_the_client(xts, dealer_server, today_master):
    token = today_master.call.token
    app_order_id = xts.place_order(_order(token))
    modify = {
        "appOrderID": app_order_id,
        "modifiedProductType": "NRML",
        "modifiedOrderType": "LIMIT",
        "modifiedOrderQuantity": 150,
        "modifiedDisclosedQuantity": 0,
        "modifiedLimitPrice": 11.0,
        "modifiedStopPrice": 0.0,
        "modifiedTimeInForce": "DAY",
        "orderUniqueIdentifier": "jptest0000000002",
        "clientID": CLIENT_ID,
    }
    assert xts.modify_order(modify) == app_order_id
    (row,) = xts.order_book(client_id=CLIENT_ID)
    assert (row["OrderQuantity"], row["OrderUniqueIdentifier"]) == (150, "jptest0000000002")
    assert xts.cancel_order(app_order_id=app_order_id, client_id=CLIENT_ID) == app_order_id
    assert xts.trade_book(client_id=CLIENT_ID) == []
    assert xts.positions(client_id=CLIENT_ID) == []
    assert "BalanceList" in xts.balance(client_id=CLIENT_ID)
    assert "RMSHoldings" in xts.holdings(client_id=CLIENT_ID)

    writes = [r for r in dealer_server.interactive_requests() if r.method in ("POST", "PUT")]
    assert [r.body["clientID"] for r in writes if r.path.endswith("/orders")] == [CLIENT_ID] * 2
    reads = [r for r in dealer_server.interactive_requests() if r.method in ("GET", "DELETE")]
    assert {r.query.get("clientID") for r in reads} == {CLIENT_ID}
    (positions,) = _calls(dealer_server, "GET", "portfolio/dealerpositions")
    assert positions.query["dayOrNet"] == "NetWise"


@pytest.mark.parametrize("kind", ["http500", "drop", "slow"])
def test_order_writes_are_sent_once(xts, dealer_server, today_master, kind):
    token = today_master.call.token
    app_order_id = xts.place_order(_order(token))
    for endpoint, call in (
        ("orders", lambda: xts.place_order(_order(token, unique_id="jptest0000000003"))),
        ("cancel", lambda: xts.cancel_order(app_order_id=app_order_id, client_id=CLIENT_ID)),
    ):
        dealer_server.clear_requests()
        dealer_server.inject_fault(kind, endpoint=endpoint, times=1, delay=3.0)
        with pytest.raises(XTSUnavailable):
            call()
        method = "POST" if endpoint == "orders" else "DELETE"
        assert len(_calls(dealer_server, method, "orders")) == 1, (kind, endpoint)


def test_reads_are_retried(xts, dealer_server, today_master):
    dealer_server.inject_fault("http500", endpoint="orderbook", times=2)
    assert xts.order_book(client_id=CLIENT_ID) == []
    assert len(_calls(dealer_server, "GET", "orders/dealerorderbook")) == 3


@pytest.mark.parametrize("kind", ["invalid_token", "auth_expired"])
def test_an_expired_session_is_renewed_once(xts, dealer_server, today_master, kind):
    xts.order_book(client_id=CLIENT_ID)  # logged in
    for endpoint in ("orders", "orderbook"):
        dealer_server.inject_fault(kind, endpoint=endpoint, times=1)
    assert xts.place_order(_order(today_master.call.token)) > 0
    assert len(xts.order_book(client_id=CLIENT_ID)) == 1
    logins = _calls(dealer_server, "POST", "user/session")
    assert len(logins) == 3  # the first, then one renewal per refused token
    assert len(_calls(dealer_server, "POST", "orders")) == 2  # refused, then sent once


def test_a_400_that_is_not_about_the_token_is_a_rejection(xts, dealer_server, today_master):
    dealer_server.inject_fault("reject_order", endpoint="orders", times=1)
    with pytest.raises(XTSRejected) as raised:
        xts.place_order(_order(today_master.call.token))
    assert "insufficient margin" in raised.value.description
    assert len(_calls(dealer_server, "POST", "user/session")) == 1


def test_a_closed_port_is_not_sent(closed_port_url):
    client = InteractiveClient(root=closed_port_url, api_key="k", api_secret="s", policy=POLICY)
    try:
        with pytest.raises(XTSNotSent):
            client.login()
    finally:
        client.close()


def test_a_redis_outage_falls_back_to_one_session_per_process_logged_once(
    xts, dealer_server, private_redis, lookup_clock, caplog
):
    caplog.set_level(logging.INFO, logger="jainam_prop")
    with override_settings(CACHES=redis_cache_settings(private_redis.url)):
        xts.order_book(client_id=CLIENT_ID)  # logged in, the session shared in Redis
        private_redis.stop()
        for _ in range(20):  # orders keep flowing on a session kept in this process
            assert xts.order_book(client_id=CLIENT_ID) == []
        lookup_clock.advance(60)  # a retry during the outage fails quietly
        for _ in range(20):
            xts.order_book(client_id=CLIENT_ID)
        private_redis.start()  # back, empty: the next call logs in and shares it again
        lookup_clock.advance(60)
        xts.order_book(client_id=CLIENT_ID)
        xts.order_book(client_id=CLIENT_ID)
    assert len(_calls(dealer_server, "POST", "user/session")) == 3  # before, during, after
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    outage = [r for r in caplog.records if r.name == "jainam_prop.cache_outage"]
    assert [r.levelno for r in outage] == [logging.WARNING, logging.INFO]
    assert warnings == outage[:1]  # one warning line for 40 calls
    assert "XTS session" in outage[0].getMessage()
    assert "XTS sessions kept per process" in outage[0].getMessage()
    assert "Cache is back" in outage[1].getMessage()
