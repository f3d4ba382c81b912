"""The money-safe duplicate rule, within one parsed part and across parts (:func:`merge_parsed`).

Rows with the same ``(exchange, symbol)``: if they all carry the same token, the first is kept
and the others are skipped as ``duplicate_line``; if their tokens differ, ALL of them are
skipped as ``ambiguous_symbol``: a lookup must answer "not found" rather than risk routing an
order to the wrong contract. A key found ambiguous in one part stays dropped in every later
merge, even where another part lists it once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

from jainam_prop.master_parser.frames import (
    ParsedMaster,
    SkipReason,
    collector_paused,
    empty_rows,
    skipped_frame,
    typed_rows,
)

Verdict = tuple[str, str]  # (reason, detail)


def duplicate_verdicts(
    keys: Sequence[Hashable],
    *,
    tokens: Sequence[int],
    sources: Sequence[str],
    line_no: Sequence[int],
    known_ambiguous: frozenset = frozenset(),
) -> tuple[dict[int, Verdict], frozenset]:
    """Verdicts for the rows (by position) that the rule drops, and the keys newly found
    ambiguous. ``keys`` are ``(exchange, symbol)`` pairs, or plain symbols within one master."""
    first: dict[Hashable, int] = {}
    repeats: dict[Hashable, list[int]] = {}
    for position, key in enumerate(keys):
        seen = first.get(key)
        if seen is None:
            first[key] = position
        else:
            repeats.setdefault(key, [seen]).append(position)
    verdicts: dict[int, Verdict] = {}
    for key in known_ambiguous & first.keys():
        for position in repeats.get(key, [first[key]]):
            verdicts[position] = (
                SkipReason.AMBIGUOUS_SYMBOL.value,
                "another part lists this exchange and symbol with a different token",
            )
    ambiguous: set[Hashable] = set()
    for key, positions in repeats.items():
        if key in known_ambiguous:
            continue
        distinct = len({tokens[p] for p in positions})
        if distinct > 1:
            ambiguous.add(key)
            detail = (
                f"listed with {distinct} different tokens: dropped so that no order goes to the"
                " wrong contract"
            )
            for position in positions:
                verdicts[position] = (SkipReason.AMBIGUOUS_SYMBOL.value, detail)
        else:
            kept = positions[0]
            detail = f"repeats {sources[kept]} line {line_no[kept]} (same symbol and token)"
            for position in positions[1:]:
                verdicts[position] = (SkipReason.DUPLICATE_LINE.value, detail)
    return verdicts, frozenset(ambiguous)


def merge_parsed(parts: Iterable[ParsedMaster]) -> ParsedMaster:
    """Concatenate parsed parts and apply the duplicate rule across them.

    A row repeating an earlier part's (exchange, symbol, token) becomes ``duplicate_line``; a
    symbol listed with different tokens (in any parts, or already dropped as ambiguous in one
    part) is dropped everywhere as ``ambiguous_symbol``. Skipped rows moved here have an empty
    ``line`` (the raw text is not kept with rows); ``source`` and ``line_no`` locate them.
    """
    with collector_paused():
        return _merge(list(parts))


def _merge(parts: list[ParsedMaster]) -> ParsedMaster:
    lines: dict[str, int] = {}
    for part in parts:
        for source, count in part.lines.items():
            lines[source] = lines.get(source, 0) + count
    ambiguous_before = frozenset().union(*(part.ambiguous_keys for part in parts))
    row_frames = [part.rows for part in parts if len(part.rows)]
    skipped_frames = [part.skipped for part in parts if len(part.skipped)]
    ambiguous_new: frozenset = frozenset()
    rows = empty_rows()
    if row_frames:
        combined = pd.concat(row_frames)
        line_no = combined.index.to_numpy(dtype=np.int64)
        combined = combined.reset_index(drop=True)
        sources = combined["source"].tolist()
        verdicts, ambiguous_new = duplicate_verdicts(
            list(zip(combined["exchange"].tolist(), combined["symbol"].tolist(), strict=True)),
            tokens=combined["token"].tolist(),
            sources=sources,
            line_no=line_no.tolist(),
            known_ambiguous=ambiguous_before,
        )
        dropped = np.array(sorted(verdicts), dtype=np.intp)
        keep = np.ones(len(combined), dtype=bool)
        keep[dropped] = False
        rows = typed_rows(combined[keep], line_no[keep])
        if dropped.size:
            skipped_frames.append(
                skipped_frame(
                    source=[sources[p] for p in dropped],
                    line_no=line_no[dropped],
                    reason=[verdicts[p][0] for p in dropped],
                    line="",
                    detail=[verdicts[p][1] for p in dropped],
                )
            )
    if skipped_frames:
        skipped = skipped_frame(**pd.concat(skipped_frames, ignore_index=True).to_dict("series"))
    else:
        skipped = skipped_frame(source=[], line_no=[], reason=[], line=[], detail=[])
    return ParsedMaster(
        rows=rows, skipped=skipped, lines=lines, ambiguous_keys=ambiguous_before | ambiguous_new
    )
