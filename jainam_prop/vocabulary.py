"""The words jainam-prop speaks: XTS segments, OpenAlgo exchanges, months, instrument types,
instrument columns, expiry codes, strike texts, the OpenAlgo symbol grammar and index names.

Pure and dependency-free (standard library only, nothing of the project, no Django), so that
the parser, the services, the faces and the tests all share one definition of each word.
The rules themselves are documented in ``docs/symbols.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

# --- segments and exchanges --------------------------------------------------------------------

#: XTS segments whose instrument master is downloaded, in sync order.
MASTER_SEGMENTS: tuple[str, ...] = ("NSECM", "BSECM", "NSEFO", "BSEFO", "NSECD", "MCXFO")
#: XTS segments that also publish an index list.
INDEX_SEGMENTS: tuple[str, ...] = ("NSECM", "BSECM")
#: Cash segments (InstrumentType 8 lines); the others are derivatives segments.
CASH_SEGMENTS: frozenset[str] = frozenset({"NSECM", "BSECM"})
#: XTS numeric segment codes (``exchangeSegment=1`` in index-list calls).
SEGMENT_CODES: dict[str, int] = {
    "NSECM": 1,
    "NSEFO": 2,
    "NSECD": 3,
    "BSECM": 11,
    "BSEFO": 12,
    "MCXFO": 51,
}
#: OpenAlgo exchange of each XTS master segment.
EXCHANGE_BY_SEGMENT: dict[str, str] = {
    "NSECM": "NSE",
    "BSECM": "BSE",
    "NSEFO": "NFO",
    "BSEFO": "BFO",
    "NSECD": "CDS",
    "MCXFO": "MCX",
}
#: OpenAlgo exchange of each index list.
INDEX_EXCHANGE_BY_SEGMENT: dict[str, str] = {"NSECM": "NSE_INDEX", "BSECM": "BSE_INDEX"}
#: The eight OpenAlgo exchanges.
EXCHANGES: tuple[str, ...] = (
    *EXCHANGE_BY_SEGMENT.values(),
    *INDEX_EXCHANGE_BY_SEGMENT.values(),
)
#: XTS segment of each OpenAlgo exchange (both index exchanges map to their cash segment).
SEGMENT_BY_EXCHANGE: dict[str, str] = {
    **{exchange: segment for segment, exchange in EXCHANGE_BY_SEGMENT.items()},
    **{exchange: segment for segment, exchange in INDEX_EXCHANGE_BY_SEGMENT.items()},
}
#: Exchanges whose instruments are futures and options.
FNO_EXCHANGES: frozenset[str] = frozenset({"NFO", "BFO", "CDS", "MCX"})

# --- months, instrument types, columns ---------------------------------------------------------

#: English upper-case month abbreviations (never the locale's), January first.
MONTHS: tuple[str, ...] = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
_MONTH_NUMBER = {month: number for number, month in enumerate(MONTHS, start=1)}

#: ``SymbolToken.instrument_type`` values.
INSTRUMENT_TYPES: tuple[str, ...] = ("EQ", "FUT", "CE", "PE", "INDEX")
#: Instrument types of derivatives (those with an expiry).
DERIVATIVE_TYPES: frozenset[str] = frozenset({"FUT", "CE", "PE"})

#: The SymbolToken fields a master line fills (every concrete field but ``id`` and ``broker``),
#: in model order: the one list of instrument columns, used by parser, sync and lookups.
INSTRUMENT_COLUMNS: tuple[str, ...] = (
    "symbol",
    "exchange",
    "token",
    "brsymbol",
    "brexchange",
    "name",
    "expiry",
    "strike",
    "lot_size",
    "tick_size",
    "instrument_type",
    "freeze_qty",
    "price_band_low",
    "price_band_high",
    "multiplier",
    "isin",
    "underlying_token",
)

# --- dates -------------------------------------------------------------------------------------

IST = ZoneInfo("Asia/Kolkata")


def today_ist() -> date:
    """Today's date in India (Asia/Kolkata), whatever the server's time zone."""
    return datetime.now(IST).date()


def is_dead(expiry: date | None, *, today: date) -> bool:
    """Whether a contract expiring on ``expiry`` is dead on ``today`` (no expiry: never)."""
    return expiry is not None and expiry < today


def expiry_code(expiry: date) -> str:
    """``DDMMMYY`` of an expiry date: ``date(2026, 8, 25)`` → ``"25AUG26"``."""
    return f"{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def api_expiry(expiry: date | None) -> str:
    """OpenAlgo's expiry in API answers, ``DD-MMM-YY``: ``date(2026, 8, 25)`` → ``"25-AUG-26"``;
    ``""`` without one."""
    if expiry is None:
        return ""
    return f"{expiry.day:02d}-{MONTHS[expiry.month - 1]}-{expiry.year % 100:02d}"


_EXPIRY_CODE = re.compile(r"([0-9]{2})([A-Z]{3})([0-9]{2})")


def parse_expiry_code(text: str) -> date | None:
    """The date of a ``DDMMMYY`` code (``"25AUG26"`` → 2026-08-25), None if it is not one.

    Two-digit years are 20YY (XTS lists no contract before 2000).
    """
    match = _EXPIRY_CODE.fullmatch(text.upper())
    if match is None or match[2] not in _MONTH_NUMBER:
        return None
    try:
        return date(2000 + int(match[3]), _MONTH_NUMBER[match[2]], int(match[1]))
    except ValueError:
        return None


# --- strikes -----------------------------------------------------------------------------------


def strike_text(strike: Decimal | int | str) -> str:
    """A strike as written in OpenAlgo symbols: whole numbers without decimals, fractions
    without trailing zeros (``Decimal("20800.00")`` → ``"20800"``, ``"292.50"`` → ``"292.5"``).
    """
    value = strike if isinstance(strike, Decimal) else Decimal(str(strike))
    if not value.is_finite():
        raise ValueError(f"strike {strike!r} is not a finite number")
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


# --- the OpenAlgo symbol grammar ---------------------------------------------------------------

DERIVATIVE_KINDS: tuple[str, ...] = ("FUT", "CE", "PE")
_MONTH_ALTERNATION = "|".join(MONTHS)
_FUTURE_SYMBOL = re.compile(
    rf"(?P<name>.+)(?P<code>[0-9]{{2}}(?:{_MONTH_ALTERNATION})[0-9]{{2}})FUT"
)
_OPTION_SYMBOL = re.compile(
    rf"(?P<name>.+?)(?P<code>[0-9]{{2}}(?:{_MONTH_ALTERNATION})[0-9]{{2}})"
    r"(?P<strike>[0-9]+(?:\.[0-9]+)?)(?P<kind>CE|PE)"
)


@dataclass(frozen=True, slots=True)
class ParsedSymbol:
    """The parts of an OpenAlgo derivative symbol (``NIFTY28NOV2424000CE``)."""

    name: str
    expiry: date
    strike: Decimal | None  # None for futures
    kind: str  # FUT, CE or PE

    @property
    def symbol(self) -> str:
        """The symbol these parts make (canonical form)."""
        return derivative_symbol(
            name=self.name, expiry=self.expiry, strike=self.strike, kind=self.kind
        )


def derivative_symbol(*, name: str, expiry: date, strike: Decimal | None, kind: str) -> str:
    """``NAME + DDMMMYY + FUT`` or ``NAME + DDMMMYY + STRIKE + CE|PE`` (upper-case)."""
    if kind == "FUT":
        return f"{name.upper()}{expiry_code(expiry)}FUT"
    if kind not in ("CE", "PE") or strike is None:
        raise ValueError(f"an option needs a strike and kind CE or PE, got {strike!r} {kind!r}")
    return f"{name.upper()}{expiry_code(expiry)}{strike_text(strike)}{kind}"


def parse_symbol(symbol: str) -> ParsedSymbol | None:
    """Split an OpenAlgo future or option symbol into its parts; None for any other text
    (equities, indices, malformed symbols, impossible dates such as ``31FEB26``).

    ``SENSEX5028NOV24FUT`` → name ``SENSEX50``, expiry 2024-11-28, kind FUT;
    ``VEDL25APR24292.5CE`` → name ``VEDL``, strike 292.5, kind CE.
    """
    text = symbol.strip().upper()
    for pattern in (_FUTURE_SYMBOL, _OPTION_SYMBOL):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        expiry = parse_expiry_code(match["code"])
        if expiry is None:
            return None
        if pattern is _FUTURE_SYMBOL:
            return ParsedSymbol(name=match["name"], expiry=expiry, strike=None, kind="FUT")
        try:
            strike = Decimal(match["strike"])
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            return None
        return ParsedSymbol(name=match["name"], expiry=expiry, strike=strike, kind=match["kind"])
    return None


# --- index names -------------------------------------------------------------------------------

#: XTS NSE index names with a special OpenAlgo symbol.
NSE_INDEX_SYMBOLS: dict[str, str] = {
    "NIFTY 50": "NIFTY",
    "NIFTY BANK": "BANKNIFTY",
    "NIFTY FIN SERVICE": "FINNIFTY",
    "NIFTY MID SELECT": "MIDCPNIFTY",
    "NIFTY NEXT 50": "NIFTYNXT50",
    "INDIA VIX": "INDIAVIX",
}
#: XTS BSE index short codes with a documented OpenAlgo ``BSE_INDEX`` symbol.
BSE_INDEX_SYMBOLS: dict[str, str] = {
    "SENSEX": "SENSEX",
    "BANKEX": "BANKEX",
    "SNSX50": "SENSEX50",
    "SNXT50": "BSESENSEXNEXT50",
    "MID150": "BSE150MIDCAPINDEX",
    "LMI250": "BSE250LARGEMIDCAPINDEX",
    "MSL400": "BSE400MIDSMALLCAPINDEX",
    "AUTO": "BSEAUTO",
    "BSE CG": "BSECAPITALGOODS",
    "CARBON": "BSECARBONEX",
    "BSE CD": "BSECONSUMERDURABLES",
    "CPSE": "BSECPSE",
    "DOL30": "BSEDOLLEX30",
    "DOL100": "BSEDOLLEX100",
    "DOL200": "BSEDOLLEX200",
    "ENERGY": "BSEENERGY",
    "BSEFMC": "BSEFASTMOVINGCONSUMERGOODS",
    "FIN": "BSEFINANCIALSERVICES",
    "FINSER": "BSEFINANCIALSERVICES",
    "GREENX": "BSEGREENEX",
    "BSE HC": "BSEHEALTHCARE",
    "INFRA": "BSEINDIAINFRASTRUCTUREINDEX",
    "INDSTR": "BSEINDUSTRIALS",
    "BSE IT": "BSEINFORMATIONTECHNOLOGY",
    "LRGCAP": "BSELARGECAP",
    "METAL": "BSEMETAL",
    "MIDCAP": "BSEMIDCAP",
    "MIDSEL": "BSEMIDCAPSELECTINDEX",
    "OILGAS": "BSEOIL&GAS",
    "POWER": "BSEPOWER",
    "BSEPBI": "BSEPSU",
    "REALTY": "BSEREALTY",
    "SMLCAP": "BSESMALLCAP",
    "SMLSEL": "BSESMALLCAPSELECTINDEX",
    "SMEIPO": "BSESMEIPO",
    "TECK": "BSETECK",
    "TELCOM": "BSETELECOM",
}
_INDEX_SYMBOLS_BY_SEGMENT = {"NSECM": NSE_INDEX_SYMBOLS, "BSECM": BSE_INDEX_SYMBOLS}
_SPACES = re.compile(r"\s+")
_CLEANED_AWAY = re.compile(r"[\s\-]+")


def index_symbol(name: str, *, segment: str) -> str:
    """The OpenAlgo symbol of an XTS index name of ``segment`` (NSECM or BSECM).

    The special names first (``NIFTY 50`` → ``NIFTY``, ``DOL30`` → ``BSEDOLLEX30``), then the
    clean-up rule: upper-case with whitespace and hyphens removed (``NIFTY 100`` →
    ``NIFTY100``). Raises ValueError for a segment without an index list.
    """
    table = _INDEX_SYMBOLS_BY_SEGMENT.get(segment)
    if table is None:
        valid = ", ".join(INDEX_SEGMENTS)
        raise ValueError(f"Unknown index segment {segment!r}; valid segments: {valid}")
    key = _SPACES.sub(" ", name.strip().upper())
    return table.get(key) or _CLEANED_AWAY.sub("", key)
