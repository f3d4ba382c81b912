"""Positions and holdings of the test server's clients, built from fills.

A position is kept per (client, segment, token, product) as four legs: today's buys and sells
(DayWise) and buys and sells carried from earlier days (seeded by a control call; NetWise adds
them). ``OrderState`` owns one ``Portfolio`` and guards it with its lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from xts_testserver.wire import Refused

ZERO = Decimal(0)

PositionKey = tuple[str, str, int, str]  # client, segment, token, product
InstrumentLookup = Callable[[str, int], Any]  # (segment, token) -> market.Instrument


@dataclass
class Leg:
    """Traded quantity and value on one side of one position."""

    quantity: int = 0
    value: Decimal = ZERO

    def add(self, quantity: int, price: Decimal) -> None:
        self.quantity += quantity
        self.value += price * quantity

    def take(self, quantity: int) -> Leg:
        """Remove ``quantity`` at this leg's average price; the removed part."""
        price = self.value / self.quantity if self.quantity else ZERO
        self.quantity -= quantity
        self.value -= price * quantity
        return Leg(quantity, price * quantity)

    def merge(self, other: Leg) -> None:
        self.quantity += other.quantity
        self.value += other.value


@dataclass
class Bucket:
    """Buys and sells of one (client, segment, token, product): today's and carried forward."""

    symbol: str
    lot_size: int
    reference_price: Decimal
    day_buy: Leg = field(default_factory=Leg)
    day_sell: Leg = field(default_factory=Leg)
    carry_buy: Leg = field(default_factory=Leg)
    carry_sell: Leg = field(default_factory=Leg)

    def legs(self, *, day_wise: bool) -> tuple[Leg, Leg]:
        """(buys, sells) counted by this view."""
        if day_wise:
            return Leg(self.day_buy.quantity, self.day_buy.value), Leg(
                self.day_sell.quantity, self.day_sell.value
            )
        buy, sell = Leg(), Leg()
        for leg in (self.day_buy, self.carry_buy):
            buy.merge(leg)
        for leg in (self.day_sell, self.carry_sell):
            sell.merge(leg)
        return buy, sell

    def quantity(self, *, day_wise: bool) -> int:
        buy, sell = self.legs(day_wise=day_wise)
        return buy.quantity - sell.quantity

    def traded(self, *, day_wise: bool) -> bool:
        return any(leg.quantity for leg in self.legs(day_wise=day_wise))


class Portfolio:
    """Every client's positions and holdings (not locked: its owner holds the lock)."""

    def __init__(self, instrument: InstrumentLookup) -> None:
        self._instrument = instrument
        self._buckets: dict[PositionKey, Bucket] = {}
        self._holdings: dict[str, dict[str, dict[str, Any]]] = {}

    def positions(self, client_id: str, *, day_wise: bool) -> list[tuple[PositionKey, Bucket]]:
        """The client's positions that traded in this view (flat ones included)."""
        return [
            (key, bucket)
            for key, bucket in self._buckets.items()
            if key[0] == client_id and bucket.traded(day_wise=day_wise)
        ]

    def held(self, key: PositionKey, *, day_wise: bool) -> int:
        bucket = self._buckets.get(key)
        return bucket.quantity(day_wise=day_wise) if bucket else 0

    def add_fill(self, key: PositionKey, *, side: str, quantity: int, price: Decimal) -> None:
        bucket = self._bucket(key)
        (bucket.day_buy if side == "BUY" else bucket.day_sell).add(quantity, price)

    def carry(self, key: PositionKey, *, quantity: int, price: Decimal) -> None:
        bucket = self._bucket(key)
        (bucket.carry_buy if quantity > 0 else bucket.carry_sell).add(abs(quantity), price)

    def convert(self, key: PositionKey, *, new_product: str, day_wise: bool, quantity: int) -> None:
        """Move ``quantity`` of the position ``key`` to ``new_product``, at its average price
        (day-wise: from today's trades; otherwise from carried positions first)."""
        client_id, segment, token, old_product = key
        if old_product == new_product:
            raise Refused("e-portfolio-0003", "oldProductType and newProductType must differ")
        held = self.held(key, day_wise=day_wise)
        if not held or quantity > abs(held):
            raise Refused(
                "e-portfolio-0004",
                f"No {old_product} position of {quantity} or more to convert in {segment} "
                f"{token} (it holds {held})",
            )
        old = self._buckets[key]
        new = self._bucket((client_id, segment, token, new_product))
        side = "buy" if held > 0 else "sell"
        left = quantity
        for kind in ("day",) if day_wise else ("carry", "day"):
            source: Leg = getattr(old, f"{kind}_{side}")
            moved = source.take(min(left, source.quantity))
            getattr(new, f"{kind}_{side}").merge(moved)
            left -= moved.quantity

    def holdings(self, client_id: str) -> dict[str, dict[str, Any]]:
        return {isin: dict(row) for isin, row in self._holdings.get(client_id, {}).items()}

    def set_holding(self, client_id: str, isin: str, row: dict[str, Any]) -> None:
        self._holdings.setdefault(client_id, {})[isin] = row

    def _bucket(self, key: PositionKey) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            instrument = self._instrument(key[1], key[2])
            bucket = Bucket(instrument.symbol, instrument.lot_size, instrument.reference_price)
            self._buckets[key] = bucket
        return bucket
