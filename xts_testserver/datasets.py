"""Where the served master texts and index lists come from.

- ``samples``: the real master lines copied in ``tests/data/<SEGMENT>.txt`` (served verbatim) and
  the index lists ``tests/data/NSECM_INDEX.txt`` / ``BSECM_INDEX.txt`` (CSV ``Name,InstrumentId``)
  turned into ``NAME_TOKEN`` entries.
- ``samples-live``: the same real lines with every ContractExpiration moved by one whole number
  of weeks per segment (weekday and time kept) so that the earliest lands in the week starting
  on the anchor (today in Asia/Kolkata by default): every sample contract is live. Only the
  expiry moves; Description and DisplayName keep their original dates.
- ``full``: the deterministic generated master of ``generator.py`` (about 160,000 instruments),
  relative to the anchor.
- ``full-expired``: ``full`` plus ``EXPIRED_LINES`` contracts per F&O segment that expired before
  the anchor (``generator.expired_lines``), so that a sync can be seen skipping dead lines.

All accept a ``variant``: 0 is the dataset itself; N > 0 changes a few tokens (see
``generator.vary_tokens``) so tests can see "a symbol's token changed".
"""

from __future__ import annotations

import csv
import functools
import math
from datetime import date, timedelta
from pathlib import Path

from xts_testserver import generator

DATASETS = ("samples", "samples-live", "full", "full-expired")
#: Dead contracts per F&O segment in the ``full-expired`` dataset.
EXPIRED_LINES = 250
SEGMENTS = generator.SEGMENTS
INDEX_SEGMENTS = {1: "NSECM", 11: "BSECM"}
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"


def check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")


@functools.lru_cache(maxsize=64)
def _sample_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(
            f"Sample master file {path} is missing; pass data_dir= pointing at tests/data"
        )
    return path.read_text(encoding="utf-8").rstrip("\n")


@functools.lru_cache(maxsize=64)
def _sample_variant(
    path: Path, segment: str, variant: int, live_on: date | None = None
) -> tuple[str, dict[int, int]]:
    text = _sample_text(path)
    if live_on is not None:
        text = shift_expiries(text, weeks=weeks_to_live(text, today=live_on))
    return generator.vary_tokens(text, variant=variant, key=f"samples|{segment}")


# ContractExpiration is field 17 (index 16) of futures (1), options (2) and spreads (4).
_DATED_TYPES = frozenset({"1", "2", "4"})
_EXPIRY_FIELD = 16


def _dated_fields(line: str) -> list[str] | None:
    """The fields of a dated line with an ISO ContractExpiration, else None."""
    fields = line.split("|")
    if len(fields) > _EXPIRY_FIELD and fields[2] in _DATED_TYPES:
        try:
            date.fromisoformat(fields[_EXPIRY_FIELD][:10])
        except ValueError:
            return None
        return fields
    return None


def earliest_expiry(text: str) -> date | None:
    """The earliest ContractExpiration date in a master text (None: no dated lines)."""
    days = [
        date.fromisoformat(fields[_EXPIRY_FIELD][:10])
        for line in text.split("\n")
        if (fields := _dated_fields(line)) is not None
    ]
    return min(days, default=None)


def weeks_to_live(text: str, *, today: date) -> int:
    """Whole weeks (maybe negative) that bring the earliest expiry into [today, today + 6]."""
    earliest = earliest_expiry(text)
    if earliest is None:
        return 0
    return math.ceil((today - earliest).days / 7)


def shift_expiries(text: str, *, weeks: int) -> str:
    """``text`` with every ContractExpiration moved by ``weeks`` weeks (time of day kept)."""
    if weeks == 0:
        return text
    out = []
    for line in text.split("\n"):
        fields = _dated_fields(line)
        if fields is not None:
            old = fields[_EXPIRY_FIELD]
            moved = date.fromisoformat(old[:10]) + timedelta(weeks=weeks)
            fields[_EXPIRY_FIELD] = moved.isoformat() + old[10:]
            line = "|".join(fields)
        out.append(line)
    return "\n".join(out)


def master_text(
    dataset: str,
    segment: str,
    *,
    variant: int = 0,
    anchor: date | None = generator.ANCHOR,
    data_dir: Path = DEFAULT_DATA_DIR,
    expired_lines: int = 0,
) -> str:
    """The ``result`` string of ``instruments/master`` for one segment.

    ``anchor`` None: today in Asia/Kolkata. ``expired_lines`` adds dead contracts to a ``full``
    master (``full-expired`` has ``EXPIRED_LINES`` of them unless told otherwise).
    """
    check_dataset(dataset)
    if segment not in SEGMENTS:
        raise ValueError(f"Unknown XTS segment {segment!r}; valid: {', '.join(SEGMENTS)}")
    if dataset.startswith("full"):
        return generator.generate_master(
            segment,
            anchor=anchor,
            variant=variant,
            expired_lines=_expired(dataset, expired_lines),
        )
    return _sample_variant(
        Path(data_dir) / f"{segment}.txt", segment, variant, _live_on(dataset, anchor)
    )[0]


def token_changes(
    dataset: str,
    segment: str,
    *,
    variant: int,
    anchor: date | None = generator.ANCHOR,
    data_dir: Path = DEFAULT_DATA_DIR,
    expired_lines: int = 0,
) -> dict[int, int]:
    """{old token: new token} that ``variant`` applies to ``segment`` (empty for variant 0)."""
    check_dataset(dataset)
    if dataset.startswith("full"):
        return generator.token_changes(
            segment,
            anchor=anchor,
            variant=variant,
            expired_lines=_expired(dataset, expired_lines),
        )
    path = Path(data_dir) / f"{segment}.txt"
    return dict(_sample_variant(path, segment, variant, _live_on(dataset, anchor))[1])


def _expired(dataset: str, expired_lines: int) -> int:
    if expired_lines:
        return expired_lines
    return EXPIRED_LINES if dataset == "full-expired" else 0


def _live_on(dataset: str, anchor: date | None) -> date | None:
    return generator.resolve_anchor(anchor) if dataset == "samples-live" else None


@functools.lru_cache(maxsize=16)
def _sample_index(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        raise FileNotFoundError(f"Sample index file {path} is missing")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return tuple(f"{name.strip()}_{token.strip()}" for name, token in rows[1:] if name)


def index_entries(dataset: str, segment: str, *, data_dir: Path = DEFAULT_DATA_DIR) -> list[str]:
    """``NAME_TOKEN`` entries of ``instruments/indexlist`` for NSECM or BSECM."""
    check_dataset(dataset)
    if segment not in INDEX_SEGMENTS.values():
        raise ValueError(f"No index list for {segment!r}; valid: NSECM, BSECM")
    if dataset.startswith("full"):
        return generator.index_list(segment)
    return list(_sample_index(Path(data_dir) / f"{segment}_INDEX.txt"))
