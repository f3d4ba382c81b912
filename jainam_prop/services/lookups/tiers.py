"""The one walk through the tiers: process memory, then the shared cache, then the database.

Single, batch and reverse lookups all call :func:`walk`. Keys not in memory cost one cache
round trip together; keys not in the cache cost one query together (per ``BATCH_SQL_CHUNK``)
and are written back to the cache in one call; everything learned goes to memory. Answers are
stored under the generation the walk started with: that generation was committed before it
was known, so what the database returns is never older than it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import cache, db, generation, memory
from .memory import BY_SYMBOL
from .records import Entry, NotFound, decoded, encoded

#: Which tier answered the last key that needed the slowest one (for log lines).
MEMORY, CACHE, DATABASE = "memory", "cache", "database"
Explain = Callable[[Any], tuple[str, ...]]


def walk(
    broker: str, direction: str, wanted: Sequence[Any], *, explain: Explain | None = None
) -> tuple[memory.Snapshot, dict[Any, Entry], str]:
    """Answers for ``wanted`` keys (``(symbol, exchange)`` or ``(exchange, token)``).

    Returns the snapshot used, ``{key: record | Instrument | NotFound}`` for every key, and
    the slowest tier used. ``explain(key)`` gives the suggestions of a key the database does
    not have, before it is cached (single lookups); batches leave them for later (None).
    """
    snapshot = generation.snapshot(broker)
    table = snapshot.table(direction)
    found: dict[Any, Entry] = {}
    pending = []
    for key in wanted:
        hit = table.get(key)
        if hit is None:
            pending.append(key)
        else:
            found[key] = hit
    if not pending:
        return snapshot, found, MEMORY

    names = cache.answer_keys(broker, snapshot.generation, direction, pending)
    cached = cache.get_many(names)
    learned: list[tuple[Any, Entry]] = []
    unresolved: list[tuple[Any, str]] = []
    if cached is None:
        unresolved = list(zip(pending, names, strict=True))
    else:
        for key, name in zip(pending, names, strict=True):
            value = cached.get(name)
            if value is None:
                unresolved.append((key, name))
            else:  # a record as pickled (the common case), else decoded
                entry = (
                    value if value.__class__ is tuple and value[0] is not None else decoded(value)
                )
                learned.append((key, entry))
                found[key] = entry
    tier = CACHE
    if unresolved:
        tier = DATABASE
        rows = db.records(broker, direction, [key for key, _ in unresolved])
        fill: dict[str, Any] = {}
        for key, name in unresolved:
            answer: Entry = rows.get(key) or NotFound(explain(key) if explain else None)
            learned.append((key, answer))
            found[key] = answer
            fill[name] = encoded(answer)
        if cached is not None:
            cache.set_many(fill)
    memory.remember(snapshot, direction, learned)
    return snapshot, found, tier


def one(
    broker: str, direction: str, key: Any, *, explain: Explain | None = None
) -> tuple[memory.Snapshot, Entry, str]:
    """:func:`walk` for one key (the same tiers, writes and answers), without the batch
    bookkeeping: the path of every single lookup."""
    snapshot = generation.snapshot(broker)
    hit = (snapshot.by_symbol if direction == BY_SYMBOL else snapshot.by_token).get(key)
    if hit is not None:
        return snapshot, hit, MEMORY
    name = cache.answer_key(broker, snapshot.generation, direction, key)
    value = cache.get_one(name)
    if value is not None and value is not cache.UNAVAILABLE:
        entry: Entry = (
            value if value.__class__ is tuple and value[0] is not None else decoded(value)
        )
        memory.remember_one(snapshot, direction, key, entry)
        return snapshot, entry, CACHE
    rows = db.records(broker, direction, [key])
    entry = rows.get(key) or NotFound(explain(key) if explain else None)
    if value is None:  # the cache answered: fill it
        cache.set_many({name: encoded(entry)})
    memory.remember_one(snapshot, direction, key, entry)
    return snapshot, entry, DATABASE


def replace(snapshot: memory.Snapshot, broker: str, direction: str, key: Any, entry: Entry) -> None:
    """A better answer for one key (an Instrument built, suggestions computed): memory, and the
    cache when the answer changed."""
    memory.remember_one(snapshot, direction, key, entry)
    if entry.__class__ is NotFound:
        cache.set_many(
            {cache.answer_key(broker, snapshot.generation, direction, key): encoded(entry)}
        )
