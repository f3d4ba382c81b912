"""The in-memory order state of one test server: orders and their fills, per client, and the
``Portfolio`` (``positions.py``) the fills build.

Pure rules, no HTTP: the dealer endpoints (``dealer.py``, ``portfolio.py``) and the control calls
drive it, and ``books.py`` renders it as XTS rows. Fills are deterministic so a test can steer
them: MARKET orders fill at once at the instrument's reference price; LIMIT and stop orders stay
``New`` until a control call fills (fully or partly), rejects or re-states them.

Size: one thing, the order life cycle (place, modify, cancel, fill, reject) under one lock,
whose rules must be read together; positions and rendering live in their own modules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from xts_testserver.positions import Bucket, InstrumentLookup, Portfolio, PositionKey
from xts_testserver.wire import Refused

IST = ZoneInfo("Asia/Kolkata")
ZERO = Decimal(0)

OPEN_STATUSES = ("PendingNew", "New", "PartiallyFilled", "PendingReplace", "PendingCancel")
FINAL_STATUSES = ("Filled", "Cancelled", "Rejected")
STATUSES = (*OPEN_STATUSES, *FINAL_STATUSES)
FIRST_EXCHANGE_ORDER_ID = 1100000000000000


def not_found(app_order_id: Any) -> Refused:
    return Refused("e-orders-0010", f"Order not found: appOrderID {app_order_id}")


@dataclass(frozen=True)
class Fill:
    """One trade (execution) of an order."""

    execution_id: str
    quantity: int
    price: Decimal
    time: datetime


@dataclass
class Order:
    app_order_id: int
    client_id: str
    segment: str
    token: int
    symbol: str
    side: str  # BUY | SELL
    order_type: str  # MARKET | LIMIT | STOPLIMIT | STOPMARKET (as sent)
    product: str
    time_in_force: str
    quantity: int
    disclosed: int
    limit_price: Decimal
    stop_price: Decimal
    unique_id: str
    reference_price: Decimal
    status: str
    generated: datetime
    updated: datetime
    exchange_order_id: str = ""
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # snapshots, oldest first

    @property
    def filled(self) -> int:
        return sum(f.quantity for f in self.fills)

    @property
    def leaves(self) -> int:
        return 0 if self.status in FINAL_STATUSES else self.quantity - self.filled

    @property
    def average_price(self) -> Decimal | None:
        if not self.fills:
            return None
        return sum((f.price * f.quantity for f in self.fills), ZERO) / self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class OrderState:
    """Orders and positions of every client of one server (thread-safe)."""

    def __init__(self, *, first_app_order_id: int, instrument: InstrumentLookup) -> None:
        self._first_app_order_id = first_app_order_id
        self._instrument = instrument
        self._lock = threading.RLock()
        self.fill_market_orders = True
        self.status_on_place = "New"  # or PendingNew: orders wait for a control call
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._orders: dict[int, Order] = {}
            self._next_id = self._first_app_order_id
            self._next_execution = 1
            self._portfolio = Portfolio(self._instrument)
            self.fill_market_orders = True
            self.status_on_place = "New"

    @property
    def lock(self) -> threading.RLock:
        """Hold it while reading orders and positions field by field (books rendering)."""
        return self._lock

    # ------------------------------------------------------------------ reads

    def orders(self, client_id: str | None = None) -> list[Order]:
        with self._lock:
            return [o for o in self._orders.values() if client_id in (None, o.client_id)]

    def order(self, app_order_id: Any, *, client_id: str | None = None) -> Order:
        """The order, if it exists and (when ``client_id`` is given) belongs to that client."""
        with self._lock:
            try:
                order = self._orders[int(app_order_id)]
            except (KeyError, TypeError, ValueError):
                raise not_found(app_order_id) from None
            if client_id is not None and order.client_id != client_id:
                raise not_found(app_order_id)  # as XTS: another client's order is not yours
            return order

    def positions(self, client_id: str, *, day_wise: bool) -> list[tuple[PositionKey, Bucket]]:
        with self._lock:
            return self._portfolio.positions(client_id, day_wise=day_wise)

    def holdings(self, client_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._portfolio.holdings(client_id)

    # ------------------------------------------------------------------ orders

    def place(
        self,
        *,
        client_id: str,
        segment: str,
        token: int,
        side: str,
        order_type: str,
        product: str,
        time_in_force: str,
        quantity: int,
        disclosed: int,
        limit_price: Decimal,
        stop_price: Decimal,
        unique_id: str,
    ) -> Order:
        instrument = self._instrument(segment, token)
        now = datetime.now(IST)
        with self._lock:
            order = Order(
                app_order_id=self._next_id,
                client_id=client_id,
                segment=segment,
                token=token,
                symbol=instrument.symbol,
                side=side,
                order_type=order_type,
                product=product,
                time_in_force=time_in_force,
                quantity=quantity,
                disclosed=disclosed,
                limit_price=limit_price,
                stop_price=stop_price,
                unique_id=unique_id,
                reference_price=instrument.reference_price,
                status="PendingNew",
                generated=now,
                updated=now,
            )
            self._next_id += 1
            self._orders[order.app_order_id] = order
            self._set_status(order, "PendingNew")
            if self.status_on_place == "New":
                self._set_status(order, "New")
                self._fill_if_market(order)
            return order

    def modify(
        self,
        *,
        client_id: str,
        app_order_id: Any,
        product: str,
        order_type: str,
        quantity: int,
        disclosed: int,
        limit_price: Decimal,
        stop_price: Decimal,
        time_in_force: str,
        unique_id: str,
    ) -> Order:
        with self._lock:
            order = self.order(app_order_id, client_id=client_id)
            if not order.is_open or order.status == "PendingCancel":
                raise Refused(
                    "e-orders-0012",
                    f"Order {order.app_order_id} cannot be modified: its status is {order.status}",
                )
            if quantity <= order.filled:
                raise Refused(
                    "e-orders-0013",
                    f"modifiedOrderQuantity {quantity} must exceed the quantity already filled "
                    f"({order.filled})",
                )
            self._set_status(order, "PendingReplace")
            order.product, order.order_type, order.quantity = product, order_type, quantity
            order.disclosed, order.limit_price, order.stop_price = (
                disclosed,
                limit_price,
                stop_price,
            )
            order.time_in_force = time_in_force
            order.unique_id = unique_id or order.unique_id
            self._set_status(order, "PartiallyFilled" if order.fills else "New")
            self._fill_if_market(order)
            return order

    def cancel(self, *, client_id: str, app_order_id: Any) -> Order:
        with self._lock:
            order = self.order(app_order_id, client_id=client_id)
            if not order.is_open or order.status == "PendingCancel":
                raise Refused(
                    "e-orders-0011",
                    f"Order {order.app_order_id} cannot be cancelled: its status is {order.status}",
                )
            self._set_status(order, "PendingCancel")
            self._set_status(order, "Cancelled")
            return order

    def cancel_all(self, *, client_id: str, segment: str, token: int) -> list[Order]:
        with self._lock:
            chosen = [
                o
                for o in self._orders.values()
                if o.client_id == client_id
                and o.segment == segment
                and o.token == token
                and o.is_open
                and o.status != "PendingCancel"
            ]
            for order in chosen:
                self._set_status(order, "PendingCancel")
                self._set_status(order, "Cancelled")
            return chosen

    # ------------------------------------------------------------------ control

    def fill(
        self, app_order_id: Any, *, quantity: int | None = None, price: Decimal | None = None
    ) -> Order:
        """Fill ``quantity`` (default: all that is left) at ``price`` (default: the limit price,
        or the reference price for market and stop-market orders)."""
        with self._lock:
            order = self.order(app_order_id)
            if not order.is_open:
                raise ValueError(f"Order {order.app_order_id} is {order.status}: nothing to fill")
            left = order.quantity - order.filled
            quantity = left if quantity is None else int(quantity)
            if not 0 < quantity <= left:
                raise ValueError(f"quantity must be from 1 to {left}, got {quantity}")
            self._fill(order, quantity, price if price is not None else self._fill_price(order))
            return order

    def reject(self, app_order_id: Any, *, reason: str) -> Order:
        with self._lock:
            order = self.order(app_order_id)
            if not order.is_open:
                raise ValueError(f"Order {order.app_order_id} is {order.status}: cannot reject")
            order.reason = reason
            self._set_status(order, "Rejected")
            return order

    def set_status(self, app_order_id: Any, *, status: str, reason: str = "") -> Order:
        if status not in STATUSES:
            raise ValueError(f"Unknown status {status!r}; valid: {', '.join(STATUSES)}")
        with self._lock:
            order = self.order(app_order_id)
            if reason:
                order.reason = reason
            self._set_status(order, status)
            return order

    def carry(
        self,
        *,
        client_id: str,
        segment: str,
        token: int,
        product: str,
        quantity: int,
        price: Decimal,
    ) -> None:
        """Add a position carried from earlier days (NetWise shows it, DayWise does not)."""
        with self._lock:
            self._portfolio.carry(
                (client_id, segment, token, product), quantity=quantity, price=price
            )

    def set_holding(self, *, client_id: str, isin: str, row: dict[str, Any]) -> None:
        with self._lock:
            self._portfolio.set_holding(client_id, isin, row)

    # ------------------------------------------------------------------ portfolio

    def convert(
        self,
        *,
        client_id: str,
        segment: str,
        token: int,
        old_product: str,
        new_product: str,
        day_wise: bool,
        quantity: int,
    ) -> None:
        with self._lock:
            self._portfolio.convert(
                (client_id, segment, token, old_product),
                new_product=new_product,
                day_wise=day_wise,
                quantity=quantity,
            )

    def squareoff(
        self,
        *,
        client_id: str,
        segment: str,
        token: int,
        product: str,
        day_wise: bool,
        quantity: int | None,
        percentage: int | None = None,
        cancel_orders: bool = False,
    ) -> Order:
        """An opposite MARKET order for ``quantity`` (or ``percentage``) of the position."""
        with self._lock:
            held = self._portfolio.held((client_id, segment, token, product), day_wise=day_wise)
            if not held:
                mode = "DayWise" if day_wise else "NetWise"
                raise Refused(
                    "e-portfolio-0005",
                    f"No open {product} {mode} position in {segment} {token} to square off",
                )
            if percentage is not None:
                quantity = abs(held) * percentage // 100
            if quantity is None or not 0 < quantity <= abs(held):
                raise Refused(
                    "e-portfolio-0006",
                    f"Square-off quantity must be from 1 to {abs(held)}, got {quantity}",
                )
            if cancel_orders:
                self.cancel_all(client_id=client_id, segment=segment, token=token)
            return self._market_order(
                client_id=client_id,
                segment=segment,
                token=token,
                product=product,
                side="SELL" if held > 0 else "BUY",
                quantity=quantity,
            )

    def squareoff_all(self, *, client_id: str, day_wise: bool) -> list[Order]:
        with self._lock:
            placed = []
            for (client, segment, token, product), bucket in self._portfolio.positions(
                client_id, day_wise=day_wise
            ):
                held = bucket.quantity(day_wise=day_wise)
                if not held:
                    continue
                placed.append(
                    self._market_order(
                        client_id=client,
                        segment=segment,
                        token=token,
                        product=product,
                        side="SELL" if held > 0 else "BUY",
                        quantity=abs(held),
                    )
                )
            return placed

    # ------------------------------------------------------------------ internals

    def _market_order(
        self, *, client_id: str, segment: str, token: int, product: str, side: str, quantity: int
    ) -> Order:
        return self.place(
            client_id=client_id,
            segment=segment,
            token=token,
            side=side,
            order_type="MARKET",
            product=product,
            time_in_force="DAY",
            quantity=quantity,
            disclosed=0,
            limit_price=ZERO,
            stop_price=ZERO,
            unique_id="squareoff",
        )

    def _fill_if_market(self, order: Order) -> None:
        if order.order_type == "MARKET" and self.fill_market_orders and order.is_open:
            self._fill(order, order.quantity - order.filled, order.reference_price)

    def _fill_price(self, order: Order) -> Decimal:
        if order.order_type in ("LIMIT", "STOPLIMIT") and order.limit_price > 0:
            return order.limit_price
        return order.reference_price

    def _fill(self, order: Order, quantity: int, price: Decimal) -> None:
        now = datetime.now(IST)
        order.fills.append(Fill(str(self._next_execution), quantity, price, now))
        self._next_execution += 1
        self._portfolio.add_fill(
            (order.client_id, order.segment, order.token, order.product),
            side=order.side,
            quantity=quantity,
            price=price,
        )
        self._set_status(order, "Filled" if order.filled >= order.quantity else "PartiallyFilled")

    def _set_status(self, order: Order, status: str) -> None:
        order.status = status
        order.updated = datetime.now(IST)
        if status != "PendingNew" and not order.exchange_order_id and status != "Rejected":
            order.exchange_order_id = str(
                FIRST_EXCHANGE_ORDER_ID + order.app_order_id - self._first_app_order_id
            )
        order.history.append(
            {
                "status": status,
                "time": order.updated,
                "filled": order.filled,
                "quantity": order.quantity,
                "order_type": order.order_type,
                "product": order.product,
                "limit_price": order.limit_price,
                "stop_price": order.stop_price,
                "average_price": order.average_price,
            }
        )
