"""Order service: validation, OpenAlgo -> XTS mapping, placing through the interactive API.

The broker is the XTS test server over loopback HTTP; the instruments come from the real
NSEFO sample lines, parsed and saved by the sync service.
"""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from jainam_prop.errors import (
    MissingSetting,
    OrderInvalid,
    OrderOutcomeUnknown,
    SymbolNotFound,
    XTSAuthError,
    XTSBadResponse,
    XTSRejected,
    XTSTimeout,
    XTSUnavailable,
)
from jainam_prop.services import place_order_api
from jainam_prop.services.orders import (
    ORDER_TYPE_BY_PRICETYPE,
    OpenAlgoOrder,
    new_unique_id,
    parse_order,
    split_order_api,
    to_xts_order,
)
from jainam_prop.services.orders.split import slice_quantities
from jainam_prop.xts.interactive import InteractiveClient, interactive_client_from_settings
from tests.fixtures_orders import (
    BEL_FUT,
    CLIENT_ID,
    ICICIGI_CE,
    NIFTY_FUT,
    ORDERS,
    SESSION,
    order_posts,
    session_logins,
)

# --- mapping (pure) --------------------------------------------------------------------------


def order(**fields) -> dict:
    base = {
        "symbol": BEL_FUT.symbol,
        "exchange": "NFO",
        "action": "BUY",
        "quantity": BEL_FUT.lot_size,
        "pricetype": "MARKET",
        "product": "NRML",
        "strategy": "momentum",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


@pytest.mark.parametrize(
    ("pricetype", "price", "trigger_price", "order_type", "limit_price", "stop_price"),
    [
        ("MARKET", "0", "0", "MARKET", 0.0, 0.0),
        ("MARKET", "101.5", "99", "MARKET", 0.0, 0.0),  # unused prices are not sent
        ("LIMIT", "101.5", "0", "LIMIT", 101.5, 0.0),
        ("LIMIT", "101.5", "99", "LIMIT", 101.5, 0.0),
        ("SL", "101.5", "101", "STOPLIMIT", 101.5, 101.0),
        ("SL-M", "0", "101", "STOPMARKET", 0.0, 101.0),
    ],
)
def test_pricetype_maps_to_order_type_and_prices(
    pricetype, price, trigger_price, order_type, limit_price, stop_price
):
    parsed = parse_order(order(pricetype=pricetype, price=price, trigger_price=trigger_price))
    xts = to_xts_order(parsed, token=58130, client_id="DLR1", unique_id="jp00")

    assert xts["orderType"] == order_type
    assert xts["limitPrice"] == limit_price
    assert xts["stopPrice"] == stop_price


def test_the_mapping_table_covers_every_openalgo_pricetype():
    assert ORDER_TYPE_BY_PRICETYPE == {
        "MARKET": "MARKET",
        "LIMIT": "LIMIT",
        "SL": "STOPLIMIT",
        "SL-M": "STOPMARKET",
    }


def test_full_xts_order():
    parsed = parse_order(
        order(
            action="sell",
            quantity="2850",
            pricetype="limit",
            product="mis",
            price="401.35",
            disclosed_quantity=1425,
            strategy=" momentum ",
        )
    )
    assert to_xts_order(parsed, token=58130, client_id="DLR1", unique_id="jp00") == {
        "exchangeSegment": "NSEFO",
        "exchangeInstrumentID": 58130,
        "productType": "MIS",
        "orderType": "LIMIT",
        "orderSide": "SELL",
        "timeInForce": "DAY",
        "disclosedQuantity": 1425,
        "orderQuantity": 2850,
        "limitPrice": 401.35,
        "stopPrice": 0.0,
        "orderUniqueIdentifier": "jp00",
        "clientID": "DLR1",
    }


@pytest.mark.parametrize(
    ("exchange", "segment"),
    [("NSE", "NSECM"), ("BSE", "BSECM"), ("NFO", "NSEFO"), ("BFO", "BSEFO"), ("CDS", "NSECD"),
     ("MCX", "MCXFO")],
)  # fmt: skip
def test_exchange_maps_to_segment(exchange, segment):
    product = "MIS"
    parsed = parse_order(order(exchange=exchange, product=product))
    assert to_xts_order(parsed, token=1, client_id="C", unique_id="u")["exchangeSegment"] == segment


@pytest.mark.parametrize("product", ["CNC", "NRML", "MIS"])
def test_product_maps_to_product_type(product):
    parsed = parse_order(order(exchange="NSE", product=product))
    assert to_xts_order(parsed, token=1, client_id="C", unique_id="u")["productType"] == product


def test_defaults_follow_openalgo():
    parsed = parse_order(
        {"symbol": "X", "exchange": "NSE", "action": "BUY", "quantity": 1, "strategy": "s"}
    )
    assert parsed == OpenAlgoOrder(
        symbol="X",
        exchange="NSE",
        action="BUY",
        quantity=1,
        pricetype="MARKET",
        product="MIS",
        price=Decimal(0),
        trigger_price=Decimal(0),
        disclosed_quantity=0,
        strategy="s",
    )


@pytest.mark.parametrize("quantity", [75, "75", 75.0, " 75 "])
def test_quantity_accepts_whole_numbers_and_numeric_strings(quantity):
    assert parse_order(order(quantity=quantity)).quantity == 75


# Each rule: the order's override, the field named and words of the rule.
RULES = [
    ({"symbol": None}, "symbol", "is required"),
    ({"symbol": "  "}, "symbol", "is required"),
    ({"exchange": None}, "exchange", "is required"),
    ({"action": None}, "action", "is required"),
    ({"quantity": None}, "quantity", "is required"),
    ({"strategy": None}, "strategy", "is required"),
    ({"symbol": 123}, "symbol", "must be a string"),
    ({"strategy": "s" * 65}, "strategy", "at most 64 characters"),
    ({"exchange": "NSEX"}, "exchange", "must be one of NSE, BSE"),
    ({"exchange": "NSE_INDEX"}, "exchange", "indices cannot be traded"),
    ({"action": "HOLD"}, "action", "must be one of BUY, SELL"),
    ({"pricetype": "STOP"}, "pricetype", "must be one of MARKET, LIMIT, SL, SL-M"),
    ({"product": "BO"}, "product", "must be one of CNC, NRML, MIS"),
    ({"product": "CNC"}, "product", "CNC (delivery) is only for cash equity"),
    ({"quantity": 0}, "quantity", "must be a positive integer"),
    ({"quantity": -75}, "quantity", "must be a positive integer"),
    ({"quantity": 7.5}, "quantity", "must be a positive integer"),
    ({"quantity": "7.5"}, "quantity", "must be a positive integer"),
    ({"quantity": "ten"}, "quantity", "must be a positive integer"),
    ({"quantity": True}, "quantity", "must be a positive integer"),
    ({"quantity": [75]}, "quantity", "must be a positive integer"),
    ({"quantity": 10**10}, "quantity", "must be at most"),
    ({"disclosed_quantity": -1}, "disclosed_quantity", "must be a non-negative integer"),
    ({"disclosed_quantity": 99999}, "disclosed_quantity", "must not exceed quantity"),
    ({"price": "-1"}, "price", "must be a number from 0"),
    ({"price": "abc"}, "price", "must be a number from 0"),
    ({"price": "NaN"}, "price", "must be a number from 0"),
    ({"price": "Infinity"}, "price", "must be a number from 0"),
    ({"price": True}, "price", "must be a number from 0"),
    ({"trigger_price": {"x": 1}}, "trigger_price", "must be a number from 0"),
    ({"pricetype": "LIMIT"}, "price", "must be greater than 0 for a LIMIT order"),
    ({"pricetype": "SL", "trigger_price": 100}, "price", "greater than 0 for a SL order"),
    ({"pricetype": "SL", "price": 100}, "trigger_price", "greater than 0 for a SL order"),
    ({"pricetype": "SL-M"}, "trigger_price", "greater than 0 for a SL-M order"),
    (
        {"pricetype": "SL", "price": 100, "trigger_price": 101},
        "trigger_price",
        "must not exceed the price for a BUY SL order",
    ),
    (
        {"pricetype": "SL", "action": "SELL", "price": 100, "trigger_price": 99},
        "trigger_price",
        "must not be below the price for a SELL SL order",
    ),
]


@pytest.mark.parametrize(("override", "field", "rule"), RULES)
def test_validation_names_the_field_and_the_rule(override, field, rule):
    fields = order()
    fields.update(override)
    fields = {key: value for key, value in fields.items() if value is not None}
    with pytest.raises(OrderInvalid) as excinfo:
        parse_order(fields)
    assert excinfo.value.field == field
    assert rule in excinfo.value.rule
    assert str(excinfo.value).startswith(f"{field}: ")


def test_order_must_be_an_object():
    with pytest.raises(OrderInvalid, match="must be a JSON object"):
        parse_order(["symbol"])


# --- placing through the test server ---------------------------------------------------------


@pytest.mark.django_db
def test_end_to_end_sync_then_place(synced_nsefo, broker_settings, xts_orders_server):
    order_id = place_order_api(
        order(
            symbol=ICICIGI_CE.symbol,
            action="SELL",
            quantity=str(2 * ICICIGI_CE.lot_size),
            pricetype="SL",
            product="NRML",
            price="12.5",
            trigger_price="12.75",
            disclosed_quantity=ICICIGI_CE.lot_size,
            strategy="iron-fly",
        )
    )

    posts = order_posts(xts_orders_server)
    assert len(posts) == 1
    received = posts[0].body
    unique_id = received.pop("orderUniqueIdentifier")
    assert re.fullmatch(r"jp[0-9a-f]{14}", unique_id)
    assert received == {
        "exchangeSegment": "NSEFO",
        "exchangeInstrumentID": ICICIGI_CE.token,
        "productType": "NRML",
        "orderType": "STOPLIMIT",
        "orderSide": "SELL",
        "timeInForce": "DAY",
        "disclosedQuantity": ICICIGI_CE.lot_size,
        "orderQuantity": 2 * ICICIGI_CE.lot_size,
        "limitPrice": 12.5,
        "stopPrice": 12.75,
        "clientID": CLIENT_ID,
    }
    assert order_id == str(xts_orders_server.placed_orders[0]["AppOrderID"])
    assert len(session_logins(xts_orders_server)) == 1


@pytest.mark.django_db
def test_the_session_is_reused_across_orders_and_clients(
    synced_nsefo, broker_settings, xts_orders_server
):
    place_order_api(order())
    place_order_api(order())
    # A second client stands for another process: it finds the session in the shared cache.
    other_process = InteractiveClient.from_settings()
    try:
        place_order_api(order(), client=other_process)
    finally:
        other_process.close()

    assert len(order_posts(xts_orders_server)) == 3
    assert len(session_logins(xts_orders_server)) == 1
    tokens = {post.headers.get("Authorization") for post in order_posts(xts_orders_server)}
    assert len(tokens) == 1


@pytest.mark.django_db
def test_unknown_symbol_fails_before_sending(synced_nsefo, broker_settings, xts_orders_server):
    with pytest.raises(SymbolNotFound) as excinfo:
        place_order_api(order(symbol="BEL25AUG26FUX"))
    assert excinfo.value.symbol == "BEL25AUG26FUX"
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [1, 1424, 1426, 2 * 1425 + 1])
def test_fno_quantity_must_be_whole_lots(
    synced_nsefo, broker_settings, xts_orders_server, quantity
):
    with pytest.raises(OrderInvalid) as excinfo:
        place_order_api(order(quantity=quantity))
    assert excinfo.value.field == "quantity"
    assert "multiple of the lot size 1425" in excinfo.value.rule
    assert order_posts(xts_orders_server) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("override", "field", "rule"), RULES)
