"""XTS row shapes of the order state: order book, trade book, order history, positions, balance,
holdings.

Field names and casing follow XTS answers as public SDK users and OpenAlgo's XTS mapping read
them: ``OrderType`` comes back mixed-case (``Limit``), positions carry ``ExchangeInstrumentId``
(lower-case d) and string amounts, times are ``dd-mm-yyyy HH:MM:SS`` (IST).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from xts_testserver.order_state import Bucket, Fill, Order, PositionKey

BOOK_ORDER_TYPES = {
    "MARKET": "Market",
    "LIMIT": "Limit",
    "STOPLIMIT": "StopLimit",
    "STOPMARKET": "StopMarket",
}
NO_EXPIRY = "01-01-1980 00:00:00"
CASH_LIMIT = Decimal("1000000")  # every client's starting cash in the balance answer
MARGIN_RATE = Decimal("0.2")  # margin blocked per rupee of open position value


def xts_time(moment: datetime) -> str:
    return moment.strftime("%d-%m-%Y %H:%M:%S")


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def number(value: Decimal) -> float | int:
    """A price as JSON number (int when whole), as XTS order rows carry them."""
    return int(value) if value == value.to_integral_value() else float(value)


def order_row(order: Order, *, login_id: str) -> dict[str, Any]:
    last = order.fills[-1] if order.fills else None
    return {
        "LoginID": login_id,
        "ClientID": order.client_id,
        "AppOrderID": order.app_order_id,
        "OrderReferenceID": "",
        "GeneratedBy": "WebAPI",
        "ExchangeOrderID": order.exchange_order_id,
        "OrderCategoryType": "NORMAL",
        "ExchangeSegment": order.segment,
        "ExchangeInstrumentID": order.token,
        "TradingSymbol": order.symbol,
        "OrderSide": order.side,
        "OrderType": BOOK_ORDER_TYPES[order.order_type],
        "ProductType": order.product,
        "TimeInForce": order.time_in_force,
        "OrderPrice": number(order.limit_price),
        "OrderQuantity": order.quantity,
        "OrderStopPrice": number(order.stop_price),
        "OrderStatus": order.status,
        "OrderAverageTradedPrice": money(order.average_price),
        "LeavesQuantity": order.leaves,
        "CumulativeQuantity": order.filled,
        "OrderDisclosedQuantity": order.disclosed,
        "OrderGeneratedDateTime": xts_time(order.generated),
        "ExchangeTransactTime": xts_time(last.time if last else order.updated),
        "LastUpdateDateTime": xts_time(order.updated),
        "OrderExpiryDate": NO_EXPIRY,
        "CancelRejectReason": order.reason,
        "OrderUniqueIdentifier": order.unique_id,
        "OrderLegStatus": "SingleOrderLeg",
        "IsSpread": False,
        "BoLegDetails": 0,
        "BoEntryOrderId": "",
        "MessageCode": 9004,
        "MessageVersion": 4,
        "TokenID": 0,
        "ApplicationType": 0,
        "SequenceNumber": 0,
    }


def history_rows(order: Order, *, login_id: str) -> list[dict[str, Any]]:
    """The order's trail, one row per state it went through (PendingNew -> New -> ...)."""
    current = order_row(order, login_id=login_id)
    rows = []
    for step in order.history:
        rows.append(
            {
                **current,
                "OrderStatus": step["status"],
                "OrderQuantity": step["quantity"],
                "OrderType": BOOK_ORDER_TYPES[step["order_type"]],
                "ProductType": step["product"],
                "OrderPrice": number(step["limit_price"]),
                "OrderStopPrice": number(step["stop_price"]),
                "CumulativeQuantity": step["filled"],
                "LeavesQuantity": 0
                if step["status"] in ("Filled", "Cancelled", "Rejected")
                else step["quantity"] - step["filled"],
                "OrderAverageTradedPrice": money(step["average_price"]),
                "LastUpdateDateTime": xts_time(step["time"]),
            }
        )
    return rows


def trade_rows(order: Order, *, login_id: str) -> list[dict[str, Any]]:
    base = order_row(order, login_id=login_id)
    rows = []
    filled = 0
    for fill in order.fills:
        filled += fill.quantity
        rows.append(_trade_row(base, order, fill, filled))
    return rows


def _trade_row(base: dict[str, Any], order: Order, fill: Fill, filled: int) -> dict[str, Any]:
    return {
        **base,
        "OrderStatus": "Filled" if filled >= order.quantity else "PartiallyFilled",
        "LastTradedPrice": number(fill.price),
        "LastTradedQuantity": fill.quantity,
        "LastExecutionTransactTime": xts_time(fill.time),
        "ExecutionID": fill.execution_id,
        "ExecutionReportIndex": int(fill.execution_id),
        "CumulativeQuantity": filled,
        "LeavesQuantity": order.quantity - filled,
        "OrderAverageTradedPrice": money(fill.price),
        "MessageCode": 9005,
    }


