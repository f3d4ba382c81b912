"""Order writes whose answer may be lost: send once, and reconcile with the order book.

A place, modify or cancel that timed out, was cut off or came back garbled may still have
reached the exchange. The XTS client never retries it; instead each write carries its own
``orderUniqueIdentifier`` and, when its answer is lost, we look for its effect in the
dealer order book: found, the caller gets the real order id and state; not found, the
caller gets ``OutcomeUnknown`` (the order may be live), never a failure.

``reconcile(identifier=...)`` is the plain lookup any order path (placeorder included) can
call after an unknown outcome.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jainam_prop.errors import (
    OutcomeUnknown,
    XTSBadResponse,
    XTSError,
    XTSNotSent,
    XTSUnavailable,
)
from jainam_prop.services import dealer
from jainam_prop.services.books import openalgo_status
from jainam_prop.xts.interactive import InteractiveClient

logger = logging.getLogger(__name__)

# XTS's length limit on orderUniqueIdentifier is unconfirmed, so it stays short: "jp" + 14
# hex digits (56 random bits: no collision in any trading day's orders).
IDENTIFIER_PREFIX = "jp"
IDENTIFIER_LENGTH = 16
# Answers that say nothing about whether the broker acted: timeouts, dropped or cut-off
# connections, 5xx (XTSUnavailable, XTSTimeout) and garbled bodies (XTSBadResponse). A
# connection that never opened (XTSNotSent) is a plain failure: nothing reached XTS.
LOST_ANSWERS: tuple[type[XTSError], ...] = (XTSUnavailable, XTSBadResponse)
# The book may show an order a moment after its answer was lost: read it this many times.
BOOK_READS = 2
BOOK_PAUSE_SECONDS = 0.25


def new_order_identifier() -> str:
    """A fresh ``orderUniqueIdentifier`` for one order write."""
    return IDENTIFIER_PREFIX + secrets.token_hex(8)[: IDENTIFIER_LENGTH - len(IDENTIFIER_PREFIX)]


@dataclass(frozen=True)
class WriteResult:
    """What became of one order write."""

    order_id: str
    identifier: str
    status: str | None = None  # OpenAlgo order_status when read from the book
    reconciled: bool = False  # True when the answer was lost and the book told us
    reason: str = ""  # the broker's reject reason, when the book has one


def reconcile(*, identifier: str, client: InteractiveClient | None = None) -> dict[str, Any] | None:
    """The dealer order-book row written with ``identifier``, or None when there is none.

    Raises ``XTSError`` when the book itself cannot be read.
    """
    rows = dealer.order_rows(client=client)
    found = None
    for row in rows:
        if str(row.get("OrderUniqueIdentifier") or "") == identifier:
            found = row
    return found


def place(xts_order: dict[str, Any], *, client: InteractiveClient | None = None) -> WriteResult:
    """Send one order (its ``orderUniqueIdentifier`` set) once; reconcile a lost answer."""
    identifier = str(xts_order["orderUniqueIdentifier"])
    client = dealer.dealer_client(client)
    client.session_token()  # a failed login is not a lost answer: nothing was sent
    try:
        return WriteResult(order_id=str(client.place_order(xts_order)), identifier=identifier)
    except XTSNotSent:
        raise
    except LOST_ANSWERS as exc:
        lost = exc
    logger.warning("Order %s: answer lost (%s); reconciling with the book", identifier, lost)
    row = _book_row(lambda: reconcile(identifier=identifier, client=client), "place", identifier)
    if row is None:
        raise OutcomeUnknown(action="place", identifier=identifier, cause=type(lost).__name__)
    return _from_row(row, identifier)


def modify(xts_modify: dict[str, Any], *, client: InteractiveClient | None = None) -> WriteResult:
    """Send one modification once; a lost answer is settled by the order's book row."""
    identifier = str(xts_modify["orderUniqueIdentifier"])
    order_id = str(xts_modify["appOrderID"])
    client = dealer.dealer_client(client)
    client.session_token()
    try:
        return WriteResult(order_id=str(client.modify_order(xts_modify)), identifier=identifier)
    except XTSNotSent:
        raise
    except LOST_ANSWERS as exc:
        lost = exc
    logger.warning("Modify %s of order %s: answer lost (%s)", identifier, order_id, lost)
    row = _book_row(
        lambda: _order_row(order_id, client),
        "modify",
        identifier,
        order_id,
        settled=lambda found: _shows_modification(found, xts_modify),
    )
    if row is not None and _shows_modification(row, xts_modify):
        return _from_row(row, identifier)
    raise OutcomeUnknown(
        action="modify", identifier=identifier, order_id=order_id, cause=type(lost).__name__
    )


