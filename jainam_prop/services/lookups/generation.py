"""The generation: one counter per broker that makes every cached answer of older syncs
unreachable at once (it is part of every answer's key), with no key scans.

The sync bumps ``LookupGeneration`` inside its transaction and calls :func:`publish_generation`
on commit. A process trusts the generation it knows for ``JAINAM_LOOKUP_CHECK_INTERVAL`` and
then re-checks it:

- per-process cache (``LocMemCache``): from the ``LookupGeneration`` row, the cross-process
  truth;
- shared cache (Redis): from the shared key ``key(broker, "generation")``, as long as its
  freshness mark ``key(broker, "generation", "checked")`` lives (``JAINAM_LOOKUP_GENERATION_TTL``);
  once the mark is gone, from the row, and the row's value is written back. So a publish lost
  to an outage is corrected within the mark's life plus one interval.

It only moves forward. A process never installs a generation lower than one it has seen,
and the shared key is only ever raised (a compare-and-set script on Redis, through
django-redis's ``get_redis_connection``; a plain get-compare-set elsewhere). A process that
read an old row and stalls across a sync's commit therefore cannot put the old generation
back: when it wakes it learns the higher one instead. The freshness mark it writes never
outlives the moment of its database read plus the mark's life.
"""

from __future__ import annotations

import logging
import threading

from django_redis import get_redis_connection

from jainam_prop import cache_outage
from jainam_prop.models import DEFAULT_BROKER

from . import cache, db, memory
from .config import config

logger = logging.getLogger("jainam_prop.services.lookups")

# KEYS: generation, checked mark. ARGV: generation, its ttl (ms), the mark's ttl (ms; 0 = none).
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]))
local wanted = tonumber(ARGV[1])
if current == nil or current < wanted then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  current = wanted
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
end
return current
"""
_fallback_lock = threading.Lock()


def snapshot(broker: str) -> memory.Snapshot:
    """The snapshot to answer from: the known generation, re-checked once per interval."""
    state = memory.known_state(broker)
    if state is not None and memory.clock() < state.valid_until:
        return state.snapshot  # type: ignore[return-value]
    return _refresh(state or memory.state(broker))


def _refresh(state: memory.BrokerState) -> memory.Snapshot:
    # One thread re-checks; the others keep answering from the current snapshot meanwhile
    # (a thread with no snapshot at all waits for the first one).
    if not state.refresh_lock.acquire(blocking=state.snapshot is None):
        return state.snapshot  # type: ignore[return-value]
    try:
        checked_at = memory.clock()
        if state.snapshot is None or checked_at >= state.valid_until:
            install(state, _read(state.broker), checked_at=checked_at)
        return state.snapshot  # type: ignore[return-value]
    finally:
        state.refresh_lock.release()


def install(state: memory.BrokerState, generation: int, *, checked_at: float) -> None:
    """Use ``generation`` (or the higher one already known) until ``checked_at`` + the check
    interval. ``checked_at`` is taken before the generation was read: a slow read never
    stretches the time it is trusted."""
    with state.install_lock:
        previous = state.snapshot
        if previous is None or generation > previous.generation:
            state.snapshot = memory.Snapshot(generation)
            if previous is not None:
                logger.info(
                    "Lookup generation of %s changed from %s to %s: process memory cleared",
                    state.broker,
                    previous.generation,
                    generation,
                )
        state.valid_until = max(state.valid_until, checked_at + config().check_interval)


def _read(broker: str) -> int:
    """The committed generation: from the shared cache while it is fresh, else from the row."""
    if not cache.is_shared():
        return db.committed_generation(broker)
    names = [cache.key(broker, "generation"), cache.key(broker, "generation", "checked")]
    values = cache.get_many(names)
    if values is not None:
        shared, mark = values.get(names[0]), values.get(names[1])
        if isinstance(shared, int) and mark is not None:
            return shared
    read_at = memory.clock()
    generation = db.committed_generation(broker)
    if values is None:  # the cache is down: the row alone
        return generation
    fresh_for = config().generation_ttl - (memory.clock() - read_at)
    return raise_shared(broker, generation, fresh_for=fresh_for)


def raise_shared(broker: str, generation: int, *, fresh_for: float) -> int:
    """Raise the shared generation to ``generation`` (never lower it) and mark it fresh for
    ``fresh_for`` seconds (none when <= 0); return the shared generation after the call (the
    higher of both), or ``generation`` when the cache is unavailable."""
    names = [cache.key(broker, "generation"), cache.key(broker, "generation", "checked")]
    ttl, mark_ms = config().entry_ttl, int(fresh_for * 1000)
    alias = config().cache_alias
    try:
        client = get_redis_connection(alias)
    except NotImplementedError:  # not django-redis: a plain cache (not atomic across processes)
        return cache_outage.guarded(
            "lookups raise generation",
            _raise_plain,
            names,
            generation,
            ttl,
            fresh_for,
            default=generation,
        )
    backend = cache.backend()
    result = cache_outage.guarded(
        "lookups raise generation",
        client.eval,
        _RAISE,
        2,
        *(backend.make_key(name) for name in names),
        generation,
        int(ttl * 1000),
        max(mark_ms, 0),
        default=generation,
    )
    return int(result)


def _raise_plain(names: list[str], generation: int, ttl: float, fresh_for: float) -> int:
    backend = cache.backend()
    with _fallback_lock:
        current = backend.get(names[0])
        if not isinstance(current, int) or current < generation:
            backend.set(names[0], generation, ttl)
            current = generation
        if fresh_for > 0:
            backend.set(names[1], 1, fresh_for)
    return current


def current_generation(*, broker: str = DEFAULT_BROKER) -> int:
    """The broker's generation as this process uses it for lookups (see the module doc)."""
    return snapshot(broker).generation


def publish_generation(*, broker: str, generation: int) -> None:
    """Announce a committed sync: this process and the shared cache move to ``generation``
    (never back). Called by the sync in ``transaction.on_commit``. Never raises: a cache
    outage is logged, and other processes then learn the generation from the row within a
    second."""
    state = memory.state(broker)
    install(state, generation, checked_at=memory.clock())
    if cache.is_shared():
        shared = raise_shared(broker, generation, fresh_for=config().generation_ttl)
        if shared > generation:
            install(state, shared, checked_at=memory.clock())
    logger.info("Lookups of %s now use generation %s", broker, state.snapshot.generation)  # type: ignore[union-attr]
