"""Pre-trade rules: what the exchange would refuse, known from the instrument record.

One place for every order endpoint (place, split, and the lifecycle's modify, smart and
basket orders): a dead contract, a quantity that is not whole lots, a quantity at or over the
freeze limit, a price off the tick grid. Each rule is a plain function that raises a typed
``OrderInvalid`` (``ContractExpired``, ``NotWholeLots``, ``OverFreezeLimit``,
``OffTickPrice``) carrying the numbers a face needs to word the fix; nothing here sends,
logs or renders.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from jainam_prop.errors import ContractExpired, NotWholeLots, OffTickPrice, OverFreezeLimit
from jainam_prop.services.lookups import Instrument, live_contracts_near
from jainam_prop.services.orders.fields import PRICETYPES_WITH_PRICE, PRICETYPES_WITH_TRIGGER
from jainam_prop.vocabulary import FNO_EXCHANGES, is_dead

#: Alternatives offered with a dead-contract refusal.
ALTERNATIVES = 3


def check_order(
    *,
    instrument: Instrument,
    quantity: int,
    pricetype: str,
    price: Decimal,
    trigger_price: Decimal,
    today: date,
    quantity_field: str = "quantity",
) -> None:
    """Every rule for one order to the exchange, in the order a trader fixes them."""
    check_live(instrument=instrument, today=today)
    check_lot_size(instrument=instrument, quantity=quantity, field=quantity_field)
    check_freeze_limit(instrument=instrument, quantity=quantity, field=quantity_field)
    if pricetype in PRICETYPES_WITH_PRICE:
        check_tick(instrument=instrument, price=price, field="price")
    if pricetype in PRICETYPES_WITH_TRIGGER:
        check_tick(instrument=instrument, price=trigger_price, field="trigger_price")


def check_live(*, instrument: Instrument, today: date) -> None:
    """A contract whose expiry date is before ``today`` (Asia/Kolkata) is dead."""
    expiry = instrument.expiry
    if expiry is None or not is_dead(expiry, today=today):
        return
    raise ContractExpired(
        symbol=instrument.symbol,
        exchange=instrument.exchange,
        expiry=expiry,
        alternatives=tuple(
            live.symbol for live in live_alternatives(instrument=instrument, today=today)
        ),
    )


def check_lot_size(*, instrument: Instrument, quantity: int, field: str = "quantity") -> None:
    """F&O quantities are whole lots."""
    lot_size = int(instrument.lot_size or 0)
    if instrument.exchange in FNO_EXCHANGES and lot_size > 1 and quantity % lot_size:
        raise NotWholeLots(
            field=field, quantity=quantity, lot_size=lot_size, symbol=instrument.symbol
        )


def check_freeze_limit(*, instrument: Instrument, quantity: int, field: str = "quantity") -> None:
    """Over the exchange's freeze limit when ``quantity >= FreezeQty`` (see ``max_quantity``)."""
    freeze_qty = instrument.freeze_qty
    if freeze_qty and freeze_qty > 0 and quantity >= freeze_qty:
        raise OverFreezeLimit(
            field=field,
            quantity=quantity,
            freeze_qty=int(freeze_qty),
            max_quantity=max_quantity(instrument=instrument) or 0,
            symbol=instrument.symbol,
        )


def max_quantity(*, instrument: Instrument) -> int | None:
    """The largest legal quantity in one order, or None when the master sets no limit.

    Real NSEFO ``FreezeQty`` is the published limit plus one (NIFTY 1801 for 1800), so the
    largest legal F&O order is the biggest lot multiple below it (NIFTY, lot 65: 1755).
    """
    freeze_qty = instrument.freeze_qty
    if not freeze_qty or freeze_qty <= 0:
        return None
    lot_size = _lot(instrument)
    return (int(freeze_qty) - 1) // lot_size * lot_size


def freeze_limit(*, instrument: Instrument) -> int | None:
    """The exchange's published per-order limit (FreezeQty minus one), None without one."""
    freeze_qty = instrument.freeze_qty
    return int(freeze_qty) - 1 if freeze_qty and freeze_qty > 0 else None


def check_tick(*, instrument: Instrument, price: Decimal, field: str) -> None:
    """``price`` is a whole multiple of the tick size (decimal arithmetic, never floats)."""
    tick_size = Decimal(instrument.tick_size)
    if tick_size > 0 and price % tick_size != 0:
        raise OffTickPrice(field=field, price=price, tick_size=tick_size, symbol=instrument.symbol)


def lot_multiple(*, instrument: Instrument) -> int:
    """The quantity step of an order: the lot size on F&O exchanges, else 1."""
    return _lot(instrument)


def live_alternatives(*, instrument: Instrument, today: date) -> list[Instrument]:
    """Live contracts of the same underlying and kind nearest the instrument's expiry."""
    return live_contracts_near(
        name=instrument.name,
        exchange=instrument.exchange,
        kind=instrument.instrument_type,
        expiry=instrument.expiry,
        strike=instrument.strike,
        today=today,
        limit=ALTERNATIVES,
        broker=instrument.broker,
    )


def _lot(instrument: Instrument) -> int:
    lot_size = int(instrument.lot_size or 0)
    return lot_size if instrument.exchange in FNO_EXCHANGES and lot_size > 1 else 1