def test_no_invalid_order_reaches_the_broker(
    synced_nsefo, broker_settings, xts_orders_server, override, field, rule
):
    fields = order()
    fields.update(override)
    fields = {key: value for key, value in fields.items() if value is not None}
    with pytest.raises(OrderInvalid):
        place_order_api(fields)
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "variable",
    [
        "JAINAM_INTERACTIVE_URL",
        "JAINAM_INTERACTIVE_API_KEY",
        "JAINAM_INTERACTIVE_API_SECRET",
        "JAINAM_CLIENT_ID",
    ],
)
def test_missing_setting_is_named(
    synced_nsefo, broker_settings, xts_orders_server, settings, variable
):
    setattr(settings, variable, "")
    with pytest.raises(MissingSetting) as excinfo:
        place_order_api(order())
    assert excinfo.value.variable == variable
    assert variable in str(excinfo.value)
    assert order_posts(xts_orders_server) == []
    assert session_logins(xts_orders_server) == []


@pytest.mark.django_db
def test_broker_rejection_carries_the_description(synced_nsefo, broker_settings, xts_orders_server):
    xts_orders_server.inject_fault("reject_order", endpoint=ORDERS, times=1)
    with pytest.raises(XTSRejected) as excinfo:
        place_order_api(order())
    assert not isinstance(excinfo.value, XTSAuthError)
    assert xts_orders_server.last_reject_description in str(excinfo.value)
    assert len(order_posts(xts_orders_server)) == 1


