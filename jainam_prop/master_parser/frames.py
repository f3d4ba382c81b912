"""What the parser hands back: :class:`ParsedMaster` (rows + skipped lines), the skip reasons,
and the frame columns and dtypes that the sync service and the tests rely on."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from jainam_prop.vocabulary import INSTRUMENT_COLUMNS

#: A parsed row: the instrument columns plus the source it came from (NSEFO, NSECM_INDEX...).
ROW_COLUMNS = [*INSTRUMENT_COLUMNS, "source"]
#: ``detail`` (a short human explanation, e.g. "token 'abc' is not a positive integer") comes
#: after the four agreed columns.
SKIPPED_COLUMNS = ["source", "line_no", "reason", "line", "detail"]
#: Skipped lines keep at most this many characters of their text.
SKIPPED_LINE_MAX_CHARS = 300

ROW_DTYPES: dict[str, str] = {
    "symbol": "object",
    "exchange": "object",
    "token": "int64",
    "brsymbol": "object",
    "brexchange": "object",
    "name": "object",
    "expiry": "datetime64[ns]",
    "strike": "float64",  # NaN: no strike
    "lot_size": "int64",
    "tick_size": "float64",
    "instrument_type": "object",
    "freeze_qty": "Int64",  # <NA>: no limit
    "price_band_low": "float64",  # NaN: unknown
    "price_band_high": "float64",
    "multiplier": "int64",
    "isin": "object",  # None: none
    "underlying_token": "Int64",  # <NA>: none
    "source": "object",
}
SKIPPED_DTYPES: dict[str, str] = {
    "source": "object",
    "line_no": "int64",
    "reason": "object",
    "line": "object",
    "detail": "object",
}


class SkipReason(StrEnum):
    """Why a line did not become a row (docs/symbols.md explains each)."""

    BLANK_LINE = "blank_line"
    MALFORMED_LINE = "malformed_line"
    UNKNOWN_INSTRUMENT_TYPE = "unknown_instrument_type"
    WRONG_SEGMENT = "wrong_segment"
    SPREAD_CONTRACT = "spread_contract"
    NOT_TRADABLE = "not_tradable"
    EXPIRED = "expired"
    DUPLICATE_LINE = "duplicate_line"
    AMBIGUOUS_SYMBOL = "ambiguous_symbol"


@dataclass(frozen=True, eq=False)
class ParsedMaster:
    """Rows and skipped lines of one or more sources (a segment master or an index list).

    ``rows`` has ``ROW_COLUMNS`` and is indexed by ``line_no``; ``skipped`` has
    ``SKIPPED_COLUMNS``; ``lines`` counts the lines read per source. ``ambiguous_keys`` holds
    the ``(exchange, symbol)`` pairs dropped as ambiguous, so that ``merge_parsed`` can keep
    dropping them when another part lists the same symbol once.
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


# --- building frames ---------------------------------------------------------------------------

#: The values a rule returns for one line, in this order (exchange, brexchange and source are
#: the same for every line of a master and are added when the frame is built). ``expiry`` is
#: days since 1970-01-01 or ``NO_EXPIRY``; ``strike``/bands NaN when absent; ``freeze_qty`` and
#: ``underlying_token`` 0 when absent (never valid values: both are positive when present).
LINE_VALUES = tuple(c for c in INSTRUMENT_COLUMNS if c not in ("exchange", "brexchange"))
Row = tuple[
    str, int, str, str, int, float, int, float, str, int, float, float, int, str | None, int
]
NO_EXPIRY = int(np.iinfo(np.int64).min)  # NaT as days


def rows_frame(
    rows: Sequence[Row], *, line_no: Sequence[int], exchange: str, brexchange: str, source: str
) -> pd.DataFrame:
    """The ``rows`` frame of rule results (one per line number)."""
    n = len(rows)
    if n == 0:
        return empty_rows()
    columns = dict(zip(LINE_VALUES, zip(*rows, strict=True), strict=True))
    data: dict[str, object] = {}
    for name in ROW_COLUMNS:
        if name == "exchange":
            data[name] = _same(n, exchange)
        elif name == "brexchange":
            data[name] = _same(n, brexchange)
        elif name == "source":
            data[name] = _same(n, source)
        elif name == "expiry":
            days = np.array(columns[name], dtype=np.int64)
            data[name] = days.view("datetime64[D]").astype("datetime64[ns]")
        elif ROW_DTYPES[name] == "Int64":
            values = np.array(columns[name], dtype=np.int64)
            data[name] = pd.arrays.IntegerArray(values, values <= 0)
        else:
            data[name] = np.array(columns[name], dtype=ROW_DTYPES[name])
    frame = pd.DataFrame(data, copy=False)
    frame.index = pd.Index(np.asarray(line_no, dtype=np.int64), name="line_no")
    return frame


def typed_rows(frame: pd.DataFrame, line_no: np.ndarray) -> pd.DataFrame:
    """``frame``'s row columns with the row dtypes, indexed by ``line_no``."""
    rows = frame[ROW_COLUMNS].astype(ROW_DTYPES)
    rows.index = pd.Index(np.asarray(line_no, dtype=np.int64), name="line_no")
    return rows


def empty_rows() -> pd.DataFrame:
    empty = pd.DataFrame(
        {column: pd.Series([], dtype=dtype) for column, dtype in ROW_DTYPES.items()}
    )
    return typed_rows(empty, np.array([], dtype=np.int64))


def skipped_frame(
    *, source: object, line_no: object, reason: object, line: object, detail: object
) -> pd.DataFrame:
    """The ``skipped`` frame of aligned columns (a column may be one value for all)."""
    frame = pd.DataFrame(
        {"source": source, "line_no": line_no, "reason": reason, "line": line, "detail": detail}
    )
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in SKIPPED_DTYPES.items()})
    return frame[SKIPPED_COLUMNS].astype(SKIPPED_DTYPES).reset_index(drop=True)


def skipped_of(source: str, skipped: Sequence[tuple[int, str, str, str]]) -> pd.DataFrame:
    """The ``skipped`` frame of ``(line_no, reason, line, detail)`` tuples of one source."""
    if not skipped:
        return skipped_frame(source=[], line_no=[], reason=[], line=[], detail=[])
    line_no, reason, line, detail = zip(*skipped, strict=True)
    return skipped_frame(
        source=source,
        line_no=list(line_no),
        reason=list(reason),
        line=list(line),
        detail=list(detail),
    )


def _same(n: int, value: object) -> np.ndarray:
    """An object array holding one shared ``value`` ``n`` times."""
    array = np.empty(n, dtype=object)
    array.fill(value)
    return array


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a master is parsed.

    A parse creates hundreds of thousands of tuples and strings that all live until the frames
    are built; the generational collector would walk them again and again as they pile up
    (a large share of the parse time), yet none of them can form a reference cycle. Reference
    counting still frees everything as usual; the collector resumes (if it was on) at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
