"""What lookups hand out (``Instrument``, ``TokenBatch``) and what the tiers keep ("records").

A record is one instrument as a tuple of primitives in ``vocabulary.INSTRUMENT_COLUMNS`` order
(expiry as a date ordinal, decimals as canonical text), so that it pickles small, survives a
JSON serializer and costs nothing to hold. A not-found answer is ``NotFound`` in memory and
``(None, suggestions)`` in the cache. ``Instrument`` objects are built from records only when a
caller asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jainam_prop import vocabulary
from jainam_prop.models import DEFAULT_BROKER

Record = tuple[Any, ...]
_ONE = Decimal(1)
_DECIMAL_COLUMNS = frozenset({"strike", "tick_size", "price_band_low", "price_band_high"})
# Positions in a record.
TOKEN = vocabulary.INSTRUMENT_COLUMNS.index("token")
_EXPIRY = vocabulary.INSTRUMENT_COLUMNS.index("expiry")
_DECIMALS = tuple(
    i for i, column in enumerate(vocabulary.INSTRUMENT_COLUMNS) if column in _DECIMAL_COLUMNS
)


@dataclass(frozen=True, slots=True)
class Instrument:
    """One instrument as stored by the last sync. Immutable; shared between callers.

    Carries every ``vocabulary.INSTRUMENT_COLUMNS`` field, in that order, plus ``broker``.
    """

    symbol: str
    exchange: str
    token: int
    brsymbol: str
    brexchange: str
    name: str
    expiry: date | None
    strike: Decimal | None
    lot_size: int
    tick_size: Decimal
    instrument_type: str
    freeze_qty: int | None = None
    price_band_low: Decimal | None = None
    price_band_high: Decimal | None = None
    multiplier: int = 1
    isin: str | None = None
    underlying_token: int | None = None
    broker: str = DEFAULT_BROKER

    def is_dead(self, *, today: date) -> bool:
        """Whether the contract expired before ``today`` (an instrument without expiry never)."""
        return vocabulary.is_dead(self.expiry, today=today)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: expiry as ISO date, decimals (strike, tick, price band) as numbers."""

        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "token": self.token,
            "brsymbol": self.brsymbol,
            "brexchange": self.brexchange,
            "name": self.name,
            "expiry": self.expiry.isoformat() if self.expiry is not None else None,
            "strike": number(self.strike),
            "lot_size": self.lot_size,
            "tick_size": float(self.tick_size),
            "instrument_type": self.instrument_type,
            "freeze_qty": self.freeze_qty,
            "price_band_low": number(self.price_band_low),
            "price_band_high": number(self.price_band_high),
            "multiplier": self.multiplier,
            "isin": self.isin,
            "underlying_token": self.underlying_token,
            "broker": self.broker,
        }


#: ``Instrument`` called with a record's values in column order (as the checker cannot count them).
_new_instrument: Callable[..., Instrument] = Instrument


class TokenBatch(dict[tuple[str, str], int]):
    """Result of ``get_tokens``: ``{(symbol, exchange): token}`` for every pair found.

    Keys are the normalised pairs (trimmed, upper-case), in the order first asked.
    ``missing`` lists the normalised pairs with no instrument, in the same order; they are
    reported here (and logged at WARNING), never silently dropped.
    """

    __slots__ = ("missing",)

    def __init__(
        self,
        found: Iterable[tuple[tuple[str, str], int]] = (),
        missing: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(found)
        self.missing: list[tuple[str, str]] = list(missing)

    def __repr__(self) -> str:
        return f"TokenBatch({dict.__repr__(self)}, missing={self.missing!r})"


class NotFound:
    """A not-found answer; ``suggestions`` is None until computed (batches do not)."""

    __slots__ = ("suggestions",)

    def __init__(self, suggestions: tuple[str, ...] | None = None) -> None:
        self.suggestions = suggestions


#: What a tier holds per key: a record, an Instrument built from one, or not-found.
Entry = Record | Instrument | NotFound


def _text(value: Any) -> str | None:
    """One canonical text whatever the backend returns: "24000", "292.5", "0.05"."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    number = number.quantize(_ONE) if number == number.to_integral_value() else number.normalize()
    return str(number)


def record_of_row(row: Sequence[Any]) -> Record:
    """A record from an ORM ``values_list(*INSTRUMENT_COLUMNS)`` row."""
    values = list(row)
    expiry = values[_EXPIRY]
    values[_EXPIRY] = None if expiry is None else expiry.toordinal()
    for i in _DECIMALS:
        values[i] = _text(values[i])
    return tuple(values)


def instrument(record: Record, broker: str) -> Instrument:
    values = list(record)
    expiry = values[_EXPIRY]
    values[_EXPIRY] = None if expiry is None else date.fromordinal(expiry)
    for i in _DECIMALS:
        if values[i] is not None:
            values[i] = Decimal(values[i])
    return _new_instrument(*values, broker=broker)


def encoded(entry: Entry) -> Record:
    """What the cache stores for an answer."""
    if entry.__class__ is NotFound:
        return (None, entry.suggestions)
    if entry.__class__ is Instrument:
        fields = [getattr(entry, column) for column in vocabulary.INSTRUMENT_COLUMNS]
        return record_of_row(fields)
    return entry  # type: ignore[return-value]


def decoded(value: Sequence[Any]) -> Record | NotFound:
    """A cached answer (a JSON serializer turns tuples into lists)."""
    if value[0] is None:
        return NotFound(None if value[1] is None else tuple(value[1]))
    return value if value.__class__ is tuple else tuple(value)


def token_of(entry: Entry) -> int | None:
    if entry.__class__ is tuple:
        return entry[TOKEN]
    if entry.__class__ is Instrument:
        return entry.token
    return None
