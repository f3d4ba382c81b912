"""The OpenAlgo-compatible JSON API over Django's test client; the broker is the XTS test
server over loopback HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import User

from jainam_prop.services.api_keys import create_api_key, revoke_api_key
from jainam_prop.vocabulary import MONTHS
from tests.conftest import DATA_DIR
from tests.fixtures_orders import (
    BEL_DEAD,
    BEL_FAR,
    BEL_FUT,
    CLIENT_ID,
    DEAD_DAY,
    ICICIGI_CE,
    NIFTY_DEAD,
    NIFTY_FAR,
    NIFTY_FUT,
    ORDERS,
    order_posts,
    session_logins,
)

pytestmark = pytest.mark.django_db

PLACE = "/api/v1/placeorder"


def post(client, path: str, body: object, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **extra)


def order(apikey: str | None, **fields) -> dict:
    body = {
        "apikey": apikey,
        "strategy": "test",
        "symbol": BEL_FUT.symbol,
        "exchange": "NFO",
        "action": "BUY",
        "quantity": str(BEL_FUT.lot_size),
        "pricetype": "MARKET",
        "product": "NRML",
        "price": "0",
        "trigger_price": "0",
        "disclosed_quantity": "0",
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


# --- placeorder ------------------------------------------------------------------------------


def test_place_order(client, api_key, synced_nsefo, broker_settings, xts_orders_server):
    response = post(
        client,
        PLACE,
        order(
            api_key,
            symbol=ICICIGI_CE.symbol,
            quantity=ICICIGI_CE.lot_size * 3,
            pricetype="LIMIT",
            price="11.05",
            product="MIS",
        ),
    )

    assert response.status_code == 200, response.content
    posts = order_posts(xts_orders_server)
    assert response.json() == {
        "status": "success",
        "orderid": str(xts_orders_server.placed_orders[0]["AppOrderID"]),
    }
    received = posts[0].body
    assert received["exchangeInstrumentID"] == ICICIGI_CE.token
    assert received["exchangeSegment"] == "NSEFO"
    assert received["orderType"] == "LIMIT"
    assert received["orderSide"] == "BUY"
    assert received["productType"] == "MIS"
    assert received["orderQuantity"] == ICICIGI_CE.lot_size * 3
    assert received["limitPrice"] == 11.05
    assert received["clientID"] == CLIENT_ID
    assert "apikey" not in received
    assert api_key not in json.dumps(received)


def test_trailing_slash_is_accepted(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    assert post(client, PLACE + "/", order(api_key)).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"strategy": "x"}, "apikey is required"),
        ({"apikey": ""}, "apikey is required"),
        ({"apikey": "0" * 64}, "Invalid API key"),
        ({"apikey": 42}, "Invalid API key"),
    ],
)
def test_missing_or_wrong_key_is_401_and_sends_nothing(
    client, synced_nsefo, broker_settings, xts_orders_server, api_key, body, message
):
    fields = order(None)
    fields.update(body)
    response = post(client, PLACE, fields)

    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert message in response.json()["message"]
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


def test_revoked_key_is_401(client, synced_nsefo, broker_settings, xts_orders_server):
    user = User.objects.create_user("revoked-user")
    row, raw = create_api_key(user=user)
    revoke_api_key(api_key=row)

    response = post(client, PLACE, order(raw))

    assert response.status_code == 401
    assert order_posts(xts_orders_server) == []


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"symbol": None}, "symbol", "is required"),
        ({"action": "buy-ish"}, "action", "must be one of BUY, SELL"),
        ({"quantity": "-5"}, "quantity", "must be a positive integer"),
        ({"quantity": str(BEL_FUT.lot_size + 1)}, "quantity", "multiple of the lot size"),
        ({"pricetype": "LIMIT", "price": "0"}, "price", "must be greater than 0"),
        ({"pricetype": "SL-M"}, "trigger_price", "must be greater than 0"),
        ({"exchange": "XYZ"}, "exchange", "must be one of"),
    ],
)
def test_invalid_order_is_400_naming_the_field(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, fields, field, rule
):
    response = post(client, PLACE, order(api_key, **fields))

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["field"] == field
    assert rule in body["message"]
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ("", "valid JSON"),
        (b"\xff\xfe", "valid JSON"),
        ("[" * 10_000, "valid JSON"),
    ],
)
def test_malformed_body_is_400(client, raw, message, xts_orders_server):
    response = post(client, PLACE, raw)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert order_posts(xts_orders_server) == []


def test_oversized_body_is_413(client, api_key, xts_orders_server):
    response = post(client, PLACE, order(api_key, strategy="x" * 20_000))
    assert response.status_code == 413
    assert response.json()["status"] == "error"
    assert order_posts(xts_orders_server) == []


def test_get_is_405(client):
    response = client.get(PLACE)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["status"] == "error"


def test_unknown_symbol_is_404_with_suggestions(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, PLACE, order(api_key, symbol="BEL25AUG26FUTX"))

    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error"
    assert "BEL25AUG26FUTX" in body["message"]
    assert isinstance(body["suggestions"], list)
    assert order_posts(xts_orders_server) == []


def test_broker_rejection_is_502_with_its_description(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS, times=1)
    response = post(client, PLACE, order(api_key))

    assert response.status_code == 502
    assert "Broker rejected the order" in response.json()["message"]
    assert xts_orders_server.last_reject_description in response.json()["message"]


def test_broker_down_is_502(
    client, api_key, synced_nsefo, broker_settings, settings, closed_port_url
):
    settings.JAINAM_INTERACTIVE_URL = closed_port_url
    response = post(client, PLACE, order(api_key))

    assert response.status_code == 502
    assert "Broker unavailable" in response.json()["message"]


def test_broker_timeout_is_reconciled_from_the_order_book(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    settings.JAINAM_HTTP_READ_TIMEOUT = 0.3
    assert post(client, PLACE, order(api_key)).status_code == 200  # logged in
    xts_orders_server.inject_fault("slow", endpoint=ORDERS, times=1, delay=2.0)

    response = post(client, PLACE, order(api_key))

    assert response.status_code == 200  # the broker did place it: the book says so
    assert response.json()["orderid"] == str(xts_orders_server.orders.orders()[-1].app_order_id)
    assert len(order_posts(xts_orders_server)) == 2  # the timed-out order was not re-sent


def test_a_lost_answer_not_in_the_book_is_504_outcome_unknown(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    assert post(client, PLACE, order(api_key)).status_code == 200  # logged in
    xts_orders_server.inject_fault("drop", endpoint=ORDERS, times=1)

    response = post(client, PLACE, order(api_key))

    assert response.status_code == 504
    body = response.json()
    assert body["message"].startswith("outcome unknown: the order may be live; check the order")
    assert body["unique_id"] == order_posts(xts_orders_server)[-1].body["orderUniqueIdentifier"]
    assert len(order_posts(xts_orders_server)) == 2  # not re-sent


def test_expired_session_is_renewed_transparently(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    assert post(client, PLACE, order(api_key)).status_code == 200
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS, times=1)

    response = post(client, PLACE, order(api_key))

    assert response.status_code == 200
    assert len(session_logins(xts_orders_server)) == 2


def test_unconfigured_broker_is_503_naming_the_variable(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    settings.JAINAM_CLIENT_ID = ""
    response = post(client, PLACE, order(api_key))

    assert response.status_code == 503
    assert "JAINAM_CLIENT_ID" in response.json()["message"]
    assert order_posts(xts_orders_server) == []


# --- rate limit ------------------------------------------------------------------------------


def test_orders_over_the_rate_are_429_and_not_sent(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    settings.JAINAM_ORDER_RATE_LIMIT = "3 per hour"  # a window no test run can outlast
    statuses = [post(client, PLACE, order(api_key)).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert len(order_posts(xts_orders_server)) == 3
    refused = post(client, PLACE, order(api_key))
    assert refused["Retry-After"] == "3600"
    assert "at most 3 per hour" in refused.json()["message"]


def test_rate_is_counted_per_key(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    settings.JAINAM_ORDER_RATE_LIMIT = "1 per hour"
    _, other_key = create_api_key(user=User.objects.create_user("second-trader"))

    assert post(client, PLACE, order(api_key)).status_code == 200
    assert post(client, PLACE, order(api_key)).status_code == 429
    assert post(client, PLACE, order(other_key)).status_code == 200


def test_default_rate_is_ten_per_second(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    assert settings.JAINAM_ORDER_RATE_LIMIT == "10 per second"
    # The window opens at the first order and lasts one second; twelve orders sent as fast
    # as possible either all fall into it (10 x 200, 2 x 429) or straddle its end, in which
    # case no more than 10 are accepted in any one window.
    statuses = [post(client, PLACE, order(api_key)).status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert set(statuses) <= {200, 429}


def test_rate_limit_zero_disables_it(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server
):
    settings.JAINAM_ORDER_RATE_LIMIT = "0"
    statuses = {post(client, PLACE, order(api_key)).status_code for _ in range(15)}
    assert statuses == {200}


# --- symbol and search -----------------------------------------------------------------------


def test_symbol_details(client, api_key, synced_nsefo):
    response = post(
        client,
        "/api/v1/symbol",
        {"apikey": api_key, "symbol": ICICIGI_CE.symbol, "exchange": "nfo"},
    )

    assert response.status_code == 200
    body = response.json()
    expiry = ICICIGI_CE.expiry
    assert body == {
        "status": "success",
        "data": {
            "symbol": ICICIGI_CE.symbol,
            "brsymbol": "ICICIGI26OCT1360CE",
            "name": "ICICIGI",
            "exchange": "NFO",
            "brexchange": "NSEFO",
            "token": str(ICICIGI_CE.token),
            "expiry": f"{expiry.day:02d}-{MONTHS[expiry.month - 1]}-{expiry.year % 100:02d}",
            "strike": 1360.0,
            "lotsize": ICICIGI_CE.lot_size,
            "tick_size": 0.05,
            "freeze_qty": 13000,  # master FreezeQty 13001: at most 13000 in one order
            "max_order_quantity": 13000,  # 40 lots of 325
            "instrumenttype": "CE",
        },
    }


@pytest.mark.parametrize(
    ("instrument", "freeze_qty", "largest"), [(NIFTY_FUT, 1800, 1755), (BEL_FUT, 57000, 57000)]
)
def test_symbol_and_search_answer_the_freeze_limit(
    client, api_key, synced_nsefo, instrument, freeze_qty, largest
):
    found = post(
        client,
        "/api/v1/symbol",
        {"apikey": api_key, "symbol": instrument.symbol, "exchange": "NFO"},
    ).json()["data"]
    assert (found["freeze_qty"], found["max_order_quantity"]) == (freeze_qty, largest)
    assert found["tick_size"] == float(instrument.tick_size)
    searched = post(
        client, "/api/v1/search", {"apikey": api_key, "query": instrument.symbol}
    ).json()["data"]
    assert searched[0] == found  # substrings match too (BANKNIFTY...): the exact one first


def test_symbol_unknown_is_404(client, api_key, synced_nsefo):
    response = post(
        client, "/api/v1/symbol", {"apikey": api_key, "symbol": "NOPE", "exchange": "NFO"}
    )
    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert "suggestions" in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exchange": "NFO"}, "symbol"),
        ({"symbol": "BEL25AUG26FUT"}, "exchange"),
        ({"symbol": 5, "exchange": "NFO"}, "symbol"),
        ({"symbol": "BEL25AUG26FUT", "exchange": "LSE"}, "exchange"),
    ],
)
def test_symbol_bad_input_is_400(client, api_key, synced_nsefo, body, field):
    response = post(client, "/api/v1/symbol", {"apikey": api_key, **body})
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_symbol_needs_a_key(client, synced_nsefo):
    response = post(client, "/api/v1/symbol", {"symbol": BEL_FUT.symbol, "exchange": "NFO"})
    assert response.status_code == 401


def test_search(client, api_key, synced_nsefo):
    response = post(
        client, "/api/v1/search", {"apikey": api_key, "query": "ICICIGI", "exchange": "NFO"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    symbols = [item["symbol"] for item in body["data"]]
    assert ICICIGI_CE.symbol in symbols
    assert all(item["exchange"] == "NFO" for item in body["data"])
    assert body["message"] == f"Found {len(symbols)} matching symbols"


def test_search_returns_at_most_500(client, api_key, synced_nsefo):
    response = post(client, "/api/v1/search", {"apikey": api_key, "query": "2"})
    assert response.status_code == 200
    assert 0 < len(response.json()["data"]) <= 500


def test_search_other_exchange_finds_nothing(client, api_key, synced_nsefo):
    response = post(
        client, "/api/v1/search", {"apikey": api_key, "query": "ICICIGI", "exchange": "BFO"}
    )
    assert response.status_code == 200
    assert response.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "query"), ({"query": ""}, "query"), ({"query": ["x"]}, "query"),
     ({"query": "NIFTY", "exchange": "LSE"}, "exchange")],
)  # fmt: skip
def test_search_bad_input_is_400(client, api_key, body, field):
    response = post(client, "/api/v1/search", {"apikey": api_key, **body})
    assert response.status_code == 400
    assert response.json()["field"] == field


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_never_appear_in_responses_or_logs(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="jainam_prop")
    bodies = []
    bodies.append(post(client, PLACE, order(api_key)).content)
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS, times=1)
    bodies.append(post(client, PLACE, order(api_key)).content)
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS, times=1)
    bodies.append(post(client, PLACE, order(api_key)).content)
    bodies.append(post(client, PLACE, order(api_key + "0")).content)
    bodies.append(post(client, PLACE, order(api_key, quantity="x")).content)
    settings.JAINAM_INTERACTIVE_API_SECRET = "another-wrong-secret"
    from django.core.cache import cache

    cache.clear()
    bodies.append(post(client, PLACE, order(api_key)).content)

    tokens = {post_.headers.get("Authorization") for post_ in order_posts(xts_orders_server)}
    secrets = {
        api_key,
        broker_settings.api_key,
        broker_settings.api_secret,
        "another-wrong-secret",
        *tokens,
    }
    assert all(secrets)
    text = caplog.text + b"\n".join(bodies).decode()
    for secret in secrets:
        assert secret not in text


def test_a_warm_order_costs_one_query(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, django_assert_num_queries
):
    assert post(client, PLACE, order(api_key)).status_code == 200  # warms key use and lookups

    with django_assert_num_queries(1):  # the API key; the instrument comes from the cache tiers
        assert post(client, PLACE, order(api_key)).status_code == 200


# --- pre-trade rules: refused with the field, the rule and the fix; nothing sent -------------


def refused(response, *, reason: str, field: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["reason"] == reason
    assert body["field"] == field
    assert f"{field}: " in body["message"]
    assert "Fix: " in body["message"]
    return body


@pytest.mark.parametrize(
    ("dead", "live"),
    [
        (BEL_DEAD, [BEL_FUT.symbol, BEL_FAR.symbol]),
        (NIFTY_DEAD, [NIFTY_FUT.symbol, NIFTY_FAR.symbol]),
    ],
)
def test_a_contract_dead_since_the_sync_is_refused_with_live_ones(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, caplog, dead, live
):
    caplog.set_level(logging.INFO, logger="jainam_prop")
    response = post(client, PLACE, order(api_key, symbol=dead.symbol, quantity=dead.lot_size))

    body = refused(response, reason="dead_contract", field="symbol")
    assert body["expiry"] == DEAD_DAY.isoformat()
    assert f"expired on {DEAD_DAY.isoformat()}" in body["message"]
    assert body["suggestions"] == live  # nearest first, never a dead one
    assert all(symbol in body["message"] for symbol in live)
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []
    assert "reason=dead_contract" in caplog.text


@pytest.mark.parametrize(
    ("fields", "field", "tick", "valid"),
    [
        ({"pricetype": "LIMIT", "price": "0.03"}, "price", 0.05, [0.05, 0.1]),
        ({"pricetype": "LIMIT", "price": "401.33"}, "price", 0.05, [401.3, 401.35]),
        ({"pricetype": "SL", "price": "401.35", "trigger_price": "401.31"}, "trigger_price",
         0.05, [401.3, 401.35]),
        ({"pricetype": "SL-M", "trigger_price": "399.99"}, "trigger_price", 0.05,
         [399.95, 400]),
        ({"symbol": NIFTY_FUT.symbol, "quantity": "65", "pricetype": "LIMIT",
          "price": "25000.05"}, "price", 0.1, [25000, 25000.1]),
    ],
)  # fmt: skip
def test_prices_off_the_tick_grid_are_refused(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, caplog,
    fields, field, tick, valid,
):  # fmt: skip
    caplog.set_level(logging.INFO, logger="jainam_prop")
    body = refused(post(client, PLACE, order(api_key, **fields)), reason="tick_size", field=field)

    assert body["tick_size"] == tick
    assert body["valid_prices"] == valid
    assert f"tick size {tick:g}" in body["message"]
    assert order_posts(xts_orders_server) == []
    assert "reason=tick_size" in caplog.text


@pytest.mark.parametrize(
    "fields",
    [
        {"pricetype": "LIMIT", "price": "0.15"},  # 0.15 % 0.05 is not 0 in floats
        {"pricetype": "LIMIT", "price": "401.35"},
        {"pricetype": "SL", "price": "401.35", "trigger_price": "401.3"},
        {"pricetype": "MARKET", "price": "401.33"},  # a MARKET order sends no price
        {"pricetype": "LIMIT", "price": "401.35", "trigger_price": "1.01"},  # unused trigger
    ],
)
def test_prices_on_the_grid_and_unused_prices_pass(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, fields
):
    assert post(client, PLACE, order(api_key, **fields)).status_code == 200
    assert len(order_posts(xts_orders_server)) == 1


def test_lot_size_refusal_names_the_nearest_quantities(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    body = refused(
        post(client, PLACE, order(api_key, quantity="2000")), reason="lot_size", field="quantity"
    )
    assert body["lot_size"] == BEL_FUT.lot_size
    assert body["valid_quantities"] == [1425, 2850]
    assert order_posts(xts_orders_server) == []


def test_every_order_carries_its_own_short_unique_identifier(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    for _ in range(3):
        assert post(client, PLACE, order(api_key)).status_code == 200
    identifiers = [p.body["orderUniqueIdentifier"] for p in order_posts(xts_orders_server)]
    assert len(set(identifiers)) == 3
    assert all(len(identifier) <= 20 for identifier in identifiers)
    assert "test" not in identifiers  # not the strategy


# --- splitorder ------------------------------------------------------------------------------

SPLIT = "/api/v1/splitorder"


def split(apikey: str, **fields) -> dict:
    body = order(apikey, symbol=NIFTY_FUT.symbol, quantity=str(65 * 60), splitsize="1755")
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def test_split_order_places_every_slice_with_its_own_identifier(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, SPLIT, split(api_key, pricetype="LIMIT", price="25000.1"))

    assert response.status_code == 200, response.content
    body = response.json()
    posts = order_posts(xts_orders_server)
    placed = xts_orders_server.placed_orders
    assert [p.body["orderQuantity"] for p in posts] == [1755, 1755, 390]
    assert {p.body["exchangeInstrumentID"] for p in posts} == {NIFTY_FUT.token}
    assert {p.body["limitPrice"] for p in posts} == {25000.1}
    identifiers = [p.body["orderUniqueIdentifier"] for p in posts]
    assert len(set(identifiers)) == 3
    assert body == {
        "status": "success",
        "split_size": 1755,
        "total_quantity": 3900,
        "results": [
            {"order_num": n, "quantity": q, "status": "success", "unique_id": uid,
             "orderid": str(o["AppOrderID"])}
            for n, q, uid, o in zip((1, 2, 3), (1755, 1755, 390), identifiers, placed,
                                    strict=True)
        ],
    }  # fmt: skip


def test_split_size_above_the_quantity_is_one_order(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, SPLIT, split(api_key, quantity="130", splitsize="1755"))
    assert response.status_code == 200
    assert [r["quantity"] for r in response.json()["results"]] == [130]
    assert len(order_posts(xts_orders_server)) == 1


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"splitsize": "1820"}, "freeze_qty", "splitsize"),  # 28 lots: over the 1800 limit
        ({"splitsize": "1800"}, "lot_size", "splitsize"),  # under the limit, not whole lots
        ({"quantity": "3901"}, "lot_size", "quantity"),
        ({"quantity": str(65 * 101), "splitsize": "65"}, "too_many_slices", "splitsize"),
        ({"splitsize": None}, "invalid_field", "splitsize"),
        ({"splitsize": "0"}, "invalid_field", "splitsize"),
        ({"symbol": NIFTY_DEAD.symbol}, "dead_contract", "symbol"),
        ({"pricetype": "LIMIT", "price": "25000.05"}, "tick_size", "price"),
    ],
)
def test_split_order_is_checked_whole_before_the_first_slice(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, fields, reason, field
):
    response = post(client, SPLIT, split(api_key, **fields))

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["reason"], body["field"]) == (reason, field)
    if reason == "freeze_qty":
        assert "Fix: use a splitsize of at most 1755" in body["message"]
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


def test_split_order_takes_at_most_100_slices(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, settings
):
    settings.JAINAM_ORDER_RATE_LIMIT = "0"
    response = post(client, SPLIT, split(api_key, quantity=str(65 * 100), splitsize="65"))
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
    assert len(order_posts(xts_orders_server)) == 100


def test_split_order_rejected_at_the_first_slice_sends_no_other(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS, times=1)
    response = post(client, SPLIT, split(api_key))

    assert response.status_code == 502
    body = response.json()
    assert body["status"] == "error"
    assert [r["status"] for r in body["results"]] == ["error", "not_sent", "not_sent"]
    assert xts_orders_server.last_reject_description in body["results"][0]["message"]
    assert "no slice is live" in body["message"]
    assert len(order_posts(xts_orders_server)) == 1


# --- budgets ---------------------------------------------------------------------------------


def test_the_order_budget_counts_only_orders_that_passed_every_check(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, settings
):
    settings.JAINAM_ORDER_RATE_LIMIT = "2 per hour"
    not_counted = [
        post(client, PLACE, order(api_key, symbol="NOPE")).status_code,
        post(client, PLACE, order(api_key, quantity="1")).status_code,
        post(client, PLACE, order(api_key, pricetype="LIMIT", price="0.03")).status_code,
        post(client, PLACE, order(api_key, symbol=BEL_DEAD.symbol)).status_code,
        post(client, PLACE, "{not json").status_code,
        post(client, PLACE, order(api_key + "0")).status_code,
    ]
    assert not_counted == [404, 400, 400, 400, 400, 401]
    counted = [post(client, PLACE, order(api_key)).status_code for _ in range(2)]
    counted.append(post(client, SPLIT, split(api_key)).status_code)
    assert counted == [200, 200, 429]
    assert len(order_posts(xts_orders_server)) == 2


def test_lookups_have_a_budget_of_their_own(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, settings
):
    settings.JAINAM_LOOKUP_RATE_LIMIT = "2 per hour"
    settings.JAINAM_ORDER_RATE_LIMIT = "1 per hour"
    lookup = {"apikey": api_key, "symbol": BEL_FUT.symbol, "exchange": "NFO"}
    assert post(client, "/api/v1/symbol", {**lookup, "exchange": "LSE"}).status_code == 400
    assert post(client, "/api/v1/symbol", lookup).status_code == 200
    assert post(client, "/api/v1/search", {"apikey": api_key, "query": "BEL"}).status_code == 200
    over = post(client, "/api/v1/symbol", lookup)
    assert over.status_code == 429
    assert "JAINAM_LOOKUP_RATE_LIMIT" in over.json()["message"]
    assert over["Retry-After"] == "3600"
    assert post(client, PLACE, order(api_key)).status_code == 200  # orders: their own budget
    assert post(client, PLACE, order(api_key)).status_code == 429
    assert post(client, "/api/v1/search", {"apikey": api_key, "query": "X"}).status_code == 429


def test_default_lookup_budget_is_fifty_per_second(settings):
    assert settings.JAINAM_LOOKUP_RATE_LIMIT == "50 per second"


# --- API key in a header ---------------------------------------------------------------------


def test_the_api_key_may_come_in_the_x_api_key_header(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, PLACE, order(None), HTTP_X_API_KEY=api_key)
    assert response.status_code == 200, response.content
    lookup = {"symbol": BEL_FUT.symbol, "exchange": "NFO"}
    assert post(client, "/api/v1/symbol", lookup, HTTP_X_API_KEY=api_key).status_code == 200
    same = post(client, PLACE, order(api_key), HTTP_X_API_KEY=api_key)
    assert same.status_code == 200


def test_two_different_api_keys_are_refused(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, PLACE, order(api_key), HTTP_X_API_KEY="0" * 64)
    assert response.status_code == 401
    assert "differ" in response.json()["message"]
    assert order_posts(xts_orders_server) == []


def test_the_api_key_is_refused_in_the_url(client, api_key, synced_nsefo, xts_orders_server):
    response = client.post(
        f"{PLACE}?apikey={api_key}", data=json.dumps(order(None)), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "apikey"
    assert api_key not in response.content.decode()
    assert order_posts(xts_orders_server) == []


# --- broker failures: the broker's words, never our broker URL --------------------------------


def test_error_bodies_never_name_the_broker_url_or_host(
    client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server, closed_port_url
):
    settings.JAINAM_HTTP_READ_TIMEOUT = 0.3
    answers = []
    for fault in ("reject_order", "http500", "drop", "http400"):
        xts_orders_server.inject_fault(fault, endpoint=ORDERS, times=1)
        answers.append(post(client, PLACE, order(api_key)))
    xts_orders_server.inject_fault("slow", endpoint=ORDERS, times=1, delay=2.0)
    answers.append(post(client, PLACE, order(api_key)))
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS, times=1)
    answers.append(post(client, SPLIT, split(api_key)))
    settings.JAINAM_INTERACTIVE_URL = closed_port_url
    answers.append(post(client, PLACE, order(api_key)))

    # A 5xx or a dropped connection is an unknown outcome (the order book did not show it);
    # the slow answer's order was found in the book (reconciled).
    assert [a.status_code for a in answers] == [502, 504, 504, 502, 200, 502, 502]
    assert answers[1].json()["reason"] == "outcome_unknown"
    assert answers[1].json()["unique_id"].startswith("jp")
    host = f"127.0.0.1:{xts_orders_server.port}"
    for answer in answers:
        text = answer.content.decode()
        for secret in (broker_settings.url, closed_port_url, host, "http://", "127.0.0.1"):
            assert secret not in text, text


def test_unknown_symbol_suggestions_never_offer_a_dead_contract(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    typo = BEL_DEAD.symbol[:-3] + "FUX"  # one letter off the dead contract
    for path, body in ((PLACE, order(api_key, symbol=typo)), (SPLIT, split(api_key, symbol=typo))):
        response = post(client, path, body)
        assert response.status_code == 404
        assert BEL_DEAD.symbol not in response.json()["suggestions"]
        assert BEL_DEAD.symbol not in response.json()["message"]
    assert order_posts(xts_orders_server) == []


def test_too_many_slices_names_the_smallest_split_size_in_whole_lots(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server
):
    response = post(client, SPLIT, split(api_key, quantity=str(65 * 101), splitsize="65"))
    assert response.status_code == 400
    assert "at least 130" in response.json()["message"]  # 66 rounded up to whole lots of 65


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        (["success", "error", "not_sent", "not_sent"],
         "Slice 2 of 4 could not be sent; slice 1 is live (1755 of 6500); slices 3-4 were not "
         "sent"),
        (["success", "success", "unknown", "not_sent"],
         "Slice 3 of 4 got no readable answer (it may be live); slices 1, 2 are live (3510 of "
         "6500); slice 4 was not sent"),
        (["success", "success", "success", "error"],
         "Slice 4 of 4 could not be sent; slices 1, 2, 3 are live (5265 of 6500)"),
    ],
)  # fmt: skip
def test_a_split_failure_says_which_slices_are_live(statuses, message):
    from jainam_prop.services.orders import Slice, SplitResult
    from jainam_prop.views.orders import _split_failure

    quantities = [1755, 1755, 1755, 1235]
    result = SplitResult(split_size=1755, total_quantity=6500)
    result.slices = [
        Slice(order_num=n, quantity=q, unique_id=f"jp{n}", status=status)
        for n, (q, status) in enumerate(zip(quantities, statuses, strict=True), start=1)
    ]
    assert _split_failure(result, result.failed) == message


# --- freeze limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "quantity", "limit", "largest"),
    [
        (NIFTY_FUT, 1820, 1800, 1755),  # 28 lots; NIFTY FreezeQty 1801
        (NIFTY_FUT, 65 * 100, 1800, 1755),
        (BEL_FUT, 1425 * 41, 57000, 57000),  # BEL FreezeQty 57001: 40 lots fit exactly
    ],
)
def test_a_quantity_over_the_freeze_limit_is_refused_naming_splitorder(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, caplog,
    instrument, quantity, limit, largest,
):  # fmt: skip
    caplog.set_level(logging.INFO, logger="jainam_prop")
    response = post(client, PLACE, order(api_key, symbol=instrument.symbol, quantity=str(quantity)))

    body = refused(response, reason="freeze_qty", field="quantity")
    assert (body["freeze_qty"], body["max_quantity"]) == (limit, largest)
    assert f"freeze limit of {limit}" in body["message"]
    assert f"at most {largest}" in body["message"]
    assert "/api/v1/splitorder" in body["message"]
    assert order_posts(xts_orders_server) == []
    assert "reason=freeze_qty" in caplog.text


@pytest.mark.parametrize(("instrument", "quantity"), [(NIFTY_FUT, 1755), (BEL_FUT, 57000)])
def test_the_largest_legal_quantity_is_placed(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, instrument, quantity
):
    response = post(client, PLACE, order(api_key, symbol=instrument.symbol, quantity=str(quantity)))
    assert response.status_code == 200, response.content
    [sent] = order_posts(xts_orders_server)
    assert sent.body["orderQuantity"] == quantity


def test_instruments_without_a_freeze_limit_take_any_quantity(
    client, api_key, synced_nsefo, broker_settings, xts_orders_server, settings
):
    """BSECM lines carry FreezeQty 0: no limit."""
    from jainam_prop.master_parser import parse_master
    from jainam_prop.services.sync import save_master_contract_to_db

    text = (DATA_DIR / "BSECM.txt").read_text()
    save_master_contract_to_db(parse_master(text, segment="BSECM").rows, segments=["BSECM"])
    from jainam_prop.services import search_instruments

    stock = next(i for i in search_instruments("A", exchange="BSE", limit=50) if i.lot_size == 1)
    assert stock.freeze_qty is None
    xts_orders_server.set_master("BSECM", text)
    response = post(
        client,
        PLACE,
        order(api_key, symbol=stock.symbol, exchange="BSE", quantity="5000000", product="CNC"),
    )
    assert response.status_code == 200, response.content