@pytest.mark.django_db
def test_broker_5xx_on_an_order_is_not_retried(synced_nsefo, broker_settings, xts_orders_server):
    xts_orders_server.inject_fault("http500", endpoint=ORDERS, times=1)
    with pytest.raises(XTSUnavailable):
        place_order_api(order())
    assert len(order_posts(xts_orders_server)) == 1  # never re-sent: it may have been placed


@pytest.mark.django_db
def test_dropped_order_connection_is_not_retried(synced_nsefo, broker_settings, xts_orders_server):
    xts_orders_server.inject_fault("drop", endpoint=ORDERS, times=1)
    with pytest.raises(XTSUnavailable):
        place_order_api(order())
    assert len(order_posts(xts_orders_server)) == 1


@pytest.mark.django_db
def test_broker_down(synced_nsefo, broker_settings, settings, closed_port_url):
    settings.JAINAM_INTERACTIVE_URL = closed_port_url
    with pytest.raises(XTSUnavailable) as excinfo:
        place_order_api(order())
    assert not isinstance(excinfo.value, XTSTimeout)


@pytest.mark.django_db
def test_broker_timeout_on_an_order_is_reconciled_not_retried(
    synced_nsefo, broker_settings, xts_orders_server, settings
):
    settings.JAINAM_HTTP_READ_TIMEOUT = 0.3
    place_order_api(order())  # log in first, at full speed
    xts_orders_server.inject_fault("slow", endpoint=ORDERS, times=1, delay=2.0)
    order_id = place_order_api(order())  # the answer was lost; the order book has it
    assert order_id == str(xts_orders_server.orders.orders()[-1].app_order_id)
    assert len(order_posts(xts_orders_server)) == 2


