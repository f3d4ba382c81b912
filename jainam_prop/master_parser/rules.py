"""One rule per XTS InstrumentType: the fields of one line in, a row (or a :class:`Skip`) out.

The layout of a line depends on field 3 (InstrumentType) *and* its field count; a line whose
count does not match its type never reaches a rule (it is never re-aligned under another
header). Common first 14 fields (0-based positions below):

    0 ExchangeSegment  1 ExchangeInstrumentID  2 InstrumentType  3 Name  4 Description
    5 Series  6 NameWithSeries  7 InstrumentID  8 PriceBand.High  9 PriceBand.Low
    10 FreezeQty  11 TickSize  12 LotSize  13 Multiplier

OpenAlgo symbols, at a glance:

    cash (8)      NSE: NAME (series EQ) or NAME-SERIES; BSE: NAME (series SPOT: not tradable)
    future (1)    NAME + DDMMMYY + FUT
    option (2)    NAME + DDMMMYY + STRIKE + CE|PE
    spread (4)    skipped: NAME+DDMMMYY+FUT would collide with the real future
    spot (16)     skipped: MCX spot prices and index values are not tradable
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from jainam_prop.master_parser import fields as f
from jainam_prop.master_parser.fields import Skip, malformed, quoted
from jainam_prop.master_parser.frames import NO_EXPIRY, Row, SkipReason
from jainam_prop.vocabulary import CASH_SEGMENTS, MASTER_SEGMENTS

# 0-based positions of the common fields
SEGMENT, TOKEN, TYPE, NAME, DESCRIPTION, SERIES = 0, 1, 2, 3, 4, 5
BAND_HIGH, BAND_LOW, FREEZE_QTY, TICK_SIZE, LOT_SIZE, MULTIPLIER = 8, 9, 10, 11, 12, 13
# after the common 14
CASH_ISIN = 15
UNDERLYING, EXPIRY, STRIKE, OPTION_TYPE = 14, 16, 17, 18

OPTION_KINDS = {"3": "CE", "4": "PE"}


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule needs besides the line: its segment and, to skip dead contracts, today
    as days since 1970-01-01 (None: keep every contract)."""

    segment: str
    today: int | None = None


Rule = Callable[[list[str], Context], Row]


@dataclass(frozen=True, slots=True)
class Layout:
    """An InstrumentType: its field count and its rule."""

    kind: str
    fields: int
    rule: Rule


# --- what every tradable line carries ------------------------------------------------------------


def _common(line: list[str]) -> tuple[int, str, str, str, int, float, int, int, float, float]:
    """(token, name, NAME, brsymbol, lot, tick, multiplier, freeze, band low, band high)."""
    text = line[TOKEN]
    token: int | None
    if text.isdigit() and text.isascii() and len(text) <= 18 and text[0] != "0":
        token = int(text)  # the common case, without a call
    else:
        token = f.token(text)
        if token is None:
            raise malformed(f"token {quoted(text)} is not a positive integer")
    lot = f.lot_size(line[LOT_SIZE])
    if lot is None:
        raise malformed(
            f"lot size {quoted(line[LOT_SIZE])} is not an integer in 1..{f.MAX_LOT_SIZE}"
        )
    tick = f.tick_size(line[TICK_SIZE])
    if tick is None:
        raise malformed(f"tick size {quoted(line[TICK_SIZE])} is not a positive number")
    multiplier = f.multiplier(line[MULTIPLIER])
    if multiplier is None:
        raise malformed(
            f"multiplier {quoted(line[MULTIPLIER])} is not an integer in 1..{f.MAX_MULTIPLIER}"
        )
    name = line[NAME].strip()
    if not name:
        raise malformed("empty name")
    low, high = f.price_bands(line[BAND_LOW], line[BAND_HIGH])
    return (token, name, name.upper(), line[DESCRIPTION].strip(), lot, tick, multiplier,
            f.freeze_qty(line[FREEZE_QTY]), low, high)  # fmt: skip


def _expiry(line: list[str]) -> tuple[int, str]:
    """(days, DDMMMYY) of ContractExpiration."""
    parsed = f.expiry(line[EXPIRY])
    if parsed is None:
        raise malformed(f"contract expiration {quoted(line[EXPIRY])} is not a date")
    return parsed


