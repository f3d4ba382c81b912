"""``parse_index_list``: the ``indexList`` of one ``GET /instruments/indexlist`` answer.

Entries are ``NAME_TOKEN`` (split on the last ``_``); symbols follow
:func:`jainam_prop.vocabulary.index_symbol`. Index rows get lot size 1 and tick size 0.05 (an
assumption: XTS index lists carry no tick size; indices are not traded) and no record fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from jainam_prop.master_parser import fields as f
from jainam_prop.master_parser.fields import Skip, malformed, quoted
from jainam_prop.master_parser.frames import (
    NO_EXPIRY,
    SKIPPED_LINE_MAX_CHARS,
    ParsedMaster,
    Row,
    SkipReason,
)
from jainam_prop.master_parser.master import _finish, check_segment
from jainam_prop.vocabulary import INDEX_EXCHANGE_BY_SEGMENT, INDEX_SEGMENTS, index_symbol

INDEX_LOT_SIZE = 1
INDEX_TICK_SIZE = 0.05


def index_row(entry: object, *, segment: str) -> Row:
    """The row of one index-list entry (``"NIFTY 50_26000"``), or the :class:`Skip`."""
    if not isinstance(entry, str):
        raise malformed("entry is not a string")
    if not entry.strip():
        raise Skip(SkipReason.BLANK_LINE, "blank entry")
    if f.BAD_CHARS.search(entry):
        raise malformed(f.BAD_CHARS_DETAIL)
    name, separator, token_text = entry.rpartition("_")
    if not separator:
        raise malformed("no '_' between index name and token")
    token_text = token_text.strip()
    token = f.token(token_text)
    if token is None:
        raise malformed(f"token {quoted(token_text)} is not a positive integer")
    brsymbol = name.strip()
    symbol = index_symbol(brsymbol, segment=segment) if brsymbol else ""
    if not symbol:
        raise malformed("empty index name")
    f.check_lengths(symbol, symbol, brsymbol)
    return (symbol, token, brsymbol, symbol, NO_EXPIRY, math.nan, INDEX_LOT_SIZE,
            INDEX_TICK_SIZE, "INDEX", 0, math.nan, math.nan, 1, None, 0)  # fmt: skip


def parse_index_list(entries: Iterable[object], *, segment: str) -> ParsedMaster:
    """Parse an XTS index list of NSECM or BSECM.

    Rows go to ``NSE_INDEX`` / ``BSE_INDEX`` with source ``"<SEGMENT>_INDEX"``.
    """
    check_segment(segment, INDEX_SEGMENTS, "index")
    source = f"{segment}_INDEX"
    texts: list[str] = []
    rows: list[Row] = []
    row_line_no: list[int] = []
    skipped: list[tuple[int, str, str, str]] = []
    for number, entry in enumerate(entries, start=1):
        text = entry if isinstance(entry, str) else repr(entry)
        texts.append(text)
        try:
            rows.append(index_row(entry, segment=segment))
            row_line_no.append(number)
        except Skip as skip:
            skipped.append((number, skip.reason.value, text[:SKIPPED_LINE_MAX_CHARS], skip.detail))
    return _finish(
        source=source,
        exchange=INDEX_EXCHANGE_BY_SEGMENT[segment],
        brexchange=segment,
        lines=texts,
        rows=rows,
        row_line_no=row_line_no,
        skipped=skipped,
    )