@pytest.mark.django_db
def test_expired_session_logs_in_again_once(synced_nsefo, broker_settings, xts_orders_server):
    place_order_api(order())
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS, times=1)

    order_id = place_order_api(order())

    assert len(session_logins(xts_orders_server)) == 2
    posts = order_posts(xts_orders_server)
    assert len(posts) == 3
    assert posts[1].headers["Authorization"] != posts[2].headers["Authorization"]
    assert order_id == str(xts_orders_server.placed_orders[-1]["AppOrderID"])


@pytest.mark.django_db
def test_session_refused_twice_gives_up_after_one_relogin(
    synced_nsefo, broker_settings, xts_orders_server
):
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS, times=2)
    with pytest.raises(XTSAuthError):
        place_order_api(order())
    assert len(session_logins(xts_orders_server)) == 2
    assert len(order_posts(xts_orders_server)) == 2


@pytest.mark.django_db
def test_wrong_key_pair_is_reported(synced_nsefo, broker_settings, xts_orders_server, settings):
    settings.JAINAM_INTERACTIVE_API_SECRET = "not-the-secret"
    with pytest.raises(XTSAuthError) as excinfo:
        place_order_api(order())
    assert "JAINAM_INTERACTIVE_API_SECRET" in str(excinfo.value)
    assert "not-the-secret" not in str(excinfo.value)
    assert order_posts(xts_orders_server) == []


