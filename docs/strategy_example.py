"""A strategy written for OpenAlgo, run against jainam-prop: place, modify, status, cancel,
books, a smart order, and close everything. Plain ``requests``, nothing of the project.

    python docs/strategy_example.py [HOST] [APIKEY] [SYMBOL] [EXCHANGE]

HOST defaults to $OPENALGO_HOST or http://127.0.0.1:8000, APIKEY to $OPENALGO_APIKEY;
SYMBOL/EXCHANGE to $STRATEGY_SYMBOL/$STRATEGY_EXCHANGE, else the nearest NIFTY future found
through /api/v1/expiry. Every order write follows the answer it gets: 200 is done; 504
"outcome unknown" means look for its ``unique_id`` in the order book before sending again.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import requests

HOST = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OPENALGO_HOST", "")).rstrip("/")
HOST = HOST or "http://127.0.0.1:8000"
APIKEY = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("OPENALGO_APIKEY", "")
SYMBOL = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("STRATEGY_SYMBOL", "")
EXCHANGE = sys.argv[4] if len(sys.argv) > 4 else os.environ.get("STRATEGY_EXCHANGE", "NFO")
STRATEGY = "example"


def call(endpoint: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    response = requests.post(
        f"{HOST}/api/v1/{endpoint}", json={"apikey": APIKEY, **fields}, timeout=60
    )
    return response.status_code, response.json()


def ok(endpoint: str, **fields: Any) -> dict[str, Any]:
    status, body = call(endpoint, **fields)
    if status != 200 or body.get("status") != "success":
        raise SystemExit(f"{endpoint}: HTTP {status}: {body}")
    return body


def in_book(unique_id: str) -> dict[str, Any] | None:
    orders = ok("orderbook")["data"]["orders"]
    return next((o for o in orders if o.get("unique_id") == unique_id), None)


def write(endpoint: str, **fields: Any) -> dict[str, Any]:
    """An order write, sent again only when the order book proves it did not land."""
    for _ in range(3):
        status, body = call(endpoint, **fields)
        if status == 200:
            return body
        if status == 504 and body.get("unique_id"):
            time.sleep(1)
            found = in_book(body["unique_id"])
            if found:
                return {"status": "success", "orderid": found["orderid"]}
            continue  # not in the book: it did not land, send it again
        raise SystemExit(f"{endpoint}: HTTP {status}: {body}")
    raise SystemExit(f"{endpoint}: no answer after 3 attempts")


def nearest_future() -> tuple[str, str]:
    expiries = ok("expiry", symbol="NIFTY", exchange="NFO", instrumenttype="futures")["data"]
    day, month, year = expiries[0].split("-")
    return f"NIFTY{day}{month}{year}FUT", "NFO"


def main() -> None:
    if not APIKEY:
        raise SystemExit("usage: strategy_example.py HOST APIKEY (or set OPENALGO_APIKEY)")
    symbol, exchange = (SYMBOL, EXCHANGE) if SYMBOL else nearest_future()
    lot = ok("symbol", symbol=symbol, exchange=exchange)["data"]["lotsize"]
    print(f"trading {exchange}:{symbol}, lot {lot}")

    order = {
        "strategy": STRATEGY, "symbol": symbol, "exchange": exchange, "action": "BUY",
        "product": "NRML", "pricetype": "LIMIT", "quantity": str(lot), "price": "1",
    }  # fmt: skip
    order_id = write("placeorder", **order)["orderid"]
    print("placed", order_id)
    write("modifyorder", orderid=order_id, **{**order, "quantity": str(2 * lot), "price": "1.5"})
    status = ok("orderstatus", orderid=order_id, strategy=STRATEGY)["data"]
    print("status", status["order_status"], status["quantity"], status["price"])
    write("cancelorder", orderid=order_id, strategy=STRATEGY)
    print("cancelled", ok("orderstatus", orderid=order_id)["data"]["order_status"])

    smart = write(
        "placesmartorder", **{**order, "pricetype": "MARKET", "price": "0"},
        position_size=str(2 * lot),
    )  # fmt: skip
    print("smart order", smart.get("orderid") or smart.get("message"))
    position = ok("openposition", symbol=symbol, exchange=exchange, product="NRML")
    print("open position", position["quantity"])

    book = ok("orderbook")["data"]
    print("order book", len(book["orders"]), "orders;", book["statistics"])
    print("trade book", len(ok("tradebook")["data"]), "trades")
    for row in ok("positionbook")["data"]:
        print("position", row["symbol"], row["product"], row["quantity"], row["pnl"])
    print("funds", ok("funds")["data"])

    closed = ok("closeposition", strategy=STRATEGY)
    print("close", closed["message"])
    left = [p for p in ok("positionbook")["data"] if p["quantity"] != "0"]
    print("open positions left:", len(left))
    if left:
        raise SystemExit("positions are still open")


if __name__ == "__main__":
    main()
