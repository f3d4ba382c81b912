"""Interactive reads: dealer order and trade books, order history, positions, balance, holdings
(and the investor forms of the books, whose ``clientID`` is optional).

Rows are rendered by ``books.py`` under the order state's lock (``checks.guarded``), so a book
never shows an order half-way through a fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xts_testserver import books, wire
from xts_testserver.checks import client_of, day_wise_of, listed, order_id_of
from xts_testserver.recording import RecordedRequest

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer


def order_book(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    rows = [books.order_row(o, login_id=server.user_id) for o in server.orders.orders(client_id)]
    return listed("s-orders-0009", "Order book retrieved successfully", rows)


def trade_book(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    rows = [
        row
        for order in server.orders.orders(client_id)
        for row in books.trade_rows(order, login_id=server.user_id)
    ]
    rows.sort(key=lambda row: row["ExecutionReportIndex"])
    return listed("s-orders-0010", "Trade book retrieved successfully", rows)


def order_history(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    order = server.orders.order(order_id_of(request.query.get("appOrderID")), client_id=client_id)
    rows = books.history_rows(order, login_id=server.user_id)
    return listed("s-orders-0011", "Order history retrieved successfully", rows)


def positions(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"), required=_is_dealer(request))
    day_wise = day_wise_of("dayOrNet", request.query.get("dayOrNet"))
    rows = [
        books.position_row(key, bucket, day_wise=day_wise)
        for key, bucket in server.orders.positions(client_id, day_wise=day_wise)
    ]
    return listed("s-portfolio-0001", "Positions retrieved successfully", {"positionList": rows})


def balance(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    held = server.orders.positions(client_id, day_wise=False)
    return listed(
        "s-user-0008", "Balance retrieved successfully", books.balance_result(client_id, held)
    )


def holdings(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    client_id = client_of(server, request.query.get("clientID"))
    result = books.holdings_result(client_id, server.orders.holdings(client_id))
    return listed("s-portfolio-0002", "Holdings retrieved successfully", result)


def _is_dealer(request: RecordedRequest) -> bool:
    """The dealer paths need clientID; the investor forms of the same books do not."""
    return "/dealer" in request.path