def _alive(days: int, context: Context) -> None:
    """Skip a contract that expired before today (checked after every malformed check)."""
    if context.today is not None and days < context.today:
        expired = f.expiry_date(days).isoformat()
        today = f.expiry_date(context.today).isoformat()
        raise Skip(SkipReason.EXPIRED, f"expired contract (expiry {expired}, before {today})")


# --- the rules ---------------------------------------------------------------------------------


def cash_row(line: list[str], context: Context) -> Row:
    """Equity: NSE ``NAME`` (series EQ) or ``NAME-SERIES`` (so a BE/SM line never shadows the
    EQ line of the same company); BSE ``NAME`` whatever the series."""
    token, name, upper, brsymbol, lot, tick, multiplier, freeze, low, high = _common(line)
    series = line[SERIES].strip().upper()
    if context.segment == "NSECM":
        if not series:
            raise malformed("empty series on an NSE cash line")
        symbol = upper if series == "EQ" else f"{upper}-{series}"
    else:
        symbol = upper
    f.check_lengths(symbol, name, brsymbol)
    if series == "SPOT" and context.segment == "BSECM":
        raise Skip(SkipReason.NOT_TRADABLE, "BSE SPOT row (index value, not tradable)")
    isin = f.isin(line[CASH_ISIN])
    return (symbol, token, brsymbol, name, NO_EXPIRY, math.nan, lot, tick, "EQ",
            freeze, low, high, multiplier, isin, 0)  # fmt: skip


def future_row(line: list[str], context: Context) -> Row:
    """Future: ``NAME + DDMMMYY + FUT`` (Name, not UnderlyingIndexName: ``SENSEX50``)."""
    token, name, upper, brsymbol, lot, tick, multiplier, freeze, low, high = _common(line)
    days, code = _expiry(line)
    symbol = f"{upper}{code}FUT"
    f.check_lengths(symbol, name, brsymbol)
    _alive(days, context)
    return (symbol, token, brsymbol, name, days, math.nan, lot, tick, "FUT",
            freeze, low, high, multiplier, None, f.underlying_token(line[UNDERLYING]))  # fmt: skip


def option_row(line: list[str], context: Context) -> Row:
    """Option: ``NAME + DDMMMYY + STRIKE + CE|PE``, weekly and monthly alike; STRIKE written
    from the wire digits (``92.50`` → ``92.5``); OptionType 3 = CE, 4 = PE."""
    token, name, upper, brsymbol, lot, tick, multiplier, freeze, low, high = _common(line)
    days, code = _expiry(line)
    strike = f.strike(line[STRIKE])
    if isinstance(strike, str):
        raise malformed(f"strike price {quoted(line[STRIKE])} {strike}")
    kind = OPTION_KINDS.get(line[OPTION_TYPE])
    if kind is None:
        raise malformed(f"option type {quoted(line[OPTION_TYPE])} is not 3 (CE) or 4 (PE)")
    value, strike_text = strike
    symbol = f"{upper}{code}{strike_text}{kind}"
    f.check_lengths(symbol, name, brsymbol)
    _alive(days, context)
    return (symbol, token, brsymbol, name, days, value, lot, tick, kind,
            freeze, low, high, multiplier, None, f.underlying_token(line[UNDERLYING]))  # fmt: skip


def spread_row(line: list[str], context: Context) -> Row:
    """Calendar spread: no OpenAlgo form."""
    raise Skip(
        SkipReason.SPREAD_CONTRACT,
        "calendar spread: no OpenAlgo symbol (it would collide with the future)",
    )


def spot_row(line: list[str], context: Context) -> Row:
    """MCX spot price or commodity index value: no OpenAlgo exchange has a form for it."""
    raise Skip(SkipReason.NOT_TRADABLE, "MCX spot/index row (type 16): not tradable")


CASH = Layout("cash", 22, cash_row)
LAYOUTS_BY_SEGMENT: dict[str, dict[str, Layout]] = {
    segment: (
        {"8": CASH}
        if segment in CASH_SEGMENTS
        else {
            "1": Layout("future", 21, future_row),
            "2": Layout("option", 23, option_row),
            "4": Layout("spread", 21, spread_row),
            "16": Layout("spot", 18, spot_row),
        }
    )
    for segment in MASTER_SEGMENTS
}