def position_row(key: PositionKey, bucket: Bucket, *, day_wise: bool) -> dict[str, Any]:
    client_id, segment, token, product = key
    buy, sell = bucket.legs(day_wise=day_wise)
    quantity = buy.quantity - sell.quantity
    buy_avg = buy.value / buy.quantity if buy.quantity else Decimal(0)
    sell_avg = sell.value / sell.quantity if sell.quantity else Decimal(0)
    closed = min(buy.quantity, sell.quantity)
    realized = (sell_avg - buy_avg) * closed
    open_avg = buy_avg if quantity > 0 else sell_avg
    unrealized = (bucket.reference_price - open_avg) * quantity
    return {
        "AccountID": client_id,
        "TradingSymbol": bucket.symbol,
        "ExchangeSegment": segment,
        "ExchangeInstrumentId": str(token),
        "ProductType": product,
        "Marketlot": str(bucket.lot_size),
        "Multiplier": "1",
        "BuyAveragePrice": money(buy_avg),
        "SellAveragePrice": money(sell_avg),
        "OpenBuyQuantity": str(buy.quantity),
        "OpenSellQuantity": str(sell.quantity),
        "Quantity": str(quantity),
        "BuyAmount": money(buy.value),
        "SellAmount": money(sell.value),
        "NetAmount": money(sell.value - buy.value),
        "UnrealizedMTM": money(unrealized),
        "RealizedMTM": money(realized),
        "MTM": money(realized + unrealized),
        "BEP": money(open_avg if quantity else Decimal(0)),
        "SumOfTradedQuantityAndPriceBuy": money(buy.value),
        "SumOfTradedQuantityAndPriceSell": money(sell.value),
        "IsDayWise": day_wise,
        "StatisticsLevel": "ParentLevel",
        "IsInterOpPosition": False,
        "childPositions": {},
        "MessageCode": 9002,
        "MessageVersion": 1,
        "TokenID": 0,
        "ApplicationType": 0,
        "SequenceNumber": 0,
    }


def balance_result(client_id: str, positions: list[tuple[PositionKey, Bucket]]) -> dict[str, Any]:
    """``result`` of GET user/balance: BalanceList[0].limitObject.RMSSubLimits, as XTS nests it."""
    used = Decimal(0)
    realized = unrealized = Decimal(0)
    for key, bucket in positions:
        row = position_row(key, bucket, day_wise=False)
        used += abs(Decimal(row["Quantity"])) * bucket.reference_price * MARGIN_RATE
        realized += Decimal(row["RealizedMTM"])
        unrealized += Decimal(row["UnrealizedMTM"])
    available = CASH_LIMIT - used + realized
    limits = {
        "cashAvailable": money(CASH_LIMIT),
        "collateral": "0",
        "marginUtilized": money(used),
        "netMarginAvailable": money(available),
        "MTM": money(realized + unrealized),
        "UnrealizedMTM": money(unrealized),
        "RealizedMTM": money(realized),
    }
    return {
        "BalanceList": [
            {
                "limitHeader": "ALL|ALL|ALL",
                "limitObject": {
                    "RMSSubLimits": limits,
                    "marginAvailable": {
                        "CashMarginAvailable": money(CASH_LIMIT),
                        "AdhocMargin": "0",
                        "NotinalCash": "0",
                        "PayInAmount": "0",
                        "PayOutAmount": "0",
                        "CNCSellBenifit": "0",
                        "DirectCollateral": "0",
                        "HoldingCollateral": "0",
                        "ClientBranchAdhoc": "0",
                        "SellOptionsPremium": "0",
                        "NetBuyPremium": "0",
                        "TotalBranchAdhoc": "0",
                        "AdhocFOMargin": "0",
                        "AdhocCurrencyMargin": "0",
                        "AdhocCommodityMargin": "0",
                    },
                    "marginUtilized": {
                        "GrossExposureMarginPresent": money(used),
                        "BuyExposureMarginPresent": "0",
                        "SellExposureMarginPresent": "0",
                        "VarELMarginPresent": "0",
                        "ScripBasketMarginPresent": "0",
                        "GrossExposureLimitPresent": "0",
                        "BuyExposureLimitPresent": "0",
                        "SellExposureLimitPresent": "0",
                        "CNCLimitUsed": "0",
                        "CNCAmountUsed": "0",
                        "MarginUsed": money(used),
                        "LimitUsed": "0",
                        "TotalSpanMargin": "0",
                        "ExposureMarginPresent": "0",
                    },
                    "AccountID": client_id,
                },
            }
        ]
    }


def holdings_result(client_id: str, holdings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``result`` of GET portfolio/holdings: RMSHoldings.Holdings keyed by ISIN."""
    return {"RMSHoldings": {"ClientId": client_id, "Holdings": holdings}}


def holding_row(
    *,
    isin: str,
    quantity: int,
    buy_average_price: Decimal,
    nse_token: int,
    bse_token: int,
    created: datetime,
) -> dict[str, Any]:
    return {
        "ISIN": isin,
        "HoldingQuantity": quantity,
        "UsedHoldingQuantity": 0,
        "UnusedHoldingQuantity": quantity,
        "BuyAvgPrice": number(buy_average_price),
        "ExchangeNSEInstrumentId": nse_token,
        "ExchangeBSEInstrumentId": bse_token,
        "IsNeedToDelete": False,
        "IsBuyAvgPriceProvided": True,
        "CreatedOn": created.isoformat(timespec="seconds"),
        "LastUpdatedOn": created.isoformat(timespec="seconds"),
    }
