"""Where a sync's master comes from: XTS downloads or raw files, parsed as they arrive.

A source is a segment's master (``NSEFO``) or an index list (``NSECM_INDEX``); each maps to
exactly one OpenAlgo exchange, whose rows of the broker it replaces. No database access here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from jainam_prop.master_parser import ParsedMaster, merge_parsed, parse_index_list, parse_master
from jainam_prop.vocabulary import (
    EXCHANGE_BY_SEGMENT,
    INDEX_EXCHANGE_BY_SEGMENT,
    INDEX_SEGMENTS,
    MASTER_SEGMENTS,
)
from jainam_prop.xts.market import MarketDataClient

INDEX_SUFFIX = "_INDEX"

Progress = Callable[[str], None]


def exchange_of_source(source: str) -> str:
    """The one OpenAlgo exchange whose rows a source replaces (NSEFO -> NFO)."""
    if source.endswith(INDEX_SUFFIX):
        segment = source.removesuffix(INDEX_SUFFIX)
        if segment in INDEX_EXCHANGE_BY_SEGMENT:
            return INDEX_EXCHANGE_BY_SEGMENT[segment]
    elif source in EXCHANGE_BY_SEGMENT:
        return EXCHANGE_BY_SEGMENT[source]
    valid = [*MASTER_SEGMENTS, *(s + INDEX_SUFFIX for s in INDEX_SEGMENTS)]
    raise ValueError(f"Unknown source {source!r}; valid: {', '.join(valid)}")


def sources_for_segments(segments: Iterable[str]) -> list[str]:
    """Sources downloaded for the given segments: each master, plus the index list of cash ones."""
    sources: list[str] = []
    for segment in segments:
        exchange_of_source(segment)  # validates
        sources.append(segment)
        if segment in INDEX_SEGMENTS:
            sources.append(segment + INDEX_SUFFIX)
    return sources


Payload = str | list[str]


def download(*, segments: Sequence[str], notify: Progress) -> Iterator[tuple[str, Payload]]:
    """Each source's raw payload as it arrives: master text per segment, index entries."""
    client = MarketDataClient.from_settings()
    try:
        for segment in segments:
            yield segment, client.master(segment=segment)
            notify(f"downloaded {segment}")
            if segment in INDEX_SEGMENTS:
                yield segment + INDEX_SUFFIX, client.index_list(segment=segment)
                notify(f"downloaded {segment} index list")
    finally:
        client.close()


def read_files(
    files: Sequence[Path | str], *, segments: Sequence[str] | None
) -> Iterator[tuple[str, Payload]]:
    """Raw master files (plain or .gz), each holding one segment's lines as XTS returns them.

    The segment is read from the first field of the first non-blank line. Every file is
    checked before the first is parsed, so a bad file list fails fast.
    """
    by_segment: dict[str, Path] = {}
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"--file {path}: no such file")
        segment = _first_segment(path)
        if segment is None:
            raise ValueError(
                f"--file {path}: cannot tell its segment; the first line must start with one of "
                f"{', '.join(MASTER_SEGMENTS)} followed by '|'"
            )
        if segments is not None and segment not in segments:
            raise ValueError(
                f"--file {path} holds {segment} lines but --segments is {','.join(segments)}"
            )
        if segment in by_segment:
            raise ValueError(f"--file {path}: a second file for {segment}; give one per segment")
        by_segment[segment] = path
    for segment, path in by_segment.items():
        yield segment, _read_text(path)


def _open(path: Path):
    with path.open("rb") as handle:
        packed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if packed else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="")


def _read_text(path: Path) -> str:
    with _open(path) as handle:
        return handle.read()


def _first_segment(path: Path) -> str | None:
    """The segment named by the first field of the file's first non-blank line."""
    with _open(path) as handle:
        for line in handle:
            if line.strip():
                head = line.split("|", 1)[0].strip()
                return head if head in MASTER_SEGMENTS else None
    return None


def parse_as_they_come(
    payloads: Iterator[tuple[str, Payload]],
    *,
    today: dt.date | None = None,
) -> tuple[ParsedMaster, list[str], dict[str, float]]:
    """Parse each payload as soon as it arrives and drop its text (bounded memory).

    With ``today``, contracts that expired before it are skipped (reason ``expired``).
    """
    parts: list[ParsedMaster] = []
    sources: list[str] = []
    phases = {"download": 0.0, "parse": 0.0}
    started = time.monotonic()
    for source, payload in payloads:
        arrived = time.monotonic()
        phases["download"] += arrived - started
        if source.endswith(INDEX_SUFFIX):
            parts.append(parse_index_list(payload, segment=source.removesuffix(INDEX_SUFFIX)))
        else:
            # A segment's payload is its master text (only index sources carry a list).
            parts.append(parse_master(cast(str, payload), segment=source, today=today))
        del payload
        sources.append(source)
        started = time.monotonic()
        phases["parse"] += started - arrived
    merged = merge_parsed(parts)
    phases["parse"] += time.monotonic() - started
    return merged, sources, phases


def counts(parsed: ParsedMaster, *, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
    stored = parsed.stored_by_source()
    skipped = parsed.skipped_by_source()
    return {
        source: {
            "lines": int(parsed.lines.get(source, 0)),
            "stored": int(stored.get(source, 0)),
            "skipped": int(sum(skipped.get(source, {}).values())),
            "skipped_by_reason": {k: int(v) for k, v in skipped.get(source, {}).items()},
        }
        for source in sources
    }
