"""The delta of one exchange: which stored rows vanish or change, which new rows are written.

Pure (numpy only): it takes the stored rows and the new rows as comparable arrays
(``columns.comparable``), matches them on the symbol (unique per broker and exchange), and
compares every other column. A row is *changed* when any column differs (a new token, a
lot-size revision, ...): it is deleted and written again, so the write is only deletes and
inserts, in that order, and the unique (broker, exchange, symbol) constraint always holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

EXAMPLES = 5  # symbols named per kind of change


@dataclass(frozen=True)
class ExchangeDelta:
    """What replacing one exchange's stored rows with the new ones does."""

    exchange: str
    stored: int  # rows stored now
    new: int  # rows in the new master
    delete_ids: np.ndarray  # stored ids of the vanished and the changed rows
    insert_positions: np.ndarray  # positions (in the new arrays) of the added and changed rows
    added: int
    removed: int
    changed: int
    vanished_expiry: np.ndarray  # days since 1970 (NaN: none) of each vanished row
    vanished_symbols: np.ndarray
    stored_expiry: np.ndarray  # of every stored row, for the guard's live count
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return (a == b) | (np.isnan(a) & np.isnan(b))
    return np.asarray(a == b, dtype=bool)


def exchange_delta(
    exchange: str,
    *,
    stored: Mapping[str, np.ndarray],
    new: Mapping[str, np.ndarray],
    compared: Sequence[str],
) -> ExchangeDelta:
    """Match ``stored`` (with ``id``) and ``new`` rows of ``exchange`` on ``symbol``; compare
    the ``compared`` columns of the rows present in both."""
    stored_symbols, new_symbols = stored["symbol"], new["symbol"]
    where = pd.Index(new_symbols).get_indexer(stored_symbols)  # new symbols are unique
    matched = where >= 0
    stored_at, new_at = np.flatnonzero(matched), where[matched]
    differs = np.zeros(len(stored_at), dtype=bool)
    changed_columns: dict[int, list[str]] = {}
    for name in compared:
        column_differs = ~_equal(stored[name][stored_at], new[name][new_at])
        for i in np.flatnonzero(column_differs)[:EXAMPLES]:
            changed_columns.setdefault(int(i), []).append(name)
        differs |= column_differs
    present = np.zeros(len(new_symbols), dtype=bool)
    present[new_at] = True
    added_at = np.flatnonzero(~present)
    vanished_at = np.flatnonzero(~matched)
    changed_stored = stored_at[differs]
    changed_new = new_at[differs]
    examples = {
        "added": [str(s) for s in new_symbols[added_at[:EXAMPLES]]],
        "removed": [str(s) for s in stored_symbols[vanished_at[:EXAMPLES]]],
        "changed": [
            f"{new_symbols[new_at[i]]} ({', '.join(changed_columns.get(int(i), ['...']))})"
            for i in np.flatnonzero(differs)[:EXAMPLES]
        ],
    }
    return ExchangeDelta(
        exchange=exchange,
        stored=len(stored_symbols),
        new=len(new_symbols),
        delete_ids=np.concatenate([stored["id"][vanished_at], stored["id"][changed_stored]]),
        insert_positions=np.sort(np.concatenate([added_at, changed_new])),
        added=len(added_at),
        removed=len(vanished_at),
        changed=int(differs.sum()),
        vanished_expiry=stored["expiry"][vanished_at],
        vanished_symbols=stored_symbols[vanished_at],
        stored_expiry=stored["expiry"],
        examples=examples,
    )