def cancel(
    *, order_id: str, client_id: str, client: InteractiveClient | None = None
) -> WriteResult:
    """Cancel one order once; a lost answer is settled by the order's book row."""
    identifier = new_order_identifier()
    client = dealer.dealer_client(client)
    client.session_token()
    try:
        cancelled = client.cancel_order(
            app_order_id=int(order_id), client_id=client_id, order_unique_identifier=identifier
        )
        return WriteResult(order_id=str(cancelled), identifier=identifier)
    except XTSNotSent:
        raise
    except LOST_ANSWERS as exc:
        lost = exc
    logger.warning("Cancel of order %s: answer lost (%s)", order_id, lost)
    row = _book_row(
        lambda: _order_row(order_id, client),
        "cancel",
        identifier,
        order_id,
        settled=lambda found: openalgo_status(found) == "cancelled",
    )
    if row is not None and openalgo_status(row) == "cancelled":
        return _from_row(row, identifier)
    raise OutcomeUnknown(
        action="cancel", identifier=identifier, order_id=order_id, cause=type(lost).__name__
    )


def _order_row(order_id: str, client: InteractiveClient) -> dict[str, Any] | None:
    return dealer.find_order_row(dealer.order_rows(client=client), order_id)


def _book_row(
    read: Callable[[], dict[str, Any] | None],
    action: str,
    identifier: str,
    order_id: str | None = None,
    *,
    settled: Callable[[dict[str, Any]], bool] = lambda row: True,
) -> dict[str, Any] | None:
    """``read()`` the book until it shows a ``settled`` row (``BOOK_READS`` times at most);
    an unreadable book leaves the outcome unknown."""
    try:
        row = None
        for attempt in range(BOOK_READS):
            if attempt:
                time.sleep(BOOK_PAUSE_SECONDS)
            row = read()
            if row is not None and settled(row):
                return row
        return row
    except XTSError as exc:
        logger.error(
            "Could not read the order book to reconcile %s %s: %s", action, identifier, exc
        )
        raise OutcomeUnknown(
            action=action, identifier=identifier, order_id=order_id, cause=type(exc).__name__
        ) from exc


def _from_row(row: dict[str, Any], identifier: str) -> WriteResult:
    result = WriteResult(
        order_id=str(row.get("AppOrderID", "")),
        identifier=identifier,
        status=openalgo_status(row),
        reconciled=True,
        reason=str(row.get("CancelRejectReason") or ""),
    )
    logger.info("Reconciled %s: order %s is %s", identifier, result.order_id, result.status)
    return result


def _shows_modification(row: dict[str, Any], xts_modify: dict[str, Any]) -> bool:
    """The book row carries the modification (its identifier, or all its new values)."""
    if str(row.get("OrderUniqueIdentifier") or "") == xts_modify["orderUniqueIdentifier"]:
        return True
    pairs = (
        ("OrderQuantity", "modifiedOrderQuantity"),
        ("OrderPrice", "modifiedLimitPrice"),
        ("OrderStopPrice", "modifiedStopPrice"),
    )
    try:
        return (
            all(
                Decimal(str(row.get(book))) == Decimal(str(xts_modify[sent]))
                for book, sent in pairs
            )
            and str(row.get("OrderType", "")).replace(" ", "").lower()
            == str(xts_modify["modifiedOrderType"]).lower()
        )
    except (ArithmeticError, ValueError):
        return False
