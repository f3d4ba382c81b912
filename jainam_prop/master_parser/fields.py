"""Reading one field of a master line: the value it means, or why it cannot be stored.

Numbers and dates must be exact on the wire (``" 123"`` is not a token). Readers of values
that repeat across a master (lot and tick sizes, expiries, strikes...) are cached per distinct
text, so a 150,000-line master derives each only a few hundred times. A reader answers None for
a value it refuses; the rule that called it words the reason (:class:`Skip`).
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache

from jainam_prop.master_parser.frames import SkipReason
from jainam_prop.vocabulary import expiry_code

# Mirrors of the SymbolToken column sizes (jainam_prop/models.py; a test keeps them in step).
MAX_SYMBOL_LENGTH = 64
MAX_NAME_LENGTH = 64
MAX_BRSYMBOL_LENGTH = 128
MAX_LOT_SIZE = 2**31 - 1  # IntegerField
MAX_MULTIPLIER = 2**31 - 1  # IntegerField
MAX_BIG_INT = 2**63 - 1  # BigIntegerField (token, freeze_qty, underlying_token)
MAX_STRIKE_DECIMALS = 4  # DecimalField(max_digits=14, decimal_places=4)
MAX_STRIKE_DIGITS = 10
MIN_TICK_SIZE = 0.000001  # DecimalField(decimal_places=6)
MAX_TICK_SIZE = 1e8
MAX_PRICE_BAND = 1e10  # DecimalField(max_digits=14, decimal_places=4)
ISIN_LENGTH = 12

BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
BAD_CHARS_DETAIL = "NUL or lone surrogate character (the database cannot store it)"

_CACHE = 4096  # distinct texts remembered per reader (a master has a few hundred)
_EPOCH = date(1970, 1, 1).toordinal()
_EXPIRY = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)
_STRIKE = re.compile(rf"([0-9]{{1,{MAX_STRIKE_DIGITS}}})(?:\.([0-9]+))?")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


class Skip(Exception):
    """A line does not become a row: ``reason`` and a short human ``detail``."""

    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def malformed(detail: str) -> Skip:
    return Skip(SkipReason.MALFORMED_LINE, detail)


def quoted(value: str, limit: int = 24) -> str:
    """``'value'`` cut to ``limit`` characters, for details."""
    return f"'{value[:limit]}'"


def _whole(text: str, *, digits: int, maximum: int) -> int | None:
    """The integer of 1..``digits`` ASCII digits, if it is in 1..``maximum``."""
    if not (0 < len(text) <= digits and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= maximum else None


def token(text: str) -> int | None:
    """ExchangeInstrumentID (or an index-list token): a positive integer."""
    return _whole(text, digits=18, maximum=MAX_BIG_INT)


@lru_cache(maxsize=_CACHE)
def lot_size(text: str) -> int | None:
    return _whole(text, digits=10, maximum=MAX_LOT_SIZE)


@lru_cache(maxsize=_CACHE)
def multiplier(text: str) -> int | None:
    return _whole(text, digits=10, maximum=MAX_MULTIPLIER)


@lru_cache(maxsize=_CACHE)
def tick_size(text: str) -> float | None:
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = float(text)
    return value if MIN_TICK_SIZE <= value < MAX_TICK_SIZE else None


@lru_cache(maxsize=_CACHE)
def freeze_qty(text: str) -> int:
    """FreezeQty, 0 for "no limit": ``0``, empty and garbage (not a positive integer that a
    BigIntegerField holds) all mean the master states no usable limit."""
    return _whole(text, digits=19, maximum=MAX_BIG_INT) or 0


def price_bands(low_text: str, high_text: str) -> tuple[float, float]:
    """(PriceBand.Low, PriceBand.High); both NaN when either is unknown (``NaN``, empty,
    negative, too large for the column) or they are crossed (low above high)."""
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        return math.nan, math.nan
    if 0 <= low <= high < MAX_PRICE_BAND:  # False for NaN
        return low, high
    return math.nan, math.nan


def isin(text: str) -> str | None:
    """ISIN of a cash line: 12 ASCII letters and digits, else None (empty, ``0``, garbage)."""
    text = text.strip()
    if len(text) == ISIN_LENGTH and text.isascii() and text.isalnum():
        return text.upper()
    return None


@lru_cache(maxsize=_CACHE)
def underlying_token(text: str) -> int:
    """UnderlyingInstrumentId of a derivative, 0 for none (``-1`` on index derivatives)."""
    return _whole(text, digits=19, maximum=MAX_BIG_INT) or 0


@lru_cache(maxsize=_CACHE)
def expiry(text: str) -> tuple[int, str] | None:
    """(days since 1970-01-01, DDMMMYY) of a ContractExpiration (``2026-08-25T14:30:00``)."""
    match = _EXPIRY.fullmatch(text)
    if match is None:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return day.toordinal() - _EPOCH, expiry_code(day)


def expiry_date(days: int) -> date:
    return date.fromordinal(days + _EPOCH)


@lru_cache(maxsize=_CACHE)
def strike(text: str) -> tuple[float, str] | str:
    """(value, symbol text) of a StrikePrice, or the end of the reason it is refused.

    The symbol text comes from the wire digits, not from a float: whole strikes lose their
    decimals (``19550.0`` → ``19550``), fractions their trailing zeros (``82.250`` → ``82.25``).
    """
    match = _STRIKE.fullmatch(text)
    if match is None:
        return "is not a positive number"
    whole = match[1].lstrip("0") or "0"
    fraction = (match[2] or "").rstrip("0")
    if len(fraction) > MAX_STRIKE_DECIMALS:
        return f"has more than {MAX_STRIKE_DECIMALS} decimals"
    symbol_text = f"{whole}.{fraction}" if fraction else whole
    value = float(symbol_text)
    if value <= 0:
        return "is not a positive number"
    return value, symbol_text


def check_lengths(symbol: str, name: str, brsymbol: str) -> None:
    """Refuse texts longer than their SymbolToken column."""
    if (
        len(symbol) <= MAX_SYMBOL_LENGTH
        and len(name) <= MAX_NAME_LENGTH
        and len(brsymbol) <= MAX_BRSYMBOL_LENGTH
    ):
        return
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise malformed(f"symbol longer than {MAX_SYMBOL_LENGTH} characters")
    if len(name) > MAX_NAME_LENGTH:
        raise malformed(f"name longer than {MAX_NAME_LENGTH} characters")
    if len(brsymbol) > MAX_BRSYMBOL_LENGTH:
        raise malformed(f"brsymbol longer than {MAX_BRSYMBOL_LENGTH} characters")
