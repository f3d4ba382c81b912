"""Pure parser of the XTS instrument master: wire text (and index lists) in, DataFrames out.

No Django, no network: :func:`parse_master` takes the ``result`` string of one
``POST /instruments/master`` call, :func:`parse_index_list` the ``indexList`` of one
``GET /instruments/indexlist`` call, and both return a :class:`ParsedMaster`: a DataFrame of
``SymbolToken`` rows (``ROW_COLUMNS``) plus a DataFrame of skipped lines with a reason
(``SKIPPED_COLUMNS``). Every line read ends up in exactly one of the two, whatever the input:
``len(rows) + len(skipped) == sum(lines.values())``. The functions raise only on a bad
``segment`` argument, never on content.

The OpenAlgo symbol rules live here and nowhere else; other modules import the constants.

Wire layout
    Lines split by ``\\n`` (a trailing newline does not start another line; ``\\r\\n`` is
    accepted), fields by ``|``, no header, no quoting. The layout depends on field 3
    (InstrumentType) *and* the field count: 8 → 22 fields (cash), 1 → 21 (future),
    2 → 23 (option), 4 → 21 (spread), 16 → 18 (MCX spot / commodity index). A line whose
    count does not match its type is skipped, never re-aligned under another header.

Columns
    ``token`` = ExchangeInstrumentID (field 2), ``brsymbol`` = Description, ``brexchange`` =
    ExchangeSegment (field 1; it must be the requested segment), ``name`` = Name,
    ``lot_size`` = LotSize, ``tick_size`` = TickSize, ``expiry`` = the date part of
    ContractExpiration, ``strike`` = StrikePrice, OptionType 3 = CE and 4 = PE.
    The ``rows`` frame is indexed by ``line_no`` (1-based within its ``source``).

OpenAlgo symbols
    - NSE cash, series EQ: the bare Name (``SBIN``). Other NSE series: ``NAME-SERIES``, NSE's
      own form, as in the Description (``TNTELE-BE``, ``SAAKSHI-SM``), so that a BE/SM/GS line
      never shadows the EQ line of the same company.
    - BSE cash: the Name, series ignored; series ``SPOT`` rows (exchange index values listed as
      cash, e.g. ``BSEIPO``) are not tradable and skipped (the index list carries them).
    - Future: ``NAME + DDMMMYY + FUT`` (``SBIN25AUG26FUT``).
    - Option: ``NAME + DDMMMYY + STRIKE + CE|PE`` (``NIFTY25AUG2619550CE``,
      ``NBCC29SEP2692.5PE``). STRIKE is written exactly from the wire text: whole numbers
      without decimals, fractions without trailing zeros; at most 4 decimals (the DB scale).
    - DDMMMYY is the expiry date with an English upper-case month (never the locale's).
    - F&O symbols use Name (``SENSEX50``), not UnderlyingIndexName (``SNSX50``).
    - Indices (``NAME_TOKEN`` entries, split on the last ``_``): see ``NSE_INDEX_SYMBOLS`` and
      ``BSE_INDEX_SYMBOLS``; any other name is upper-cased with whitespace and ``-`` removed
      (``NIFTY 100`` → ``NIFTY100``). Index rows get lot_size 1 and tick_size 0.05 (an
      assumption: XTS index lists carry no tick size; indices are not traded).
    - Symbols are upper-case; ``name`` keeps the wire Name.

Skipped on purpose
    - Spreads (type 4): no OpenAlgo form, and ``NAME+DDMMMYY+FUT`` would collide with the real
      future of the near leg → ``spread_contract``.
    - MCX type 16 rows (``COMDTY`` spot prices, ``INDEX`` values) and BSE ``SPOT`` rows: not
      tradable and none of the 8 OpenAlgo exchanges has a form for them → ``not_tradable``.
    - Values the database cannot hold (symbol/name over 64 characters, brsymbol over 128, lot
      size over 2**31-1, NUL or lone-surrogate characters) → ``malformed_line``, so one bad
      line can never abort a whole sync.

Duplicate rule (money-safe)
    Rows with the same ``(exchange, symbol)``: if they all carry the same token, the first is
    kept and the others are skipped as ``duplicate_line``; if their tokens differ, ALL of them
    are skipped as ``ambiguous_symbol``: a lookup must answer "not found" rather than risk
    routing an order to the wrong contract. The rule is applied within :func:`parse_master` /
    :func:`parse_index_list` and again across parts by :func:`merge_parsed` (which also drops
    a row whose key was found ambiguous in another part). No duplicate ``(exchange, symbol)``
    ever reaches ``rows`` (the table has a unique constraint on it).

Implementation: vectorised pandas and numpy, no per-row Python code, bounded memory. Line
ends, ``|`` counts and bad characters are found with numpy on the encoded text, a chunk at a
time (no list of line strings). Lines are split into fields by pandas' C reader reading
straight from the text (no copy of it, no quoting, ``\\n`` as the only line end), per field
count and 16,384 lines at a time; names, expiries, strikes, tick and lot sizes are derived once
per distinct value, and a symbol is one concatenation of two shared parts (name + DDMMMYY,
strike + CE/PE). Rows are assembled once, column by column, in the final frame. The full
111,684-line NSEFO master (22 MB) parses in about 0.6 s and adds about 55 MB to peak RSS, of
which about 27 MB is the result.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from jainam_prop.vocabulary import (  # noqa: F401 - re-exported for existing importers
    BSE_INDEX_SYMBOLS,
    EXCHANGE_BY_SEGMENT,
    EXCHANGES,
    FNO_EXCHANGES,
    INDEX_EXCHANGE_BY_SEGMENT,
    INDEX_SEGMENTS,
    INSTRUMENT_COLUMNS,
    MASTER_SEGMENTS,
    MONTHS,
    NSE_INDEX_SYMBOLS,
    SEGMENT_BY_EXCHANGE,
    SEGMENT_CODES,
    index_symbol,
)

logger = logging.getLogger(__name__)

# A parsed row: the instrument columns plus the source it came from (NSEFO, NSECM_INDEX, ...).
ROW_COLUMNS = [*INSTRUMENT_COLUMNS, "source"]
# ``detail`` (a short human explanation, e.g. "token 'abc' is not a positive integer") comes
# after the four agreed columns.
SKIPPED_COLUMNS = ["source", "line_no", "reason", "line", "detail"]

INDEX_LOT_SIZE = 1
INDEX_TICK_SIZE = 0.05

# Mirrors of the SymbolToken column sizes (jainam_prop/models.py; a test keeps them in step).
MAX_SYMBOL_LENGTH = 64
MAX_NAME_LENGTH = 64
MAX_BRSYMBOL_LENGTH = 128
MAX_LOT_SIZE = 2**31 - 1  # IntegerField
MAX_STRIKE_DECIMALS = 4  # DecimalField(max_digits=14, decimal_places=4)
MAX_STRIKE_DIGITS = 10
MIN_TICK_SIZE = 0.000001  # DecimalField(decimal_places=6)
MAX_TICK_SIZE = 1e8

SKIPPED_LINE_MAX_CHARS = 300


class SkipReason(StrEnum):
    """Why a line did not become a row."""

    BLANK_LINE = "blank_line"
    MALFORMED_LINE = "malformed_line"
    UNKNOWN_INSTRUMENT_TYPE = "unknown_instrument_type"
    WRONG_SEGMENT = "wrong_segment"
    SPREAD_CONTRACT = "spread_contract"
    NOT_TRADABLE = "not_tradable"
    DUPLICATE_LINE = "duplicate_line"
    AMBIGUOUS_SYMBOL = "ambiguous_symbol"


@dataclass(frozen=True, eq=False)
class ParsedMaster:
    """Rows and skipped lines of one or more sources (a segment master or an index list).

    ``rows`` has ``ROW_COLUMNS`` and is indexed by ``line_no``; ``skipped`` has
    ``SKIPPED_COLUMNS``; ``lines`` counts the lines read per source. ``ambiguous_keys`` holds
    the ``(exchange, symbol)`` pairs dropped as ambiguous, so that :func:`merge_parsed` can
    keep dropping them when another part lists the same symbol once.
    """

    rows: pd.DataFrame
    skipped: pd.DataFrame
    lines: dict[str, int]
    ambiguous_keys: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def stored_by_source(self) -> dict[str, int]:
        """Rows per source (every source read is present, 0 when none)."""
        counts = self.rows.groupby("source", sort=False).size()
        sources = dict.fromkeys(self.lines, 0)
        sources.update({str(k): int(v) for k, v in counts.items()})
        return sources

    def skipped_by_source(self) -> dict[str, dict[str, int]]:
        """Skipped lines per source and reason: ``{"NSEFO": {"spread_contract": 3}}``."""
        result: dict[str, dict[str, int]] = {source: {} for source in self.lines}
        counts = self.skipped.groupby(["source", "reason"], sort=True).size()
        for (source, reason), count in counts.items():
            result.setdefault(str(source), {})[str(reason)] = int(count)
        return result


# --------------------------------------------------------------------------------------------
# Frames and dtypes

_ROW_DTYPES: dict[str, str] = {
    "symbol": "object",
    "exchange": "object",
    "token": "int64",
    "brsymbol": "object",
    "brexchange": "object",
    "name": "object",
    "expiry": "datetime64[ns]",
    "strike": "float64",
    "lot_size": "int64",
    "tick_size": "float64",
    "instrument_type": "object",
    "freeze_qty": "Int64",
    "price_band_low": "float64",
    "price_band_high": "float64",
    "multiplier": "int64",
    "isin": "object",
    "underlying_token": "Int64",
    "source": "object",
}
_SKIPPED_DTYPES: dict[str, str] = {
    "source": "object",
    "line_no": "int64",
    "reason": "object",
    "line": "object",
    "detail": "object",
}


def _typed_rows(frame: pd.DataFrame, line_no: np.ndarray) -> pd.DataFrame:
    rows = frame[ROW_COLUMNS].astype(_ROW_DTYPES)
    rows.index = pd.Index(np.asarray(line_no, dtype="int64"), name="line_no")
    return rows


def _column(values: object, dtype: str) -> object:
    if dtype == "Int64":
        return pd.array(np.asarray(values, dtype=object), dtype="Int64")
    return np.asarray(values, dtype=dtype)


def _rows_frame(columns: Mapping[str, object], line_no: np.ndarray) -> pd.DataFrame:
    """The ``rows`` frame over ready column arrays, without copying them (a block each)."""
    rows = pd.DataFrame(
        {name: _column(columns[name], _ROW_DTYPES[name]) for name in ROW_COLUMNS},
        copy=False,
    )
    rows.index = pd.Index(np.asarray(line_no, dtype="int64"), name="line_no")
    return rows


def _empty_rows() -> pd.DataFrame:
    empty = pd.DataFrame(
        {column: pd.Series([], dtype=dtype) for column, dtype in _ROW_DTYPES.items()}
    )
    return _typed_rows(empty, np.array([], dtype="int64"))


def _skipped_frame(
    *, source: object, line_no: object, reason: object, line: object, detail: object
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"source": source, "line_no": line_no, "reason": reason, "line": line, "detail": detail}
    )
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in _SKIPPED_DTYPES.items()})
    return frame[SKIPPED_COLUMNS].astype(_SKIPPED_DTYPES).reset_index(drop=True)


def _check_segment(segment: str, valid: tuple[str, ...], what: str) -> None:
    if segment not in valid:
        raise ValueError(f"Unknown {what} segment {segment!r}; valid segments: {', '.join(valid)}")


# --------------------------------------------------------------------------------------------
# Verdicts: one reason (or "" for "still fine") per line, first reason wins


def _filled(size: int, value: object) -> np.ndarray:
    """An object array holding ``value`` (one shared object; ``np.full`` would copy a str into
    a new object per element)."""
    array = np.empty(size, dtype=object)
    array.fill(value)
    return array


class _Verdicts:
    def __init__(self, n: int) -> None:
        self.reason = _filled(n, "")
        self.detail = _filled(n, "")

    def open(self) -> np.ndarray:
        return self.reason == ""

    def mark(self, positions: np.ndarray, reason: SkipReason, detail: object) -> None:
        """Give ``reason`` to the still-open lines among ``positions`` (``detail`` aligned)."""
        positions = np.asarray(positions, dtype=np.intp)
        if positions.size == 0:
            return
        detail_arr = np.broadcast_to(np.asarray(detail, dtype=object), positions.shape)
        fresh = self.reason[positions] == ""
        self.reason[positions[fresh]] = reason.value
        self.detail[positions[fresh]] = detail_arr[fresh]


# A check is (bad mask, detail): the detail is a string or a function of the bad mask giving
# one string per bad row, so that explanations are only built for the few bad rows.
_Check = tuple[np.ndarray, "str | Callable[[np.ndarray], object]"]


def _first_failure(checks: list[_Check], size: int) -> np.ndarray:
    """Per row, the detail of the first failed check ("" when all pass)."""
    result = _filled(size, "")
    for bad, detail in reversed(checks):
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            result[bad] = detail(bad) if callable(detail) else detail
    return result


def _quoted(values: pd.Series, limit: int = 24) -> pd.Series:
    return "'" + values.str.slice(0, limit) + "'"


def _explain(prefix: str, values: pd.Series, suffix: str) -> Callable[[np.ndarray], object]:
    """Detail builder: ``prefix 'value' suffix`` for the bad rows only."""

    def build(bad: np.ndarray) -> object:
        return (prefix + _quoted(values[bad]) + suffix).to_numpy(dtype=object)

    return build


# --------------------------------------------------------------------------------------------
# Field rules (vectorised)

_LAYOUT_FIELDS: dict[str, int] = {"8": 22, "1": 21, "2": 23, "4": 21, "16": 18}
_CASH_SEGMENTS = frozenset({"NSECM", "BSECM"})
_TYPES_BY_SEGMENT: dict[str, frozenset[str]] = {
    segment: frozenset({"8"}) if segment in _CASH_SEGMENTS else frozenset({"1", "2", "4", "16"})
    for segment in MASTER_SEGMENTS
}
_MONTH_BY_NUMBER = {f"{number:02d}": month for number, month in enumerate(MONTHS, start=1)}
_BAD_CHARS = "[\x00\ud800-\udfff]"
_BAD_CHARS_DETAIL = "NUL or lone surrogate character (the database cannot store it)"
_EXPIRY_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
_STRIKE_PATTERN = rf"[0-9]{{1,{MAX_STRIKE_DIGITS}}}(?:\.[0-9]+)?"

# 0-based field positions
_F_SEGMENT, _F_TOKEN, _F_TYPE, _F_NAME, _F_DESCRIPTION, _F_SERIES = 0, 1, 2, 3, 4, 5
_F_TICK, _F_LOT = 11, 12
_F_EXPIRY, _F_STRIKE, _F_OPTION_TYPE = 16, 17, 18
_USED_FIELDS = (
    _F_SEGMENT,
    _F_TOKEN,
    _F_TYPE,
    _F_NAME,
    _F_DESCRIPTION,
    _F_SERIES,
    _F_TICK,
    _F_LOT,
    _F_EXPIRY,
    _F_STRIKE,
    _F_OPTION_TYPE,
)


def _strings(values: pd.Series) -> Any:
    """``values.str`` without caching it on ``values``.

    A cached ``.str`` accessor and its Series refer to each other: the cycle keeps a whole
    column (and, through it, the block of every field read) alive until the next full garbage
    collection. For per-line columns that is tens of megabytes on a full master.
    """
    return pd.Series.str(values)


def _factorized(
    values: pd.Series, compute: Callable[[pd.Series], pd.DataFrame]
) -> tuple[np.ndarray, pd.DataFrame]:
    """(code per row, ``compute`` of the distinct values): row ``i`` derives ``codes[i]``."""
    codes, uniques = pd.factorize(values.fillna(""), sort=False)
    return codes, compute(pd.Series(uniques, dtype=object))


def _by_unique(values: pd.Series, compute: Callable[[pd.Series], pd.DataFrame]) -> pd.DataFrame:
    """``compute`` applied to the distinct values only, spread back to every row.

    A master repeats few distinct names, expiries, strikes, tick and lot sizes among 150,000
    lines, so deriving them once per distinct value is far cheaper than once per line.
    """
    codes, derived = _factorized(values, compute)
    spread = derived.iloc[codes]
    spread.index = values.index
    return spread


def _positive_ints(values: pd.Series, *, digits: int, maximum: int) -> tuple[pd.Series, pd.Series]:
    """(ints with 0 for invalid, ok mask) for strings of 1..``digits`` ASCII digits."""
    ok = _strings(values).fullmatch(rf"[0-9]{{1,{digits}}}").fillna(False).astype(bool)
    ints = pd.to_numeric(values.where(ok, "0")).astype("int64")
    ok &= (ints > 0) & (ints <= maximum)
    return ints.where(ok, 0), ok


def _lot_sizes(raw: pd.Series) -> pd.DataFrame:
    lot_size, ok = _positive_ints(raw, digits=10, maximum=MAX_LOT_SIZE)
    return pd.DataFrame({"lot_size": lot_size, "ok": ok})


def _tick_sizes(raw: pd.Series) -> pd.DataFrame:
    tick_size = pd.to_numeric(raw, errors="coerce").astype("float64")
    ok = np.isfinite(tick_size) & (tick_size >= MIN_TICK_SIZE) & (tick_size < MAX_TICK_SIZE)
    return pd.DataFrame({"tick_size": tick_size, "ok": ok})


def _names(raw: pd.Series) -> pd.DataFrame:
    name = raw.str.strip()
    return pd.DataFrame({"name": name, "upper": name.str.upper()})


def _expiries(raw: pd.Series) -> pd.DataFrame:
    """Expiry date, ok flag and DDMMMYY from ContractExpiration (``2026-08-25T14:30:00``).

    DDMMMYY is cut from the validated text with English month names, whatever the locale.
    """
    shaped = raw.str.fullmatch(_EXPIRY_PATTERN).fillna(False).astype(bool)
    date_text = raw.str.slice(0, 10)
    expiry = pd.to_datetime(date_text.where(shaped), format="%Y-%m-%d", errors="coerce")
    ddmmmyy = (
        date_text.str.slice(8, 10)
        + date_text.str.slice(5, 7).map(_MONTH_BY_NUMBER).fillna("")
        + date_text.str.slice(2, 4)
    )
    return pd.DataFrame({"expiry": expiry, "ok": expiry.notna(), "ddmmmyy": ddmmmyy})


def _strikes(raw: pd.Series) -> pd.DataFrame:
    """Symbol text, value and flags of StrikePrice texts.

    The symbol text comes from the wire digits, not from a float: whole strikes lose their
    decimals (``19550.0`` → ``19550``), fractions their trailing zeros (``82.250`` → ``82.25``).
    """
    shaped = raw.str.fullmatch(_STRIKE_PATTERN).fillna(False).astype(bool)
    checked = raw.where(shaped, "0")
    dotted = checked.str.contains(".", regex=False)
    integer = checked.where(~dotted, checked.str.partition(".")[0]).str.lstrip("0").replace("", "0")
    fraction = checked.str.partition(".")[2].str.rstrip("0").where(dotted, "")
    text = integer.where(fraction == "", integer + "." + fraction)
    value = pd.to_numeric(text).astype("float64")
    too_precise = shaped & (fraction.str.len() > MAX_STRIKE_DECIMALS)
    return pd.DataFrame(
        {
            "text": text,
            "strike": value.where(shaped),
            "ok": shaped & ~too_precise & (value > 0),
            "too_precise": too_precise,
        }
    )


def _lengths(values: Iterable[str]) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64)


def _length_checks(frame: Mapping[str, Iterable[str]]) -> list[_Check]:
    """Checks of the text columns against the table's sizes (``frame`` holds strings only)."""
    return [
        (
            _lengths(frame["symbol"]) > MAX_SYMBOL_LENGTH,
            f"symbol longer than {MAX_SYMBOL_LENGTH} characters",
        ),
        (
            _lengths(frame["name"]) > MAX_NAME_LENGTH,
            f"name longer than {MAX_NAME_LENGTH} characters",
        ),
        (
            _lengths(frame["brsymbol"]) > MAX_BRSYMBOL_LENGTH,
            f"brsymbol longer than {MAX_BRSYMBOL_LENGTH} characters",
        ),
    ]


