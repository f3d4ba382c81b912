"""``parse_master``: the text of one ``POST /instruments/master`` answer, line by line.

Lines split by ``\\n`` (a trailing newline does not start another line; ``\\r\\n`` is accepted),
fields by ``|``, no header, no quoting. Each line is checked in this order, the first failure
being its reason: characters the database cannot store, blank, too few fields, segment,
InstrumentType, field count of that type, then the type's rule (``rules.py``). Every line read
ends up a row or a skipped line, whatever the input.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np

from jainam_prop.master_parser import fields as f
from jainam_prop.master_parser.duplicates import duplicate_verdicts
from jainam_prop.master_parser.fields import Skip, malformed, quoted
from jainam_prop.master_parser.frames import (
    SKIPPED_LINE_MAX_CHARS,
    ParsedMaster,
    Row,
    SkipReason,
    collector_paused,
    rows_frame,
    skipped_of,
)
from jainam_prop.master_parser.rules import (
    LAYOUTS_BY_SEGMENT,
    SEGMENT,
    TYPE,
    Context,
    Layout,
)
from jainam_prop.vocabulary import EXCHANGE_BY_SEGMENT, MASTER_SEGMENTS

logger = logging.getLogger("jainam_prop.master_parser")

_EPOCH = date(1970, 1, 1).toordinal()


def check_segment(segment: str, valid: tuple[str, ...], what: str) -> None:
    if segment not in valid:
        raise ValueError(f"Unknown {what} segment {segment!r}; valid segments: {', '.join(valid)}")


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` split on ``\\n`` only (``\\r\\n`` counts as ``\\n``)."""
    if not text:
        return []
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def layout_of(line: list[str], text: str, *, segment: str, layouts: dict[str, Layout]) -> Layout:
    """The layout of a line of ``segment``'s master, or the :class:`Skip` saying why none."""
    if len(line) < 3:
        if not text.strip():
            raise Skip(SkipReason.BLANK_LINE, "blank line")
        raise malformed("not an XTS master line (fewer than 3 '|'-separated fields)")
    line_segment = line[SEGMENT].strip()
    if line_segment != segment:
        if line_segment not in MASTER_SEGMENTS:
            raise malformed(f"unknown exchange segment {quoted(line_segment)}")
        raise Skip(SkipReason.WRONG_SEGMENT, f"line is for {quoted(line_segment)}, not {segment}")
    instrument_type = line[TYPE].strip()
    layout = layouts.get(instrument_type)
    if layout is None:
        raise Skip(
            SkipReason.UNKNOWN_INSTRUMENT_TYPE,
            f"instrument type {quoted(instrument_type)} is not expected in {segment}",
        )
    if len(line) != layout.fields:
        raise malformed(
            f"instrument type {quoted(instrument_type)} needs {layout.fields} fields,"
            f" got {len(line)}"
        )
    return layout


def parse_master(text: str, *, segment: str, today: date | None = None) -> ParsedMaster:
    """Parse the master text of one XTS segment (``NSEFO``...) into rows and skipped lines.

    With ``today``, a contract whose expiry is before it is skipped as ``expired``. Raises
    ValueError only for an unknown ``segment``; bad content is skipped with a reason.
    """
    check_segment(segment, MASTER_SEGMENTS, "XTS master")
    with collector_paused():
        return _parse(text, segment=segment, today=today)


def _parse(text: str, *, segment: str, today: date | None) -> ParsedMaster:
    lines = split_lines(text)
    layouts = LAYOUTS_BY_SEGMENT[segment]
    context = Context(segment, None if today is None else today.toordinal() - _EPOCH)
    # NUL or lone surrogates anywhere? (isascii() is free on an ASCII text: a flag)
    odd_chars = "\x00" in text or (not text.isascii() and f.BAD_CHARS.search(text) is not None)
    rows: list[Row] = []
    row_line_no: list[int] = []
    skipped: list[tuple[int, str, str, str]] = []
    for number, text_line in enumerate(lines, start=1):
        try:
            if odd_chars and f.BAD_CHARS.search(text_line):
                raise malformed(f.BAD_CHARS_DETAIL)
            line = text_line.split("|")
            # fast path: an exact segment and type with the right field count
            layout = layouts.get(line[TYPE]) if len(line) > 2 and line[0] == segment else None
            if layout is None or len(line) != layout.fields:
                layout = layout_of(line, text_line, segment=segment, layouts=layouts)
            rows.append(layout.rule(line, context))
            row_line_no.append(number)
        except Skip as skip:
            skipped.append(
                (number, skip.reason.value, text_line[:SKIPPED_LINE_MAX_CHARS], skip.detail)
            )
    return _finish(
        source=segment,
        exchange=EXCHANGE_BY_SEGMENT[segment],
        brexchange=segment,
        lines=lines,
        rows=rows,
        row_line_no=row_line_no,
        skipped=skipped,
    )


def _finish(
    *,
    source: str,
    exchange: str,
    brexchange: str,
    lines: list,
    rows: list[Row],
    row_line_no: list[int],
    skipped: list[tuple[int, str, str, str]],
) -> ParsedMaster:
    """Build the frames and apply the duplicate rule to the rows (in line order)."""
    frame = rows_frame(
        rows, line_no=row_line_no, exchange=exchange, brexchange=brexchange, source=source
    )
    ambiguous: frozenset = frozenset()
    repeated = np.flatnonzero(frame["symbol"].duplicated(keep=False).to_numpy())
    if repeated.size:  # the rule itself only looks at the (few) repeated symbols
        numbers = frame.index.to_numpy()[repeated].tolist()
        verdicts, ambiguous = duplicate_verdicts(
            frame["symbol"].to_numpy()[repeated].tolist(),
            tokens=frame["token"].to_numpy()[repeated].tolist(),
            sources=[source] * repeated.size,
            line_no=numbers,
        )
        for position, (reason, detail) in verdicts.items():
            number = numbers[position]
            text = str(lines[number - 1])[:SKIPPED_LINE_MAX_CHARS]
            skipped.append((number, reason, text, detail))
        skipped.sort(key=lambda item: item[0])
        keep = np.ones(len(frame), dtype=bool)
        keep[repeated[sorted(verdicts)]] = False
        frame = frame[keep]
    parsed = ParsedMaster(
        rows=frame,
        skipped=skipped_of(source, skipped),
        lines={source: len(lines)},
        ambiguous_keys=frozenset((exchange, symbol) for symbol in ambiguous),
    )
    logger.info(
        "Parsed %s: %d lines, %d rows, %d skipped", source, len(lines), len(frame), len(skipped)
    )
    return parsed
