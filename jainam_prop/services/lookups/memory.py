"""Tier 1: what this process knows, per broker and generation (plain dicts, no I/O).

A ``Snapshot`` holds the answers learned under one generation, by symbol
(``(symbol, exchange)``) and by token (``(exchange, token)``); a new generation replaces the
snapshot, so old answers are dropped at once. Each dict is bounded by
``JAINAM_LOOKUP_MEMORY_MAX``: when full, its oldest tenth goes.

``BrokerState`` is what ``generation`` installs snapshots into: the snapshot, until when it is
trusted, and the locks that keep one re-check at a time and installs atomic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from .config import config
from .records import TOKEN, Entry, Instrument

#: The monotonic clock that decides when the generation is re-checked. Tests replace it.
clock: Callable[[], float] = time.monotonic

BY_SYMBOL = "s"  # keys (symbol, exchange)
BY_TOKEN = "t"  # noqa: S105 - keys (exchange, token), not a secret


class Snapshot:
    """What this process knows of one generation of one broker."""

    __slots__ = ("by_symbol", "by_token", "generation")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.by_symbol: dict[tuple[str, str], Entry] = {}
        self.by_token: dict[tuple[str, int], Entry] = {}

    def table(self, direction: str) -> dict[Any, Entry]:
        return self.by_symbol if direction == BY_SYMBOL else self.by_token


class BrokerState:
    __slots__ = ("broker", "install_lock", "refresh_lock", "snapshot", "valid_until")

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.snapshot: Snapshot | None = None
        self.valid_until = float("-inf")
        self.refresh_lock = threading.Lock()  # one re-check at a time
        self.install_lock = threading.Lock()  # short: compare and install


_states: dict[str, BrokerState] = {}
_states_lock = threading.Lock()
_put_lock = threading.Lock()


def state(broker: str) -> BrokerState:
    found = _states.get(broker)
    if found is None:
        with _states_lock:
            found = _states.setdefault(broker, BrokerState(broker))
    return found


def known_state(broker: str) -> BrokerState | None:
    return _states.get(broker)


def remember(snapshot: Snapshot, direction: str, items: Iterable[tuple[Any, Entry]]) -> None:
    """Store answers under their key, and found ones under the other direction's key too."""
    items = list(items)
    limit = config().memory_max
    with _put_lock:
        by_symbol, by_token = snapshot.by_symbol, snapshot.by_token
        _make_room(by_symbol, limit, len(items))
        _make_room(by_token, limit, len(items))
        for key, entry in items:
            _put(by_symbol, by_token, direction, key, entry)


def remember_one(snapshot: Snapshot, direction: str, key: Any, entry: Entry) -> None:
    """:func:`remember` for one answer (the single lookups' path)."""
    limit = config().memory_max
    with _put_lock:
        by_symbol, by_token = snapshot.by_symbol, snapshot.by_token
        if len(by_symbol) >= limit or len(by_token) >= limit:
            _make_room(by_symbol, limit, 1)
            _make_room(by_token, limit, 1)
        _put(by_symbol, by_token, direction, key, entry)


def _put(
    by_symbol: dict[Any, Entry], by_token: dict[Any, Entry], direction: str, key: Any, entry: Entry
) -> None:
    kind = entry.__class__
    if direction == BY_SYMBOL:
        by_symbol[key] = entry
        if kind is tuple:
            by_token.setdefault((key[1], entry[TOKEN]), entry)  # type: ignore[index]
        elif kind is Instrument:
            by_token.setdefault((key[1], entry.token), entry)  # type: ignore[union-attr]
    else:
        by_token[key] = entry
        if kind is tuple:
            by_symbol[(entry[0], key[0])] = entry  # type: ignore[index]
        elif kind is Instrument:
            by_symbol[(entry.symbol, key[0])] = entry  # type: ignore[union-attr]


def _make_room(entries: dict[Any, Any], limit: int, incoming: int) -> None:
    """Drop the oldest entries, a tenth at least, when ``incoming`` would pass ``limit``."""
    excess = len(entries) + incoming - limit
    if excess > 0:
        drop = min(len(entries), max(excess, limit // 10))
        for old in list(islice(iter(entries), drop)):
            del entries[old]


def clear(*, keep_generation: bool = False) -> None:
    """Forget the answers held (and the generations too, unless ``keep_generation``)."""
    with _states_lock:
        if not keep_generation:
            _states.clear()
            return
        for known in _states.values():
            with known.install_lock:
                if known.snapshot is not None:
                    known.snapshot = Snapshot(known.snapshot.generation)


def stats(broker: str) -> dict[str, int | None]:
    known = _states.get(broker)
    snapshot = known.snapshot if known is not None else None
    if snapshot is None:
        return {"generation": None, "symbols": 0, "tokens": 0}
    return {
        "generation": snapshot.generation,
        "symbols": len(snapshot.by_symbol),
        "tokens": len(snapshot.by_token),
    }