@pytest.mark.django_db
def test_login_without_a_session_token_sends_no_order(
    synced_nsefo, broker_settings, xts_orders_server
):
    xts_orders_server.inject_fault("no_token", endpoint=SESSION)
    with pytest.raises(XTSBadResponse, match="interactive login succeeded but returned no"):
        place_order_api(order())
    assert order_posts(xts_orders_server) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_on_an_empty_session_log_in_once(
    synced_nsefo, broker_settings, xts_orders_server
):
    xts_orders_server.inject_fault("slow", endpoint=SESSION, times=1, delay=0.5)
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[str] = []
    errors: list[BaseException] = []

    def place() -> None:
        try:
            barrier.wait()
            results.append(place_order_api(order()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=place) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == threads_count
    assert len(session_logins(xts_orders_server)) == 1
    assert len(order_posts(xts_orders_server)) == threads_count


@pytest.mark.django_db
def test_concurrent_refusals_of_one_session_log_in_again_once(
    synced_nsefo, broker_settings, xts_orders_server
):
    """Two callers holding the same refused token: the second reuses the first's new login."""
    client_a = InteractiveClient.from_settings()
    client_b = InteractiveClient.from_settings()
    try:
        stale = client_a.session_token()
        fresh = client_a.session_token(stale=stale)
        assert fresh != stale
        assert client_b.session_token(stale=stale) == fresh
    finally:
        client_a.close()
        client_b.close()
    assert len(session_logins(xts_orders_server)) == 2


@pytest.mark.django_db
def test_orders_flow_when_the_shared_cache_is_down(
    synced_nsefo, broker_settings, xts_orders_server, closed_port
):
    dead_redis = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    client = InteractiveClient.from_settings()
    try:
        with override_settings(CACHES=dead_redis):
            first = place_order_api(order(), client=client)
            second = place_order_api(order(), client=client)
    finally:
        client.close()
    assert first != second
    assert len(session_logins(xts_orders_server)) == 1  # kept in the process
    assert len(order_posts(xts_orders_server)) == 2


@pytest.mark.django_db
def test_the_thread_client_is_reused_until_settings_change(
    broker_settings, settings, xts_orders_server
):
    first = interactive_client_from_settings()
    assert interactive_client_from_settings() is first
    settings.JAINAM_HTTP_READ_TIMEOUT = 7.0
    second = interactive_client_from_settings()
    assert second is not first
    assert second.http.policy.read_timeout == 7.0


@pytest.mark.django_db
def test_secrets_never_reach_logs_or_errors(
    synced_nsefo, broker_settings, xts_orders_server, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="jainam_prop")
    errors = []
    place_order_api(order())
    xts_orders_server.inject_fault("auth_expired", endpoint=ORDERS, times=1)
    place_order_api(order())
    for fault in ("reject_order", "http500"):
        xts_orders_server.inject_fault(fault, endpoint=ORDERS, times=1)
        with pytest.raises(XTSRejected if fault == "reject_order" else XTSUnavailable) as exc:
            place_order_api(order())
        errors.append(str(exc.value))
    settings.JAINAM_INTERACTIVE_API_SECRET = "wrong-secret-value"
    from django.core.cache import cache

    cache.clear()
    with pytest.raises(XTSAuthError) as exc:
        place_order_api(order())
    errors.append(str(exc.value))

    tokens = {post.headers.get("Authorization") for post in order_posts(xts_orders_server)}
    secrets = {
        broker_settings.api_key,
        broker_settings.api_secret,
        "wrong-secret-value",
        *tokens,
    }
    assert all(secrets), secrets
    text = caplog.text + "\n".join(errors)
    for secret in secrets:
        assert secret not in text


# --- split orders: slices in order, stopped by the first failure -----------------------------


class FaultAfterFirstOrder(InteractiveClient):
    """A real client that, once its first order is answered, has the broker misbehave."""

    def __init__(self, server, fault: str, **fault_options) -> None:
        super().__init__(
            root=django_settings.JAINAM_INTERACTIVE_URL,
            api_key=django_settings.JAINAM_INTERACTIVE_API_KEY,
            api_secret=django_settings.JAINAM_INTERACTIVE_API_SECRET,
        )
        self.server, self.fault, self.fault_options = server, fault, fault_options
        self.sent = 0

    def place_order(self, xts_order):
        answer = super().place_order(xts_order)
        self.sent += 1
        if self.sent == 1:
            self.server.inject_fault(self.fault, endpoint=ORDERS, times=1, **self.fault_options)
        return answer


def nifty_split(**fields) -> dict:
    return order(symbol=NIFTY_FUT.symbol, quantity=65 * 100, splitsize=1755, **fields)


@pytest.mark.django_db
def test_a_rejection_mid_way_says_which_slices_are_live(
    synced_nsefo, broker_settings, xts_orders_server
):
    client = FaultAfterFirstOrder(xts_orders_server, "reject_order")
    try:
        result = split_order_api(nifty_split(), client=client)
    finally:
        client.close()

    assert [s.quantity for s in result.slices] == [1755, 1755, 1755, 1235]
    assert [s.status for s in result.slices] == ["success", "error", "not_sent", "not_sent"]
    assert [s.orderid for s in result.live] == [
        str(xts_orders_server.placed_orders[0]["AppOrderID"])
    ]
    assert result.failed is result.slices[1]
    assert isinstance(result.failed.error, XTSRejected)
    posts = order_posts(xts_orders_server)
    assert len(posts) == 2  # nothing after the rejected slice
    assert [p.body["orderUniqueIdentifier"] for p in posts] == [
        s.unique_id for s in result.slices[:2]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "options"), [("slow", {"delay": 2.0}), ("drop", {})])
