"""Dealer-account calls: which client we act for, and one function per XTS dealer endpoint.

The dealer (prop) account acts for one client, ``JAINAM_CLIENT_ID``; every call names it.
The functions here add the client id and return XTS's own rows; ``books`` maps them to
OpenAlgo. Order writes live in ``reconcile`` (they need the book when an answer is lost).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from jainam_prop.errors import MissingSetting
from jainam_prop.xts.interactive import InteractiveClient, interactive_client_from_settings

NET_WISE = "NetWise"


def dealer_client_id() -> str:
    """The client the dealer account acts for; ``MissingSetting`` before anything is sent."""
    client_id = settings.JAINAM_CLIENT_ID
    if not client_id:
        raise MissingSetting("JAINAM_CLIENT_ID", "act for a client of the Jainam dealer account")
    return client_id


def dealer_client(client: InteractiveClient | None = None) -> InteractiveClient:
    """``client`` or the calling thread's client for the configured interactive root."""
    return client or interactive_client_from_settings()


def order_rows(*, client: InteractiveClient | None = None) -> list[dict[str, Any]]:
    """Today's dealer order book rows of the configured client."""
    client_id = dealer_client_id()
    return dealer_client(client).order_book(client_id=client_id)


def trade_rows(*, client: InteractiveClient | None = None) -> list[dict[str, Any]]:
    """Today's dealer trade book rows of the configured client."""
    client_id = dealer_client_id()
    return dealer_client(client).trade_book(client_id=client_id)


def position_rows(*, client: InteractiveClient | None = None) -> list[dict[str, Any]]:
    """Net-wise dealer position rows of the configured client."""
    client_id = dealer_client_id()
    return dealer_client(client).positions(client_id=client_id, day_or_net=NET_WISE)


def balance_result(*, client: InteractiveClient | None = None) -> Any:
    """The configured client's balance, as XTS answers it."""
    client_id = dealer_client_id()
    return dealer_client(client).balance(client_id=client_id)


def holdings_result(*, client: InteractiveClient | None = None) -> Any:
    """The configured client's holdings, as XTS answers them."""
    client_id = dealer_client_id()
    return dealer_client(client).holdings(client_id=client_id)


def find_order_row(rows: list[dict[str, Any]], order_id: str | int) -> dict[str, Any] | None:
    """The book row of one AppOrderID (the latest row if the book repeats it)."""
    wanted = str(order_id).strip()
    found = None
    for row in rows:
        if str(row.get("AppOrderID", "")).strip() == wanted:
            found = row
    return found