_OPTION_SUFFIXES = np.array(["CE", "PE", ""], dtype=object)  # OptionType "3", "4", other


def _pair_codes(first: np.ndarray, second: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct ``(first, second)`` pairs (``second < width``) and the pairs."""
    codes, pairs = pd.factorize(first.astype(np.int64) * width + second, sort=False)
    return codes, pairs


def _build_rows(
    fields: pd.DataFrame,
    *,
    itype: np.ndarray,
    segment: str,
    verdicts: _Verdicts,
    positions: np.ndarray,
) -> tuple[dict[str, object], np.ndarray] | None:
    """Row columns of the still-open cash (8), future (1) and option (2) lines, plus a keep mask.

    ``fields`` holds the lines at ``positions`` (each already checked to have its type's field
    count). Name, Description and Series are trimmed; numbers and dates must be exact on the
    wire (``" 123"`` is not a token). Columns are arrays aligned with ``positions`` (or one
    value for all rows); lines failing a check are marked in ``verdicts`` and not kept.
    """
    open_here = verdicts.reason[positions] == ""
    cash = open_here & (itype == "8")
    future = open_here & (itype == "1")
    option = open_here & (itype == "2")
    dated = future | option
    candidate = cash | dated
    if not candidate.any():
        return None
    size = len(fields)

    token_raw, lot_raw, tick_raw = fields[_F_TOKEN], fields[_F_LOT], fields[_F_TICK]
    token, token_ok = _positive_ints(token_raw, digits=18, maximum=2**63 - 1)
    lots = _by_unique(lot_raw, _lot_sizes)
    ticks = _by_unique(tick_raw, _tick_sizes)
    name_codes, names = _factorized(fields[_F_NAME], _names)
    name = names["name"].to_numpy(dtype=object)[name_codes]
    upper_names = names["upper"].to_numpy(dtype=object)
    brsymbol = _strings(fields[_F_DESCRIPTION]).strip().to_numpy(dtype=object)

    checks: list[_Check] = [
        (
            ~token_ok.to_numpy(dtype=bool) & candidate,
            _explain("token ", token_raw, " is not a positive integer"),
        ),
        (
            ~lots["ok"].to_numpy(dtype=bool) & candidate,
            _explain("lot size ", lot_raw, f" is not an integer in 1..{MAX_LOT_SIZE}"),
        ),
        (
            ~ticks["ok"].to_numpy(dtype=bool) & candidate,
            _explain("tick size ", tick_raw, " is not a positive number"),
        ),
        ((name == "") & candidate, "empty name"),
    ]
    # symbol = head + tail, each taken from a few distinct strings
    head = _filled(size, "")
    tail = _filled(size, "")
    instrument_type = _filled(size, "")
    expiry = np.full(size, np.datetime64("NaT"), dtype="datetime64[ns]")
    strike = np.full(size, np.nan)
    not_tradable = np.zeros(size, dtype=bool)

    if cash.any():
        series_codes, series = _factorized(
            fields[_F_SERIES], lambda raw: pd.DataFrame({"series": raw.str.strip().str.upper()})
        )
        distinct_series = series["series"]
        head[cash] = upper_names[name_codes[cash]]
        instrument_type[cash] = "EQ"
        if segment == "NSECM":
            suffixes = ("-" + distinct_series).where(distinct_series != "EQ", "")
            tail[cash] = suffixes.to_numpy(dtype=object)[series_codes[cash]]
            empty_series = (distinct_series == "").to_numpy()[series_codes]
            checks.append((empty_series & cash, "empty series on an NSE cash line"))
        else:
            not_tradable = (distinct_series == "SPOT").to_numpy()[series_codes] & cash

    if dated.any():
        expiry_raw = fields[_F_EXPIRY]
        expiry_codes, expiries = _factorized(expiry_raw, _expiries)
        expiry[dated] = expiries["expiry"].to_numpy(dtype="datetime64[ns]")[expiry_codes[dated]]
        checks.append(
            (
                ~expiries["ok"].to_numpy(dtype=bool)[expiry_codes] & dated,
                _explain("contract expiration ", expiry_raw, " is not a date"),
            )
        )
        ddmmmyy = expiries["ddmmmyy"].to_numpy(dtype=object)
        codes, pairs = _pair_codes(name_codes[dated], expiry_codes[dated], len(ddmmmyy))
        prefixes = upper_names[pairs // len(ddmmmyy)] + ddmmmyy[pairs % len(ddmmmyy)]
        head[dated] = prefixes[codes]
        tail[future] = "FUT"
        instrument_type[future] = "FUT"

    if option.any():
        strike_raw, option_raw = fields[_F_STRIKE], fields[_F_OPTION_TYPE]
        strike_codes, strikes = _factorized(strike_raw, _strikes)
        option_raw_values = option_raw.to_numpy(dtype=object)
        option_codes = np.where(
            option_raw_values == "3", 0, np.where(option_raw_values == "4", 1, 2)
        )
        codes, pairs = _pair_codes(strike_codes[option], option_codes[option], 3)
        suffixes = strikes["text"].to_numpy(dtype=object)[pairs // 3] + _OPTION_SUFFIXES[pairs % 3]
        tail[option] = suffixes[codes]
        instrument_type[option] = _OPTION_SUFFIXES[option_codes[option]]
        strike[option] = strikes["strike"].to_numpy(dtype="float64")[strike_codes[option]]
        checks += [
            (
                strikes["too_precise"].to_numpy(dtype=bool)[strike_codes] & option,
                _explain(
                    "strike price ", strike_raw, f" has more than {MAX_STRIKE_DECIMALS} decimals"
                ),
            ),
            (
                ~strikes["ok"].to_numpy(dtype=bool)[strike_codes] & option,
                _explain("strike price ", strike_raw, " is not a positive number"),
            ),
            (
                (option_codes == 2) & option,
                _explain("option type ", option_raw, " is not 3 (CE) or 4 (PE)"),
            ),
        ]

    symbol = head + tail
    del head, tail
    lengths = _length_checks({"symbol": symbol, "name": name, "brsymbol": brsymbol})
    checks += [(bad & candidate, detail) for bad, detail in lengths]

    failure = _first_failure(checks, size)
    bad = failure != ""
    verdicts.mark(positions[bad], SkipReason.MALFORMED_LINE, failure[bad])
    tradable_only = not_tradable & ~bad
    verdicts.mark(
        positions[tradable_only],
        SkipReason.NOT_TRADABLE,
        "BSE SPOT row (index value, not tradable)",
    )
    columns: dict[str, object] = {
        "symbol": symbol,
        "exchange": EXCHANGE_BY_SEGMENT[segment],
        "token": token.to_numpy(dtype="int64"),
        "brsymbol": brsymbol,
        "brexchange": segment,
        "name": name,
        "expiry": expiry,
        "strike": strike,
        "lot_size": lots["lot_size"].to_numpy(dtype="int64"),
        "tick_size": ticks["tick_size"].to_numpy(dtype="float64"),
        "instrument_type": instrument_type,
        "freeze_qty": None,
        "price_band_low": np.nan,
        "price_band_high": np.nan,
        "multiplier": 1,
        "isin": None,
        "underlying_token": None,
        "source": segment,
    }
    return columns, candidate & ~bad & ~tradable_only


# --------------------------------------------------------------------------------------------
# Duplicate rule


def _duplicate_verdicts(
    frame: pd.DataFrame, *, line_no: np.ndarray, extra_ambiguous: frozenset[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray, frozenset[tuple[str, str]]]:
    """Per row (positional): reason ("" = keep) and detail, plus the new ambiguous keys."""
    size = len(frame)
    verdicts = _Verdicts(size)
    if size == 0:
        return verdicts.reason, verdicts.detail, frozenset()
    work = pd.DataFrame(
        {
            "exchange": frame["exchange"].to_numpy(),
            "symbol": frame["symbol"].to_numpy(),
            "token": frame["token"].to_numpy(),
            "source": frame["source"].to_numpy(),
            "line_no": np.asarray(line_no, dtype="int64"),
        },
        copy=False,
    )
    if extra_ambiguous:
        keys = pd.MultiIndex.from_arrays([work["exchange"], work["symbol"]])
        hit = np.flatnonzero(keys.isin(list(extra_ambiguous)))
        verdicts.mark(
            hit,
            SkipReason.AMBIGUOUS_SYMBOL,
            "another part lists this exchange and symbol with a different token",
        )
    repeated = work.duplicated(["exchange", "symbol"], keep=False).to_numpy() & verdicts.open()
    new_ambiguous: frozenset[tuple[str, str]] = frozenset()
    if repeated.any():
        positions = np.flatnonzero(repeated)
        sub = work.iloc[positions]
        group = sub.groupby(["exchange", "symbol"], sort=False)
        tokens = group["token"].transform("nunique").to_numpy()
        ambiguous = tokens > 1
        verdicts.mark(
            positions[ambiguous],
            SkipReason.AMBIGUOUS_SYMBOL,
            "listed with "
            + pd.Series(tokens[ambiguous]).astype(str)
            + " different tokens: dropped so that no order goes to the wrong contract",
        )
        later = sub.duplicated(["exchange", "symbol"], keep="first").to_numpy() & ~ambiguous
        first_source = group["source"].transform("first").to_numpy()[later]
        first_line = group["line_no"].transform("first").to_numpy()[later]
        verdicts.mark(
            positions[later],
            SkipReason.DUPLICATE_LINE,
            "repeats "
            + pd.Series(first_source, dtype=object)
            + " line "
            + pd.Series(first_line).astype(str)
            + " (same symbol and token)",
        )
        amb = sub[ambiguous]
        new_ambiguous = frozenset(zip(amb["exchange"], amb["symbol"], strict=True))
    return verdicts.reason, verdicts.detail, new_ambiguous


# --------------------------------------------------------------------------------------------
# Public functions

_LAYOUT_COUNTS = np.array(sorted(set(_LAYOUT_FIELDS.values())), dtype=np.int64)
# Characters encoded per step when scanning a master for line ends, '|' and bad characters:
# bounded temporary arrays whatever the master size.
_SCAN_CHUNK_CHARS = 1 << 18
# Lines split and built per step (pandas' C reader tokenises 32,768 lines per chunk).
_READ_BLOCK_LINES = 1 << 14


def _object_array(values: list[object]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass(frozen=True)
class _Lines:
    """Where each line of a master text is (character offsets), without copying the lines.

    ``field_count`` is the number of ``|``-separated fields per line; ``bad_chars`` the
    0-based numbers of the lines holding a NUL or a lone surrogate.
    """

    starts: np.ndarray
    ends: np.ndarray
    field_count: np.ndarray
    bad_chars: np.ndarray

    @property
    def count(self) -> int:
        return len(self.starts)

    def text_of(self, text: str, positions: np.ndarray, *, limit: int | None = None) -> np.ndarray:
        """The text of the lines at ``positions`` (cut to ``limit`` characters)."""
        starts = self.starts[positions]
        ends = self.ends[positions]
        if limit is not None:
            ends = np.minimum(ends, starts + limit)
        return _object_array(
            list(map(text.__getitem__, map(slice, starts.tolist(), ends.tolist())))
        )


def _scan_lines(text: str) -> _Lines:
    """Lines of ``text`` split on ``\\n`` (a trailing newline does not start another line).

    The text is encoded a chunk at a time and searched with numpy: no list of line strings
    (about 1.3 times the text) is ever built. Byte offsets are turned into character offsets
    by discounting UTF-8 continuation bytes; lone surrogates are encoded with
    ``surrogatepass`` (``ED A0..BF ..``), which is how they are found.
    """
    if not text:
        empty = np.empty(0, dtype=np.int64)
        return _Lines(starts=empty, ends=empty, field_count=empty, bad_chars=empty)
    newlines: list[np.ndarray] = []
    pipes_before: list[np.ndarray] = []  # per line end: '|' seen since the text start
    bad: list[np.ndarray] = []
    pipes_total = 0
    for offset in range(0, len(text), _SCAN_CHUNK_CHARS):
        chunk = text[offset : offset + _SCAN_CHUNK_CHARS]
        data = chunk.encode("utf-8", "surrogatepass")
        codes = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(codes == 0x0A)
        pipes = np.flatnonzero(codes == 0x7C)
        pipes_before.append(pipes_total + np.searchsorted(pipes, ends))
        pipes_total += pipes.size
        odd = np.empty(0, dtype=np.intp)
        if b"\x00" in data or b"\xed" in data:
            surrogate = (codes[:-1] == 0xED) & (codes[1:] >= 0xA0)
            odd = np.union1d(np.flatnonzero(codes == 0), np.flatnonzero(surrogate))
        if len(data) != len(chunk):
            continuation = np.cumsum((codes & 0xC0) == 0x80, dtype=np.int64)
            ends = ends - continuation[ends]
            odd = odd - continuation[odd]
        newlines.append(ends + offset)
        bad.append(odd + offset)
    newline = np.concatenate(newlines).astype(np.int64)
    starts = np.concatenate(([0], newline + 1))
    ends = np.concatenate((newline, [len(text)]))
    pipes_to_end = np.concatenate((*pipes_before, [pipes_total])).astype(np.int64)
    if text.endswith("\n"):
        starts, ends, pipes_to_end = starts[:-1], ends[:-1], pipes_to_end[:-1]
    field_count = np.diff(pipes_to_end, prepend=0) + 1
    bad_chars = np.unique(np.searchsorted(newline, np.concatenate(bad)))
    return _Lines(starts=starts, ends=ends, field_count=field_count, bad_chars=bad_chars)


class _TextStream(io.TextIOBase):
    """A read-only text stream over ``text[start:end]``, sliced as it is read.

    ``io.StringIO`` would first copy the text at 4 bytes per character (90 MB for a 22 MB
    master); pandas' C reader only asks for a quarter-megabyte at a time.
    """

    def __init__(self, text: str, start: int, end: int) -> None:
        super().__init__()
        self._text = text
        self._offset = start
        self._end = end

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        start = self._offset
        end = self._end if size is None or size < 0 else min(self._end, start + size)
        self._offset = max(start, end)
        return self._text[start:end]


def _read_fields(
    text: str, *, lines: _Lines, positions: np.ndarray, field_count: int
) -> pd.DataFrame:
    """The used fields of the lines at ``positions`` (ascending), which all have
    ``field_count`` fields.

    pandas' C reader is used (no quoting, ``\\n`` only as line end, every value a verbatim
    string) straight over the text, from the first of the lines to the last, skipping the
    other lines by number; if it does not give back exactly one row per line, fall back to
    ``str.split``. ``text`` must be valid UTF-8 (no lone surrogate) in that range.
    """
    first, last = int(positions[0]), int(positions[-1])
    skipped = np.setdiff1d(np.arange(first, last + 1), positions, assume_unique=True) - first
    usecols = [column for column in _USED_FIELDS if column < field_count]
    try:
        fields = pd.read_csv(
            _TextStream(text, int(lines.starts[first]), int(lines.ends[last])),
            sep="|",
            header=None,
            names=range(field_count),
            usecols=usecols,
            dtype=str,
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=[],
            lineterminator="\n",
            skip_blank_lines=False,
            skiprows=set(skipped.tolist()) if skipped.size else None,
            engine="c",
        )
    except ValueError:  # pragma: no cover - defensive (pandas' ParserError is a ValueError)
        fields = None
    if fields is None or len(fields) != positions.size:  # pragma: no cover - defensive
        logger.warning("C reader misread %d lines; splitting them in Python", positions.size)
        split = pd.Series(lines.text_of(text, positions), dtype=object).str.split("|", expand=True)
        fields = split.reindex(columns=range(field_count))[usecols]
    return fields


# Built rows of some lines: (columns, positions of the lines). A column is an array aligned
# with the positions, or one value (a str) for all of them.
_Part = tuple[dict[str, object], np.ndarray]


def _kept_part(columns: Mapping[str, object], keep: np.ndarray, positions: np.ndarray) -> _Part:
    """Only the kept rows of built columns (one-value columns stay one value)."""
    kept = np.flatnonzero(keep)
    return {
        name: value[kept] if isinstance(value, np.ndarray) else value
        for name, value in columns.items()
    }, positions[kept]


def _finish(
    *,
    source: str,
    size: int,
    line_text: Callable[[np.ndarray], np.ndarray],
    verdicts: _Verdicts,
    parts: Iterable[_Part] = (),
) -> ParsedMaster:
    """Apply the duplicate rule to the rows in line order, then split lines into rows and
    skipped. ``line_text`` gives the text of lines by position, cut to
    ``SKIPPED_LINE_MAX_CHARS``. The parts' columns are consumed (dropped as they are copied).
    """
    parts = [part for part in parts if part[1].size]
    rows = _empty_rows()
    ambiguous: frozenset[tuple[str, str]] = frozenset()
    if parts:
        line_no = np.concatenate([positions for _, positions in parts]) + 1
        order = np.argsort(line_no, kind="stable")
        line_no = line_no[order]

        def gathered(name: str, pick: np.ndarray) -> np.ndarray:
            """Rows ``pick`` (indices into the parts laid end to end) of column ``name``."""
            values = [columns[name] for columns, _ in parts]
            first = values[0]
            if not isinstance(first, np.ndarray) and all(value is first for value in values):
                return _filled(pick.size, first)
            if len(values) == 1:
                return first[pick]
            pieces = [
                value if isinstance(value, np.ndarray) else _filled(positions.size, value)
                for value, (_, positions) in zip(values, parts, strict=True)
            ]
            return np.concatenate(pieces)[pick]

        keys = pd.DataFrame(
            {name: gathered(name, order) for name in ("exchange", "symbol", "token", "source")},
            copy=False,
        )
        reason, detail, ambiguous = _duplicate_verdicts(
            keys, line_no=line_no, extra_ambiguous=frozenset()
        )
        del keys
        marked = reason != ""
        for value in (SkipReason.DUPLICATE_LINE, SkipReason.AMBIGUOUS_SYMBOL):
            hit = reason == value.value
            verdicts.mark(line_no[hit] - 1, value, detail[hit])
        final = order[~marked]
        kept_columns: dict[str, np.ndarray] = {}
        for name in ROW_COLUMNS:
            kept_columns[name] = gathered(name, final)
            for columns, _ in parts:
                del columns[name]
        rows = _rows_frame(kept_columns, line_no[~marked])

    skipped_pos = np.flatnonzero(~verdicts.open())
    skipped = _skipped_frame(
        source=source,
        line_no=skipped_pos + 1,
        reason=verdicts.reason[skipped_pos],
        line=line_text(skipped_pos),
        detail=verdicts.detail[skipped_pos],
    )
    parsed = ParsedMaster(
        rows=rows, skipped=skipped, lines={source: size}, ambiguous_keys=ambiguous
    )
    logger.info("Parsed %s: %d lines, %d rows, %d skipped", source, size, len(rows), len(skipped))
    return parsed


def _check_heads(
    verdicts: _Verdicts,
    *,
    positions: np.ndarray,
    line_segment: pd.Series,
    itype: pd.Series,
    field_count: np.ndarray,
    segment: str,
) -> np.ndarray:
    """Segment, InstrumentType and layout checks (in this order) for lines at ``positions``.

    Returns the trimmed InstrumentType of each line.
    """
    line_segment = _by_unique(line_segment, lambda raw: pd.DataFrame({"v": raw.str.strip()}))["v"]
    itype = _by_unique(itype, lambda raw: pd.DataFrame({"v": raw.str.strip()}))["v"]
    itype_arr = itype.to_numpy(dtype=object)
    expected = itype.map(_LAYOUT_FIELDS).fillna(-1).astype("int64").to_numpy()

    def count_detail(bad: np.ndarray) -> object:
        return (
            "instrument type "
            + _quoted(itype[bad])
            + " needs "
            + pd.Series(expected[bad], index=itype.index[bad]).astype(str)
            + " fields, got "
            + pd.Series(field_count[bad], index=itype.index[bad]).astype(str)
        ).to_numpy(dtype=object)

    checks: list[tuple[SkipReason, _Check]] = [
        (
            SkipReason.MALFORMED_LINE,
            (
                ~line_segment.isin(MASTER_SEGMENTS).to_numpy(),
                _explain("unknown exchange segment ", line_segment, ""),
            ),
        ),
        (
            SkipReason.WRONG_SEGMENT,
            (
                (line_segment != segment).to_numpy(),
                _explain("line is for ", line_segment, f", not {segment}"),
            ),
        ),
        (
            SkipReason.UNKNOWN_INSTRUMENT_TYPE,
            (
                ~itype.isin(_TYPES_BY_SEGMENT[segment]).to_numpy(),
                _explain("instrument type ", itype, f" is not expected in {segment}"),
            ),
        ),
        (SkipReason.MALFORMED_LINE, (field_count != expected, count_detail)),
        (
            SkipReason.SPREAD_CONTRACT,
            (
                itype_arr == "4",
                "calendar spread: no OpenAlgo symbol (it would collide with the future)",
            ),
        ),
        (
            SkipReason.NOT_TRADABLE,
            (itype_arr == "16", "MCX spot/index row (type 16): not tradable"),
        ),
    ]
    for reason, (bad, detail) in checks:
        hit = (verdicts.reason[positions] == "") & np.asarray(bad, dtype=bool)
        if hit.any():
            verdicts.mark(positions[hit], reason, detail(hit) if callable(detail) else detail)
    return itype_arr


def parse_master(text: str, *, segment: str) -> ParsedMaster:
    """Parse the master text of one XTS segment (``NSEFO``...) into rows and skipped lines.

    Raises ValueError only for an unknown ``segment``; bad content is skipped with a reason.
    """
    _check_segment(segment, MASTER_SEGMENTS, "XTS master")
    if "\r" in text:  # a one-character search is far cheaper than replace() finding nothing
        text = text.replace("\r\n", "\n")
    lines = _scan_lines(text)
    n = lines.count
    verdicts = _Verdicts(n)

    def line_text(positions: np.ndarray) -> np.ndarray:
        return lines.text_of(text, positions, limit=SKIPPED_LINE_MAX_CHARS)

    if n == 0:
        return _finish(source=segment, size=n, line_text=line_text, verdicts=verdicts)

    everything = np.arange(n)
    field_count = lines.field_count
    fast = np.isin(field_count, _LAYOUT_COUNTS)
    readable = text
    if lines.bad_chars.size:
        verdicts.mark(lines.bad_chars, SkipReason.MALFORMED_LINE, _BAD_CHARS_DETAIL)
        fast[lines.bad_chars] = False
        # The C reader skips these lines but still decodes them: blank the bad characters.
        readable = re.sub(_BAD_CHARS, " ", text)

    # Lines whose field count fits no layout: only a reason is needed (rare; Python split).
    slow = everything[~fast & verdicts.open()]
    if slow.size:
        odd = pd.Series(lines.text_of(text, slow), index=slow, dtype=object)
        verdicts.mark(slow[(odd.str.strip() == "").to_numpy()], SkipReason.BLANK_LINE, "blank line")
        verdicts.mark(
            slow[field_count[slow] < 3],
            SkipReason.MALFORMED_LINE,
            "not an XTS master line (fewer than 3 '|'-separated fields)",
        )
        head = odd.str.split("|", n=3, expand=True).reindex(columns=range(4))
        _check_heads(
            verdicts,
            positions=slow,
            line_segment=head[_F_SEGMENT],
            itype=head[_F_TYPE],
            field_count=field_count[slow],
            segment=segment,
        )
        del odd, head

    # Lines with a layout's field count: split with the C reader, one field count at a time
    # (it needs every line it reads to have as many fields as there are column names) and
    # _READ_BLOCK_LINES lines at a time (bounded memory: fields of one block, rows built).
    parts: list[_Part] = []
    for count in _LAYOUT_COUNTS.tolist():
        with_count = everything[fast & (field_count == count)]
        for start in range(0, with_count.size, _READ_BLOCK_LINES):
            positions = with_count[start : start + _READ_BLOCK_LINES]
            fields = _read_fields(readable, lines=lines, positions=positions, field_count=count)
            itype = _check_heads(
                verdicts,
                positions=positions,
                line_segment=fields[_F_SEGMENT],
                itype=fields[_F_TYPE],
                field_count=field_count[positions],
                segment=segment,
            )
            built = _build_rows(
                fields, itype=itype, segment=segment, verdicts=verdicts, positions=positions
            )
            del fields
            if built is not None:
                parts.append(_kept_part(*built, positions))
                del built
    return _finish(source=segment, size=n, line_text=line_text, verdicts=verdicts, parts=parts)


def _index_symbols(names: pd.Series, *, segment: str) -> pd.Series:
    return names.map(lambda name: index_symbol(name, segment=segment))


def parse_index_list(entries: Iterable[str], *, segment: str) -> ParsedMaster:
    """Parse an XTS index list (``"NIFTY 50_26000"`` entries) of NSECM or BSECM.

    Rows go to ``NSE_INDEX`` / ``BSE_INDEX`` with source ``"<SEGMENT>_INDEX"``.
    """
    _check_segment(segment, INDEX_SEGMENTS, "index")
    source = f"{segment}_INDEX"
    values = list(entries)
    n = len(values)
    # An index list has ~100 entries: checking each entry's type in Python is cheap.
    is_text = np.fromiter((isinstance(value, str) for value in values), dtype=bool, count=n)
    raw = pd.Series(
        [v if t else repr(v) for v, t in zip(values, is_text, strict=True)], dtype=object
    )
    verdicts = _Verdicts(n)

    def line_text(positions: np.ndarray) -> np.ndarray:
        return _object_array([line[:SKIPPED_LINE_MAX_CHARS] for line in raw.to_numpy()[positions]])

    if n == 0:
        return _finish(source=source, size=n, line_text=line_text, verdicts=verdicts)

    everything = np.arange(n)
    verdicts.mark(everything[~is_text], SkipReason.MALFORMED_LINE, "entry is not a string")
    text = raw.where(is_text, "")
    verdicts.mark(
        everything[(text.str.strip() == "").to_numpy()], SkipReason.BLANK_LINE, "blank entry"
    )
    verdicts.mark(
        everything[text.str.contains(_BAD_CHARS, regex=True).to_numpy(dtype=bool)],
        SkipReason.MALFORMED_LINE,
        _BAD_CHARS_DETAIL,
    )
    parts = text.str.rpartition("_")
    brsymbol = parts[0].str.strip()
    token_raw = parts[2].str.strip()
    token, token_ok = _positive_ints(token_raw, digits=18, maximum=2**63 - 1)
    symbol = _index_symbols(brsymbol, segment=segment)
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "exchange": INDEX_EXCHANGE_BY_SEGMENT[segment],
            "token": token,
            "brsymbol": brsymbol,
            "brexchange": segment,
            "name": symbol,
            "expiry": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"),
            "strike": np.nan,
            "lot_size": INDEX_LOT_SIZE,
            "tick_size": INDEX_TICK_SIZE,
            "instrument_type": "INDEX",
            "freeze_qty": pd.Series(pd.NA, index=raw.index, dtype="Int64"),
            "price_band_low": np.nan,
            "price_band_high": np.nan,
            "multiplier": 1,
            "isin": None,
            "underlying_token": pd.Series(pd.NA, index=raw.index, dtype="Int64"),
            "source": source,
        }
    )
    checks: list[_Check] = [
        ((parts[1] == "").to_numpy(), "no '_' between index name and token"),
        (~token_ok.to_numpy(), _explain("token ", token_raw, " is not a positive integer")),
        (((brsymbol == "") | (symbol == "")).to_numpy(), "empty index name"),
        *_length_checks(frame),
    ]
    failure = _first_failure(checks, n)
    bad = failure != ""
    verdicts.mark(everything[bad], SkipReason.MALFORMED_LINE, failure[bad])
    columns = {name: frame[name].to_numpy() for name in ROW_COLUMNS}
    return _finish(
        source=source,
        size=n,
        line_text=line_text,
        verdicts=verdicts,
        parts=[_kept_part(columns, verdicts.open(), everything)],
    )


def merge_parsed(parts: Iterable[ParsedMaster]) -> ParsedMaster:
    """Concatenate parsed parts and apply the duplicate rule across them.

    A row repeating an earlier part's (exchange, symbol, token) becomes ``duplicate_line``; a
    symbol listed with different tokens (in any parts, or already dropped as ambiguous in one
    part) is dropped everywhere as ``ambiguous_symbol``. Skipped rows moved here have an empty
    ``line`` (the raw text is not kept with rows); ``source`` and ``line_no`` locate them.
    """
    parts = list(parts)
    lines: dict[str, int] = {}
    for part in parts:
        for source, count in part.lines.items():
            lines[source] = lines.get(source, 0) + count
    ambiguous_before = frozenset().union(*(part.ambiguous_keys for part in parts))
    row_frames = [part.rows for part in parts if len(part.rows)]
    skipped_frames = [part.skipped for part in parts if len(part.skipped)]

    if row_frames:
        combined = pd.concat(row_frames)
        line_no = combined.index.to_numpy(dtype="int64")
        combined = combined.reset_index(drop=True)
        reason, detail, ambiguous_new = _duplicate_verdicts(
            combined, line_no=line_no, extra_ambiguous=ambiguous_before
        )
        marked = reason != ""
        rows = _typed_rows(combined[~marked], line_no[~marked])
        if marked.any():
            skipped_frames.append(
                _skipped_frame(
                    source=combined["source"].to_numpy()[marked],
                    line_no=line_no[marked],
                    reason=reason[marked],
                    line="",
                    detail=detail[marked],
                )
            )
    else:
        ambiguous_new = frozenset()
        rows = _empty_rows()

    if skipped_frames:
        skipped = _skipped_frame(**pd.concat(skipped_frames, ignore_index=True).to_dict("series"))
    else:
        skipped = _skipped_frame(source=[], line_no=[], reason=[], line=[], detail=[])
    return ParsedMaster(
        rows=rows,
        skipped=skipped,
        lines=lines,
        ambiguous_keys=ambiguous_before | ambiguous_new,
    )
