"""Pure parser of the XTS instrument master: wire text (and index lists) in, DataFrames out.

No Django, no network: :func:`parse_master` takes the ``result`` string of one
``POST /instruments/master`` call, :func:`parse_index_list` the ``indexList`` of one
``GET /instruments/indexlist`` call, and both return a :class:`ParsedMaster`: a DataFrame of
``SymbolToken`` rows (``ROW_COLUMNS``) plus a DataFrame of skipped lines with a reason
(``SKIPPED_COLUMNS``). Every line read ends up in exactly one of the two, whatever the input:
``len(rows) + len(skipped) == sum(lines.values())``. The functions raise only on a bad
``segment`` argument, never on content. :func:`merge_parsed` joins parts and applies the
duplicate rule across them.

Modules: ``master`` (lines and layouts), ``rules`` (one rule per InstrumentType, with the
OpenAlgo symbol of each), ``fields`` (one reader per field), ``index_list``, ``duplicates``
and ``frames`` (the result shapes). The words (segments, exchanges, symbol grammar, index
names) come from :mod:`jainam_prop.vocabulary`, re-exported here for existing importers; the
rules are documented in ``docs/symbols.md``.
"""

from jainam_prop.master_parser.duplicates import merge_parsed
from jainam_prop.master_parser.fields import (
    MAX_BRSYMBOL_LENGTH,
    MAX_LOT_SIZE,
    MAX_NAME_LENGTH,
    MAX_STRIKE_DECIMALS,
    MAX_SYMBOL_LENGTH,
    MIN_TICK_SIZE,
)
from jainam_prop.master_parser.frames import (
    ROW_COLUMNS,
    SKIPPED_COLUMNS,
    SKIPPED_LINE_MAX_CHARS,
    ParsedMaster,
    SkipReason,
)
from jainam_prop.master_parser.index_list import INDEX_LOT_SIZE, INDEX_TICK_SIZE, parse_index_list
from jainam_prop.master_parser.master import parse_master
from jainam_prop.vocabulary import (
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

__all__ = [
    "BSE_INDEX_SYMBOLS",
    "EXCHANGES",
    "EXCHANGE_BY_SEGMENT",
    "FNO_EXCHANGES",
    "INDEX_EXCHANGE_BY_SEGMENT",
    "INDEX_LOT_SIZE",
    "INDEX_SEGMENTS",
    "INDEX_TICK_SIZE",
    "INSTRUMENT_COLUMNS",
    "MASTER_SEGMENTS",
    "MAX_BRSYMBOL_LENGTH",
    "MAX_LOT_SIZE",
    "MAX_NAME_LENGTH",
    "MAX_STRIKE_DECIMALS",
    "MAX_SYMBOL_LENGTH",
    "MIN_TICK_SIZE",
    "MONTHS",
    "NSE_INDEX_SYMBOLS",
    "ROW_COLUMNS",
    "SEGMENT_BY_EXCHANGE",
    "SEGMENT_CODES",
    "SKIPPED_COLUMNS",
    "SKIPPED_LINE_MAX_CHARS",
    "ParsedMaster",
    "SkipReason",
    "index_symbol",
    "merge_parsed",
    "parse_index_list",
    "parse_master",
]
