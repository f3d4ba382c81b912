"""Dealer books mapped to OpenAlgo: one batch lookup per book, unknown tokens kept and marked."""

from __future__ import annotations

import pytest

from jainam_prop.services import books
from jainam_prop.services.smart import slices


def _order_row(token: int, *, order_id: int, status: str = "New", **extra) -> dict:
    return {
        "AppOrderID": order_id,
        "ExchangeSegment": "NSEFO",
        "ExchangeInstrumentID": token,
        "TradingSymbol": "BROKER-SYMBOL",
        "OrderSide": "Buy",
        "OrderType": "Limit",
        "ProductType": "NRML",
        "OrderPrice": 101.5,
        "OrderStopPrice": 0,
        "OrderQuantity": 75,
        "CumulativeQuantity": 0,
        "OrderAverageTradedPrice": "",
        "OrderStatus": status,
        "OrderGeneratedDateTime": "01-12-2026 09:15:02",
        "OrderUniqueIdentifier": f"jp{order_id}",
        **extra,
    }


def test_order_rows_map_to_openalgo_fields(today_master):
    future = today_master.future
    data = books.order_book([_order_row(future.token, order_id=7, OrderType="StopLimit")])
    (order,) = data["orders"]
    assert order["symbol"] == future.symbol
    assert order["exchange"] == "NFO"
    assert order["orderid"] == "7"
    assert order["action"] == "BUY"
    assert order["pricetype"] == "SL"
    assert order["quantity"] == "75"
    assert order["price"] == 101.5
    assert order["order_status"] == "open"
    assert order["timestamp"] == "01-Dec-2026 09:15:02"
    assert order["symbol_known"] is True
    assert data["statistics"]["total_open_orders"] == 1.0


@pytest.mark.parametrize(
    ("xts", "openalgo"),
    [
        ("Filled", "complete"),
        ("Cancelled", "cancelled"),
        ("Rejected", "rejected"),
        ("PartiallyFilled", "open"),
        ("PendingNew", "open"),
        ("New", "open"),
    ],
)
def test_order_status_words(xts, openalgo):
    assert books.openalgo_status({"OrderStatus": xts}) == openalgo


@pytest.mark.parametrize(
    ("xts", "openalgo"),
    [("Market", "MARKET"), ("Limit", "LIMIT"), ("StopLimit", "SL"), ("StopMarket", "SL-M")],
)
def test_order_types_come_back_mixed_case(xts, openalgo):
    assert books.openalgo_pricetype({"OrderType": xts}) == openalgo


def test_a_book_of_500_orders_costs_one_query_and_keeps_unknown_tokens(
    today_master, django_assert_max_num_queries
):
    known = [today_master.future.token, today_master.call.token]
    rows = [_order_row(known[i % 2], order_id=i) for i in range(498)]
    rows += [_order_row(999_999_901, order_id=498), _order_row(999_999_902, order_id=499)]
    with django_assert_max_num_queries(1):
        data = books.order_book(rows)
    assert len(data["orders"]) == 500
    unknown = [order for order in data["orders"] if not order["symbol_known"]]
    assert [order["token"] for order in unknown] == ["999999901", "999999902"]
    assert all(order["symbol"] is None and order["exchange"] == "NFO" for order in unknown)
    assert all(order["brsymbol"] == "BROKER-SYMBOL" for order in unknown)


def test_trade_rows(today_master):
    row = {
        "AppOrderID": 9,
        "ExchangeSegment": "NSEFO",
        "ExchangeInstrumentID": today_master.future.token,
        "OrderSide": "SELL",
        "ProductType": "MIS",
        "LastTradedQuantity": 150,
        "LastTradedPrice": "24010.5",
        "ExchangeTransactTime": "01-12-2026 10:01:02",
    }
    (trade,) = books.trade_book([row])
    assert trade == {
        "action": "SELL",
        "symbol": today_master.future.symbol,
        "exchange": "NFO",
        "token": str(today_master.future.token),
        "brsymbol": "",
        "symbol_known": True,
        "orderid": "9",
        "product": "MIS",
        "quantity": 150.0,
        "average_price": 24010.5,
        "timestamp": "10:01:02",
        "trade_value": 150 * 24010.5,
    }


def test_position_rows_use_the_position_case_of_the_token_field(today_master):
    row = {
        "ExchangeSegment": "NSEFO",
        "ExchangeInstrumentId": str(today_master.call.token),
        "ProductType": "NRML",
        "Quantity": "-150",
        "BuyAveragePrice": "0",
        "SellAveragePrice": "120.5",
        "MTM": "-30",
        "UnrealizedMTM": "-30",
    }
    (position,) = books.position_book([row])
    assert position["symbol"] == today_master.call.symbol
    assert position["quantity"] == "-150"
    assert position["average_price"] == "120.50"
    assert position["ltp"] == "120.70"  # average + unrealised / quantity
    assert position["pnl"] == "-30.00"
    (parsed,) = books.positions([row])
    assert parsed.key == ("NSEFO", today_master.call.token, "NRML")


def test_funds_from_the_balance():
    balance = {
        "BalanceList": [
            {
                "limitHeader": "ALL|ALL|ALL",
                "limitObject": {
                    "RMSSubLimits": {
                        "netMarginAvailable": "100000.5",
                        "marginUtilized": "2500",
                        "collateral": "0",
                        "RealizedMTM": "12.3",
                        "UnrealizedMTM": "-4",
                    }
                },
            }
        ]
    }
    assert books.funds(balance) == {
        "availablecash": "100000.50",
        "collateral": "0.00",
        "m2mrealized": "12.30",
        "m2munrealized": "-4.00",
        "utiliseddebits": "2500.00",
    }


@pytest.mark.parametrize(
    ("quantity", "largest", "expected"),
    [
        (1755, 1755, [1755]),  # at the largest legal order: one order
        (1801, 1800, [1800, 1]),
        (3900, 1755, [1755, 1755, 390]),  # NIFTY: 27 lots per slice
        (1200, 600, [600, 600]),
        (500, None, [500]),  # no limit known
    ],
)
def test_slices_stay_within_the_largest_legal_order(quantity, largest, expected):
    parts = slices(quantity, largest=largest)
    assert parts == expected
    assert sum(parts) == quantity
