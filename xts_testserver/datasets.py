"""Where the served master texts and index lists come from.

- ``samples``: the real master lines copied in ``tests/data/<SEGMENT>.txt`` (served verbatim) and
  the index lists ``tests/data/NSECM_INDEX.txt`` / ``BSECM_INDEX.txt`` (CSV ``Name,InstrumentId``)
  turned into ``NAME_TOKEN`` entries.
- ``full``: the deterministic generated master of ``generator.py`` (about 160,000 instruments).

Both accept a ``variant``: 0 is the dataset itself; N > 0 changes a few tokens (see
``generator.vary_tokens``) so tests can see "a symbol's token changed".
"""

from __future__ import annotations

import csv
import functools
from datetime import date
from pathlib import Path

from xts_testserver import generator

DATASETS = ("samples", "full")
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
def _sample_variant(path: Path, segment: str, variant: int) -> tuple[str, dict[int, int]]:
    return generator.vary_tokens(_sample_text(path), variant=variant, key=f"samples|{segment}")


def master_text(
    dataset: str,
    segment: str,
    *,
    variant: int = 0,
    anchor: date = generator.ANCHOR,
    data_dir: Path = DEFAULT_DATA_DIR,
) -> str:
    """The ``result`` string of ``instruments/master`` for one segment."""
    check_dataset(dataset)
    if segment not in SEGMENTS:
        raise ValueError(f"Unknown XTS segment {segment!r}; valid: {', '.join(SEGMENTS)}")
    if dataset == "full":
        return generator.generate_master(segment, anchor=anchor, variant=variant)
    return _sample_variant(Path(data_dir) / f"{segment}.txt", segment, variant)[0]


def token_changes(
    dataset: str,
    segment: str,
    *,
    variant: int,
    anchor: date = generator.ANCHOR,
    data_dir: Path = DEFAULT_DATA_DIR,
) -> dict[int, int]:
    """{old token: new token} that ``variant`` applies to ``segment`` (empty for variant 0)."""
    check_dataset(dataset)
    if dataset == "full":
        return generator.token_changes(segment, anchor=anchor, variant=variant)
    return dict(_sample_variant(Path(data_dir) / f"{segment}.txt", segment, variant)[1])


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
    if dataset == "full":
        return generator.index_list(segment)
    return list(_sample_index(Path(data_dir) / f"{segment}_INDEX.txt"))