def test_a_lost_answer_mid_way_is_unknown_never_failed_and_never_resent(
    synced_nsefo, broker_settings, xts_orders_server, settings, fault, options
):
    settings.JAINAM_HTTP_READ_TIMEOUT = 0.3
    client = FaultAfterFirstOrder(xts_orders_server, fault, **options)
    try:
        result = split_order_api(nifty_split(), client=client)
    finally:
        client.close()

    if fault == "slow":  # processed: the order book settles the lost answer
        assert [s.status for s in result.slices] == ["success"] * 4
        assert len(order_posts(xts_orders_server)) == 4
        return
    assert [s.status for s in result.slices] == ["success", "unknown", "not_sent", "not_sent"]
    assert isinstance(result.slices[1].error, OrderOutcomeUnknown)
    assert result.slices[1].error.unique_id == result.slices[1].unique_id
    assert len(order_posts(xts_orders_server)) == 2


@pytest.mark.parametrize(
    ("total", "size", "slices"),
    [(105, 20, [20, 20, 20, 20, 20, 5]), (100, 20, [20] * 5), (5, 20, [5]), (1, 1, [1])],
)
def test_slice_quantities_follow_openalgo(total, size, slices):
    assert slice_quantities(total=total, split_size=size) == slices


def test_unique_identifiers_are_short_and_distinct():
    identifiers = {new_unique_id() for _ in range(1000)}
    assert len(identifiers) == 1000
    assert all(re.fullmatch(r"jp[0-9a-f]{14}", i) for i in identifiers)
