"""Token lookups: OpenAlgo (symbol, exchange) <-> XTS token, served from three tiers.

This module is the only reader of ``SymbolToken`` for callers. A lookup asks, in order:

1. **Process memory**: plain dicts per broker and generation, in this process. A hit costs a
   dict lookup and a clock read (about a microsecond): no I/O.
2. **The shared cache** (Django's cache: django-redis when ``REDIS_URL`` is set, the in-process
   ``LocMemCache`` otherwise): one round trip.
3. **The database**: one indexed ``SELECT``; the answer goes to memory at once and to a shared
   cache in the background (one writer thread per process, pipelined), so a cold lookup costs
   one cache round trip and one query and never waits for the cache write.

Coherence (a sync is never hidden for more than a second):

- Every answer is keyed by the broker's **generation** (``LookupGeneration``), which the sync
  bumps inside its transaction and announces on commit through :func:`publish_generation`.
  A new generation makes every cached answer unreachable at once, with no key scans; old keys
  expire on their own (``JAINAM_LOOKUP_ENTRY_TTL``, a day).
- Each process trusts the generation it knows for at most ``JAINAM_LOOKUP_CHECK_INTERVAL``
  (0.5 s), then re-reads it: from the shared cache when the cache is shared between processes
  (Redis); from the ``LookupGeneration`` row when the cache is per process (``LocMemCache``:
  the row is the cross-process truth), down, or missing the key.
- The generation key in the cache expires after ``JAINAM_LOOKUP_GENERATION_TTL`` (0.5 s) and
  is then re-read from the row, so even a publish lost to a Redis outage is corrected within
  0.5 + 0.5 s.
- Answers fetched while knowing generation *g* are stored under *g* only; *g* becomes known
  only after its commit, so what the database returns then is never older than *g*. Not-found
  answers are cached under the generation too: a symbol added by a sync is found as soon as
  the new generation is seen.

Cache outage: any Redis error (refused, timed out after the settings' short socket timeouts,
read-only, ...) is caught in one place (:func:`_cache_call`). The cache is then skipped for
``JAINAM_LOOKUP_CACHE_RETRY`` seconds (5 s: a dead Redis is not hammered); lookups use memory
and the database, the outage is logged once per interval at WARNING, and the cache is used
again by itself as soon as a retry succeeds. Lookups never raise because of the cache.

Speed: with django-redis (default client, pickle serializer, no compression, default key
function) the cache tier speaks to django-redis's own connection pool through its raw client,
with the very keys and bytes django-redis reads and writes, but without its per-key overhead;
any other cache goes through the plain Django cache API. Cached values are small tuples of
primitives ("records"); batches keep them as they are and build ``Instrument`` objects only
when asked. Single lookups reuse one driver cursor per database connection.

Query counts: a lookup answered by memory or the cache runs no SQL. A generation check runs at
most one small query per interval, and only when the generation must come from the database.
Tests control the interval with an injectable monotonic clock (:data:`clock`), never sleeps.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import operator
import os
import pickle
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache, default_key_func
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.dispatch import receiver
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from jainam_prop.errors import SymbolNotFound, TokenNotFound
from jainam_prop.master_parser import EXCHANGES, INSTRUMENT_COLUMNS
from jainam_prop.models import DEFAULT_BROKER, LookupGeneration, SymbolToken

logger = logging.getLogger(__name__)

#: The monotonic clock of the memory tier and of the outage timer. Tests replace it with a
#: controllable clock to decide when the generation is re-checked.
clock: Callable[[], float] = time.monotonic

#: Largest ``limit`` accepted by :func:`search_instruments`.
MAX_SEARCH_LIMIT = 500
#: Pairs per SQL query in :func:`get_tokens` (below every backend's parameter limit).
BATCH_SQL_CHUNK = 900

_EXCHANGE_SET = frozenset(EXCHANGES)
_SYMBOL_MAX_LENGTH = SymbolToken._meta.get_field("symbol").max_length
_ONE = Decimal(1)
# Errors that mean "the cache is unusable right now". django-redis re-raises the redis-py error
# (``ConnectionError``, ``TimeoutError``, ``ResponseError``...); sockets may raise ``OSError``.
_CACHE_ERRORS = (RedisError, ConnectionInterrupted, OSError)
_UNAVAILABLE = object()  # what _cache_call returns when the cache was skipped or failed
_KEY_VERSION = "lk1"  # bump when the cached value layout changes

# Columns read from SymbolToken, in the order of Instrument's fields (broker comes last).
_FIELDS = INSTRUMENT_COLUMNS[:11]  # temporary: the lookups rewrite reads every column
# A cached answer ("record"): the fields above as primitives, expiry as a date ordinal and
# decimals as canonical strings, e.g. ("NIFTY28NOV2424000CE", "NFO", 35012, ..., 739218,
# "24000", 25, "0.05", "CE"). A cached not-found answer is (None, suggestions or None).
Record = tuple[Any, ...]


# --- public types -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instrument:
    """One instrument as stored by the last sync. Immutable; shared between callers."""

    symbol: str
    exchange: str
    token: int
    brsymbol: str
    brexchange: str
    name: str
    expiry: date | None
    strike: Decimal | None
    lot_size: int
    tick_size: Decimal
    instrument_type: str
    broker: str = DEFAULT_BROKER

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: expiry as ISO date, strike and tick size as numbers."""
        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "token": self.token,
            "brsymbol": self.brsymbol,
            "brexchange": self.brexchange,
            "name": self.name,
            "expiry": self.expiry.isoformat() if self.expiry is not None else None,
            "strike": float(self.strike) if self.strike is not None else None,
            "lot_size": self.lot_size,
            "tick_size": float(self.tick_size),
            "instrument_type": self.instrument_type,
            "broker": self.broker,
        }


class TokenBatch(dict[tuple[str, str], int]):
    """Result of :func:`get_tokens`: ``{(symbol, exchange): token}`` for every pair found.

    Keys are the normalised pairs (trimmed, upper-case), in the order first asked.
    ``missing`` lists the normalised pairs with no instrument, in the same order; they are
    reported here (and logged at WARNING), never silently dropped.
    """

    __slots__ = ("missing",)

    def __init__(
        self,
        found: Iterable[tuple[tuple[str, str], int]] = (),
        missing: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(found)
        self.missing: list[tuple[str, str]] = list(missing)

    def __repr__(self) -> str:
        return f"TokenBatch({dict.__repr__(self)}, missing={self.missing!r})"


# --- public functions -------------------------------------------------------------------------


def get_token_from_symbol(symbol: str, exchange: str, *, broker: str = DEFAULT_BROKER) -> int:
    """The XTS token of an OpenAlgo symbol, e.g. ``("NIFTY28NOV2424000CE", "NFO") -> 35012``.

    Symbol and exchange are trimmed and upper-cased. Raises ``SymbolNotFound`` (a
    ``ValueError`` naming the symbol, exchange and broker, with up to three close matches) or
    ``ValueError`` for an unknown exchange.
    """
    return _instrument_by_symbol(_symbol(symbol), _exchange(exchange), broker).token


def get_instrument(symbol: str, exchange: str, *, broker: str = DEFAULT_BROKER) -> Instrument:
    """The whole record of an OpenAlgo symbol (token, brsymbol, lot size, ...). As above."""
    return _instrument_by_symbol(_symbol(symbol), _exchange(exchange), broker)


def get_symbol_from_token(token: int | str, exchange: str, *, broker: str = DEFAULT_BROKER) -> str:
    """The OpenAlgo symbol of an XTS token on an exchange (order books, ticks).

    Raises ``TokenNotFound`` (a ``ValueError``) or ``ValueError`` for an unknown exchange.
    """
    return _instrument_by_token(_token(token), _exchange(exchange), broker).symbol


def get_instrument_by_token(
    token: int | str, exchange: str, *, broker: str = DEFAULT_BROKER
) -> Instrument:
    """The whole record of an XTS token on an exchange. As :func:`get_symbol_from_token`."""
    return _instrument_by_token(_token(token), _exchange(exchange), broker)


def get_tokens(pairs: Iterable[tuple[str, str]], *, broker: str = DEFAULT_BROKER) -> TokenBatch:
    """Many lookups at once (a basket order, an option chain): ``(symbol, exchange)`` pairs.

    Costs at most one cache round trip (one ``MGET``) for the pairs not in process memory and
    one SQL query (per 900 pairs) for the pairs not in the cache; pairs read from the database
    are written back to the cache in the background. Pairs not found are listed in
    ``.missing``. Raises ``ValueError`` for a malformed pair or an unknown exchange (before any
    I/O).
    """
    wanted = _normalised_pairs(pairs)
    snapshot = _snapshot(broker)
    tokens: dict[tuple[str, str], int | None] = {}  # None: not found
    pending: list[tuple[str, str]] = []
    by_symbol = snapshot.by_symbol
    for key in wanted:
        hit = by_symbol.get(key)
        if hit is None:
            pending.append(key)
        else:
            tokens[key] = _token_of(hit)
    from_memory = len(tokens)

    from_cache = from_db = 0
    if pending:
        generation = snapshot.generation
        prefix = _symbol_key(broker, generation, "", "")[:-1]  # as _symbol_key, inlined
        values = _cache_call(
            "get_list",
            [f"{prefix}{e}:{s if s.isalnum() and s.isascii() else _safe(s)}" for s, e in pending],
        )
        cached = values is not _UNAVAILABLE
        learned: list[tuple[tuple[str, str], _Entry]] = []
        unresolved: list[tuple[str, str]] = []
        if cached:
            for key, value in zip(pending, values, strict=True):
                if value is None:
                    unresolved.append(key)
                    continue
                if value.__class__ is not tuple or value[0] is None:
                    value = _decode(value)
                learned.append((key, value))
                tokens[key] = value[2] if value.__class__ is tuple else None
        else:
            unresolved = pending
        from_cache = len(learned)
        if unresolved:
            records = _select_many(broker, unresolved)
            fresh: list[tuple[tuple[str, str], _Entry]] = []
            for key in unresolved:
                record = records.get(key)
                fresh.append((key, record or _Missing(None)))
                tokens[key] = None if record is None else record[2]
            from_db = len(fresh)
            learned.extend(fresh)
            if cached:
                _write_back(
                    {_symbol_key(broker, generation, e, s): _encode(v) for (s, e), v in fresh}
                )
        _remember_many(snapshot, learned)

    batch = TokenBatch()
    missing = batch.missing
    for key in wanted:
        token = tokens[key]
        if token is None:
            missing.append(key)
        else:
            batch[key] = token
    logger.debug(
        "get_tokens %s: %s pairs, %s from memory, %s from cache, %s from the database, %s missing",
        broker,
        len(wanted),
        from_memory,
        from_cache,
        from_db,
        len(missing),
    )
    if missing:
        logger.warning(
            "get_tokens %s: %s pair(s) not found: %s",
            broker,
            len(missing),
            ", ".join(f"{e}:{s}" for s, e in missing[:20]),
        )
    return batch


def _normalised_pairs(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], None]:
    """``{(symbol, exchange): None}`` normalised, in the order given, without duplicates."""
    items = pairs if isinstance(pairs, list | tuple) else list(pairs)
    wanted: dict[tuple[str, str], None] = {}
    try:  # the common case, fast: canonical exchanges, text symbols
        for symbol, exchange in items:
            normalised = symbol.strip().upper()
            if not normalised or exchange not in _EXCHANGE_SET or not normalised.isprintable():
                raise ValueError
            wanted[(normalised, exchange)] = None
        return wanted
    except (AttributeError, TypeError, ValueError):
        pass
    wanted.clear()
    for pair in items:  # again, one by one, to normalise or say precisely what is wrong
        try:
            symbol, exchange = pair
        except (TypeError, ValueError):
            raise ValueError(f"get_tokens expects (symbol, exchange) pairs, got {pair!r}") from None
        wanted[(_symbol(symbol), _exchange(exchange))] = None
    return wanted


def search_instruments(
    query: str,
    *,
    exchange: str | None = None,
    broker: str = DEFAULT_BROKER,
    limit: int = 50,
) -> list[Instrument]:
    """Instruments whose symbol starts with ``query`` (case-insensitive), ordered by symbol.

    Optionally on one ``exchange`` only. ``limit`` is 1..500. Reads the database (no caching:
    searches are for people, not for order flow).
    """
    prefix = _symbol(query, what="search query")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_SEARCH_LIMIT}, got {limit!r}")
    rows = SymbolToken.objects.filter(broker=broker, symbol__startswith=prefix)
    if exchange is not None:
        rows = rows.filter(exchange=_exchange(exchange))
    found = [
        _instrument(_record_of_row(row), broker)
        for row in rows.order_by("symbol", "exchange").values_list(*_FIELDS)[:limit]
    ]
    logger.debug("search %s %r on %s: %s found", broker, prefix, exchange or "all", len(found))
    return found


def current_generation(*, broker: str = DEFAULT_BROKER) -> int:
    """The broker's generation as this process uses it for lookups.

    Trusted for ``JAINAM_LOOKUP_CHECK_INTERVAL`` seconds, then re-read from the shared cache
    (Redis) or, when the cache is per process, down or missing the key, from the
    ``LookupGeneration`` row.
    """
    return _snapshot(broker).generation


def publish_generation(*, broker: str, generation: int) -> None:
    """Announce a committed sync: this process and the shared cache switch to ``generation``.

    Called by the sync in ``transaction.on_commit``. Never raises: a cache outage is logged,
    and other processes then learn the generation from the database within a second.
    """
    state = _state(broker)
    with state.refresh_lock:
        _install(state, generation, clock())
    if _tier().shared:
        _cache_call("set", _generation_key(broker), generation, _config().generation_ttl)
    logger.info("Lookups of %s now use generation %s", broker, generation)


def clear_process_memory(*, keep_generation: bool = False) -> None:
    """Forget the instruments held in this process's memory (and the generation, by default).

    The shared cache is untouched. For tests, benchmarks and after editing rows by hand.
    """
    with _states_lock:
        if keep_generation:
            for state in _states.values():
                if state.snapshot is not None:
                    state.snapshot = _Snapshot(state.snapshot.generation)
        else:
            _states.clear()


def process_memory_stats(*, broker: str = DEFAULT_BROKER) -> dict[str, int | None]:
    """What this process holds in memory for a broker: generation and entry counts."""
    state = _states.get(broker)
    snapshot = state.snapshot if state is not None else None
    if snapshot is None:
        return {"generation": None, "symbols": 0, "tokens": 0}
    return {
        "generation": snapshot.generation,
        "symbols": len(snapshot.by_symbol),
        "tokens": len(snapshot.by_token),
    }


def reset_process_state() -> None:
    """Forget everything this process knows: memory, generations, cache outage, settings."""
    global _config_cache, _tier_cache
    clear_process_memory()
    _writer.stop()
    _outage.reset()
    _config_cache = None
    _tier_cache = None


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    cache_alias: str
    check_interval: float
    generation_ttl: float
    entry_ttl: float
    memory_max: int
    retry_interval: float

    @classmethod
    def from_settings(cls) -> _Config:
        def positive(name: str, default: float) -> float:
            value = getattr(settings, name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ImproperlyConfigured(f"{name} must be a positive number, got {value!r}")
            return value

        return cls(
            cache_alias=getattr(settings, "JAINAM_LOOKUP_CACHE_ALIAS", "default"),
            check_interval=positive("JAINAM_LOOKUP_CHECK_INTERVAL", 0.5),
            generation_ttl=positive("JAINAM_LOOKUP_GENERATION_TTL", 0.5),
            entry_ttl=positive("JAINAM_LOOKUP_ENTRY_TTL", 86_400),
            memory_max=int(positive("JAINAM_LOOKUP_MEMORY_MAX", 200_000)),
            retry_interval=positive("JAINAM_LOOKUP_CACHE_RETRY", 5.0),
        )


_config_cache: _Config | None = None


def _config() -> _Config:
    global _config_cache
    if _config_cache is None:
        _config_cache = _Config.from_settings()
    return _config_cache


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Tests override CACHES or JAINAM_LOOKUP_*: start again from a clean state."""
    if setting == "CACHES" or setting.startswith("JAINAM_LOOKUP_"):
        reset_process_state()


# --- normalisation ----------------------------------------------------------------------------


def _symbol(value: Any, *, what: str = "symbol") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string such as NIFTY28NOV2424000CE, got {value!r}")
    symbol = value.strip().upper()
    if not symbol:
        raise ValueError(f"{what} is empty: pass an OpenAlgo symbol such as NIFTY28NOV2424000CE")
    if not symbol.isprintable():  # NUL, control characters, lone surrogates: never a symbol
        raise ValueError(
            f"{what} {value!r} contains a control or non-printable character; "
            "pass an OpenAlgo symbol such as NIFTY28NOV2424000CE"
        )
    return symbol


def _exchange(value: Any) -> str:
    exchange = value.strip().upper() if isinstance(value, str) else None
    if exchange not in _EXCHANGE_SET:
        raise ValueError(f"Unknown exchange {value!r}; valid exchanges: {', '.join(EXCHANGES)}")
    return exchange


def _token(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if not isinstance(value, bool):
        try:
            token = operator.index(value)
        except TypeError:
            pass
        else:
            if token > 0:
                return token
    raise ValueError(
        f"token must be a positive integer (the XTS ExchangeInstrumentID), got {value!r}"
    )


# --- process memory (tier 1) ------------------------------------------------------------------


class _Missing:
    """A not-found answer; ``suggestions`` is None until computed (batches do not)."""

    __slots__ = ("suggestions",)

    def __init__(self, suggestions: tuple[str, ...] | None) -> None:
        self.suggestions = suggestions


# What memory holds per key: an Instrument, a record not yet turned into one, or not-found.
_Entry = Instrument | Record | _Missing


class _Snapshot:
    """What this process knows of one generation of one broker."""

    __slots__ = ("by_symbol", "by_token", "generation")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.by_symbol: dict[tuple[str, str], _Entry] = {}  # (symbol, exchange)
        self.by_token: dict[tuple[str, int], _Entry] = {}  # (exchange, token)


class _BrokerState:
    __slots__ = ("broker", "refresh_lock", "snapshot", "valid_until")

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.snapshot: _Snapshot | None = None
        self.valid_until = float("-inf")
        self.refresh_lock = threading.Lock()


_states: dict[str, _BrokerState] = {}
_states_lock = threading.Lock()
_put_lock = threading.Lock()


def _state(broker: str) -> _BrokerState:
    state = _states.get(broker)
    if state is None:
        with _states_lock:
            state = _states.setdefault(broker, _BrokerState(broker))
    return state


def _snapshot(broker: str) -> _Snapshot:
    """The snapshot to answer from: the known generation, re-checked once per interval."""
    state = _states.get(broker)
    if state is not None and clock() < state.valid_until:
        return state.snapshot  # type: ignore[return-value]
    return _refresh(_state(broker))


def _refresh(state: _BrokerState) -> _Snapshot:
    # One thread re-checks; the others keep answering from the current snapshot meanwhile
    # (a thread with no snapshot at all waits for the first one).
    if not state.refresh_lock.acquire(blocking=state.snapshot is None):
        return state.snapshot  # type: ignore[return-value]
    try:
        now = clock()
        if state.snapshot is None or now >= state.valid_until:
            _install(state, _read_generation(state.broker), now)
        return state.snapshot  # type: ignore[return-value]
    finally:
        state.refresh_lock.release()


def _install(state: _BrokerState, generation: int, now: float) -> None:
    """Use ``generation`` until ``now`` + the check interval (caller holds the refresh lock).

    ``now`` is taken before the generation was read, so the interval is never stretched by
    the time the read took.
    """
    previous = state.snapshot
    if previous is None or previous.generation != generation:
        state.snapshot = _Snapshot(generation)
        if previous is not None:
            logger.info(
                "Lookup generation of %s changed from %s to %s: process memory cleared",
                state.broker,
                previous.generation,
                generation,
            )
    state.valid_until = now + _config().check_interval


def _remember_many(snapshot: _Snapshot, items: Sequence[tuple[tuple[str, str], _Entry]]) -> None:
    """Store answers by symbol, and found ones by token too (unless one is already there)."""
    limit = _config().memory_max
    with _put_lock:
        by_symbol, by_token = snapshot.by_symbol, snapshot.by_token
        _make_room(by_symbol, limit, len(items))
        _make_room(by_token, limit, len(items))
        for key, value in items:
            by_symbol[key] = value
            kind = value.__class__
            if kind is tuple:
                by_token.setdefault((key[1], value[2]), value)  # type: ignore[index]
            elif kind is Instrument:
                by_token.setdefault((key[1], value.token), value)  # type: ignore[union-attr]


def _remember_token(snapshot: _Snapshot, key: tuple[str, int], value: _Entry) -> None:
    limit = _config().memory_max
    with _put_lock:
        _make_room(snapshot.by_token, limit)
        snapshot.by_token[key] = value
        if value.__class__ is Instrument:
            _make_room(snapshot.by_symbol, limit)
            snapshot.by_symbol[(value.symbol, key[0])] = value  # type: ignore[union-attr]


def _make_room(entries: dict[Any, Any], limit: int, incoming: int = 1) -> None:
    """Keep a memory dict bounded: drop its oldest entries, a tenth at least, when it would
    grow past ``limit`` (caller holds _put_lock)."""
    excess = len(entries) + incoming - limit
    if excess > 0:
        drop = min(len(entries), max(excess, limit // 10))
        for old in list(islice(iter(entries), drop)):
            del entries[old]


def _token_of(entry: _Entry) -> int | None:
    if entry.__class__ is Instrument:
        return entry.token  # type: ignore[union-attr]
    if entry.__class__ is tuple:
        return entry[2]  # type: ignore[index]
    return None


# --- shared cache (tier 2) --------------------------------------------------------------------


class _DjangoCacheDoor:
    """Any Django cache, through its public API (LocMemCache, or Redis configured otherwise)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def get(self, key: str) -> Any:
        return caches[self.alias].get(key)

    def get_list(self, keys: list[str]) -> list[Any]:
        found = caches[self.alias].get_many(keys)
        return [found.get(key) for key in keys]

    def set(self, key: str, value: Any, ttl: float) -> None:
        caches[self.alias].set(key, value, ttl)

    def set_many(self, values: dict[str, Any], ttl: float) -> None:
        caches[self.alias].set_many(values, ttl)

    def add(self, key: str, value: Any, ttl: float) -> None:
        caches[self.alias].add(key, value, ttl)


_DJANGO_REDIS_DEFAULTS = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SERIALIZER": "django_redis.serializers.pickle.PickleSerializer",
    "COMPRESSOR": "django_redis.compressors.identity.IdentityCompressor",
}


class _RedisDoor:
    """django-redis's own connection pool, raw: the same keys (``prefix:version:key``) and the
    same bytes (ints as digits, anything else pickled) as django-redis, so ``cache.get`` reads
    what this writes and the reverse, without django-redis's per-key cost (key objects, an
    int() attempt on every value)."""

    def __init__(self, cache: BaseCache) -> None:
        client = cache.client  # type: ignore[attr-defined]
        self.prefix = cache.make_key("")
        self.encode = client.encode
        self.reader = client.get_client(write=False)
        self.writer = client.get_client(write=True)

    @staticmethod
    def accepts(alias: str, cache: BaseCache) -> bool:
        from django_redis.cache import RedisCache

        config = settings.CACHES[alias]
        options = config.get("OPTIONS", {})
        return (
            isinstance(cache, RedisCache)
            and cache.key_func is default_key_func
            and config.get("KEY_FUNCTION") is None
            and all(
                options.get(name, value) == value for name, value in _DJANGO_REDIS_DEFAULTS.items()
            )
        )

    @staticmethod
    def decode(raw: bytes | None) -> Any:
        if raw is None:
            return None
        if raw[:1] == b"\x80":  # a pickle (protocol >= 2), as django-redis writes them
            return pickle.loads(raw)  # noqa: S301 - our own cache, written by django-redis
        return int(raw)  # django-redis stores integers as digits

    def get(self, key: str) -> Any:
        return self.decode(self.reader.get(self.prefix + key))

    def get_list(self, keys: list[str]) -> list[Any]:
        prefix, loads, decode = self.prefix, pickle.loads, self.decode
        return [
            loads(raw) if raw is not None and raw[:1] == b"\x80" else decode(raw)
            for raw in self.reader.mget([prefix + key for key in keys])
        ]

    def set(self, key: str, value: Any, ttl: float) -> None:
        self.writer.set(self.prefix + key, self.encode(value), px=int(ttl * 1000))

    def set_many(self, values: dict[str, Any], ttl: float) -> None:
        pipeline = self.writer.pipeline(transaction=False)
        px = int(ttl * 1000)
        for key, value in values.items():
            pipeline.set(self.prefix + key, self.encode(value), px=px)
        pipeline.execute()

    def add(self, key: str, value: Any, ttl: float) -> None:
        self.writer.set(self.prefix + key, self.encode(value), px=int(ttl * 1000), nx=True)


@dataclass(frozen=True)
class _Tier:
    door: _DjangoCacheDoor | _RedisDoor
    shared: bool  # seen by other processes (LocMemCache and DummyCache are not)


_tier_cache: _Tier | None = None


def _tier() -> _Tier:
    global _tier_cache
    if _tier_cache is None:
        alias = _config().cache_alias
        cache = caches[alias]
        door = _RedisDoor(cache) if _RedisDoor.accepts(alias, cache) else _DjangoCacheDoor(alias)
        _tier_cache = _Tier(door=door, shared=not isinstance(cache, LocMemCache | DummyCache))
    return _tier_cache


class _Outage:
    """When the cache failed, and until when it is skipped."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.down_until = float("-inf")
        self.down_since: float | None = None
        self.logged_at = float("-inf")


_outage = _Outage()
_outage_lock = threading.Lock()


def _cache_call(operation: str, *args: Any) -> Any:
    """Run one cache operation; ``_UNAVAILABLE`` while the cache is down. Never raises."""
    if clock() < _outage.down_until:
        return _UNAVAILABLE
    try:
        result = getattr(_tier().door, operation)(*args)
    except _CACHE_ERRORS as exc:
        _cache_failed(exc, operation)
        return _UNAVAILABLE
    if _outage.down_since is not None:
        _cache_recovered()
    return result


def _cache_failed(exc: BaseException, operation: str) -> None:
    retry = _config().retry_interval
    with _outage_lock:
        now = clock()
        _outage.down_until = now + retry
        if _outage.down_since is None:
            _outage.down_since = now
        if now - _outage.logged_at >= retry:
            _outage.logged_at = now
            logger.warning(
                "Cache %r unavailable (%s during %s: %s); lookups use process memory and the "
                "database, and retry the cache every %.0f s. Check that Redis is running and "
                "reachable at REDIS_URL.",
                _config().cache_alias,
                type(exc).__name__,
                operation,
                exc,
                retry,
            )


def _cache_recovered() -> None:
    with _outage_lock:
        if _outage.down_since is None:
            return
        lasted = clock() - _outage.down_since
        _outage.reset()
    logger.warning(
        "Cache %r is back after %.1f s; lookups use it again", _config().cache_alias, lasted
    )


def _write_back(values: dict[str, Record]) -> None:
    """Put answers read from the database into the cache: at once when the cache is in this
    process, in the background when it is shared (a cold lookup then costs one cache round trip
    and one query, and does not wait for the write)."""
    if not values or clock() < _outage.down_until:
        return
    if _tier().shared:
        _writer.put(values)
    else:
        _cache_call("set_many", values, _config().entry_ttl)


class _CacheWriter:
    """One daemon thread per process that writes answers to the shared cache, many per
    pipelined round trip. Bounded: when Redis cannot keep up, write-backs are dropped (they
    are only a cache fill)."""

    MAX_PENDING = 10_000
    MAX_BATCH = 100

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, Record] | None] | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def put(self, values: dict[str, Record]) -> None:
        pending = self._queue or self._start()
        try:
            pending.put_nowait(values)
        except queue.Full:
            logger.debug("Cache writer is behind: %s write-backs dropped", len(values))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (at most ``timeout`` s) until the write-backs queued so far are done."""
        pending = self._queue
        if pending is not None:
            # Queue.join() without its unbounded wait: a queue being stopped may never drain.
            with pending.all_tasks_done:
                pending.all_tasks_done.wait_for(lambda: not pending.unfinished_tasks, timeout)

    def stop(self) -> None:
        """Stop the thread and wait for a write in flight; queued write-backs are dropped (the
        cache or the settings are being replaced)."""
        with self._lock:
            pending, stop, thread = self._queue, self._stop, self._thread
            self._queue = self._stop = self._thread = None
        if pending is not None and stop is not None and thread is not None:
            stop.set()
            with contextlib.suppress(queue.Full):
                pending.put_nowait(None)
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def forget_after_fork(self) -> None:
        """In a forked child the thread does not exist: start afresh on the next write."""
        self._lock = threading.Lock()
        self._queue = self._stop = self._thread = None

    def _start(self) -> queue.Queue[dict[str, Record] | None]:
        with self._lock:
            if self._queue is None:
                self._queue, self._stop = queue.Queue(self.MAX_PENDING), threading.Event()
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._queue, self._stop),
                    name="jainam-lookups-cache-writer",
                    daemon=True,
                )
                self._thread.start()
            return self._queue

    def _run(self, pending: queue.Queue[dict[str, Record] | None], stop: threading.Event) -> None:
        while not stop.is_set():
            batch = [pending.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            try:
                merged: dict[str, Record] = {}
                for values in batch:
                    if values is not None:
                        merged.update(values)
                if merged and not stop.is_set():
                    _cache_call("set_many", merged, _config().entry_ttl)
            except Exception:
                logger.exception("Cache writer: %s write-backs failed", len(batch))
            finally:
                for _ in batch:
                    pending.task_done()
        while True:  # stopped: what is left is dropped
            try:
                pending.get_nowait()
            except queue.Empty:
                return
            pending.task_done()


_writer = _CacheWriter()
os.register_at_fork(after_in_child=_writer.forget_after_fork)


def flush_cache_writes() -> None:
    """Wait until this process's background cache fills are written. For tests and benchmarks:
    lookups never need it (a missing cache entry only costs a database read)."""
    _writer.flush()


def _generation_key(broker: str) -> str:
    return f"{_KEY_VERSION}:{broker}:generation"


def _safe(part: str) -> str:
    """The part as is when it is printable ASCII without spaces (every real symbol)."""
    if part.isascii() and part.isprintable() and " " not in part:
        return part
    return quote(part, safe="")


def _symbol_key(broker: str, generation: int, exchange: str, symbol: str) -> str:
    return f"{_KEY_VERSION}:{broker}:{generation}:s:{exchange}:{_safe(symbol)}"


def _token_key(broker: str, generation: int, exchange: str, token: int) -> str:
    return f"{_KEY_VERSION}:{broker}:{generation}:t:{exchange}:{token}"


def _encode(entry: _Entry) -> Record:
    """What the cache stores for an answer."""
    if entry.__class__ is _Missing:
        return (None, entry.suggestions)  # type: ignore[union-attr]
    if entry.__class__ is Instrument:
        return _record_of_instrument(entry)  # type: ignore[arg-type]
    return entry  # type: ignore[return-value]


def _decode(value: Sequence[Any]) -> Record | _Missing:
    """A cached answer (a serializer such as JSON may turn tuples into lists)."""
    if value[0] is None:
        return _Missing(None if value[1] is None else tuple(value[1]))
    return value if value.__class__ is tuple else tuple(value)  # type: ignore[return-value]


def _read_generation(broker: str) -> int:
    """The committed generation: from the shared cache, else from the database row."""
    shared = _tier().shared
    if shared:
        value = _cache_call("get", _generation_key(broker))
        if isinstance(value, int):
            return value
    generation = (
        LookupGeneration.objects.filter(broker=broker).values_list("generation", flat=True).first()
    ) or 0
    if shared:
        # add, not set: never overwrite a newer generation published meanwhile.
        _cache_call("add", _generation_key(broker), generation, _config().generation_ttl)
    return generation


# --- database (tier 3) ------------------------------------------------------------------------

_sql_by_vendor: dict[str, dict[str, str]] = {}


def _sql(name: str) -> str:
    """Hand-written single-row selects: the ORM would cost more than the query itself."""
    statements = _sql_by_vendor.get(connection.vendor)
    if statements is None:
        q = connection.ops.quote_name
        table = q(SymbolToken._meta.db_table)
        columns = ", ".join(q(SymbolToken._meta.get_field(f).column) for f in _FIELDS)
        where = f"{q('broker')} = %s AND {q('exchange')} = %s"
        # Identifiers come from the model and are quoted; values are always parameters.
        statements = {
            "by_symbol": f"SELECT {columns} FROM {table} WHERE {where} AND {q('symbol')} = %s",  # noqa: S608
            "by_token": (
                f"SELECT {columns} FROM {table} WHERE {where} AND {q('token')} = %s "  # noqa: S608
                f"ORDER BY {q('symbol')} LIMIT 1"
            ),
        }
        _sql_by_vendor[connection.vendor] = statements
    return statements[name]


def _select_one(name: str, params: tuple[Any, ...]) -> Record | None:
    cursor = _reused_cursor()
    cursor.execute(_sql(name), params)
    row = cursor.fetchone()
    return None if row is None else _record_of_row(row)


def _reused_cursor() -> Any:
    """A Django cursor over one driver cursor kept per database connection.

    Creating a psycopg cursor costs about as much as a third of the query itself, so single
    lookups keep theirs for as long as Django keeps the connection. The Django wrapper is made
    afresh each time, so query logging (DEBUG, ``django_assert_num_queries``) sees every query.
    """
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    held = db.__dict__.get("_lookups_cursor")
    if held is None or held[0] is not db.connection or getattr(held[1], "closed", False):
        with db.wrap_database_errors:
            held = (db.connection, db.create_cursor())
        db.__dict__["_lookups_cursor"] = held
    db.validate_thread_sharing()
    return db.make_debug_cursor(held[1]) if db.queries_logged else db.make_cursor(held[1])


def _select_many(broker: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Record]:
    """Records of ``(symbol, exchange)`` keys: one query per ``BATCH_SQL_CHUNK`` keys."""
    wanted = set(keys)
    found: dict[tuple[str, str], Record] = {}
    for start in range(0, len(keys), BATCH_SQL_CHUNK):
        chunk = keys[start : start + BATCH_SQL_CHUNK]
        rows = SymbolToken.objects.filter(
            broker=broker,
            exchange__in=sorted({e for _, e in chunk}),
            symbol__in=sorted({s for s, _ in chunk}),
        ).values_list(*_FIELDS)
        for row in rows:
            if (row[0], row[1]) in wanted:
                found[(row[0], row[1])] = _record_of_row(row)
    return found


def _decimal_text(value: Any) -> str | None:
    """One canonical text whatever the backend returns: "24000", "292.5", "0.05"."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    number = number.quantize(_ONE) if number == number.to_integral_value() else number.normalize()
    return str(number)


def _ordinal(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    return date.fromisoformat(str(value)[:10]).toordinal()  # SQLite through a raw cursor


def _record_of_row(row: Sequence[Any]) -> Record:
    symbol, exchange, token, brsymbol, brexchange, name, expiry, strike, lot, tick, kind = row
    return (
        symbol,
        exchange,
        int(token),
        brsymbol,
        brexchange,
        name,
        _ordinal(expiry),
        _decimal_text(strike),
        int(lot),
        _decimal_text(tick),
        kind,
    )


def _record_of_instrument(instrument: Instrument) -> Record:
    return (
        instrument.symbol,
        instrument.exchange,
        instrument.token,
        instrument.brsymbol,
        instrument.brexchange,
        instrument.name,
        None if instrument.expiry is None else instrument.expiry.toordinal(),
        None if instrument.strike is None else str(instrument.strike),
        instrument.lot_size,
        str(instrument.tick_size),
        instrument.instrument_type,
    )


def _instrument(record: Record, broker: str) -> Instrument:
    symbol, exchange, token, brsymbol, brexchange, name, expiry, strike, lot, tick, kind = record
    return Instrument(
        symbol,
        exchange,
        token,
        brsymbol,
        brexchange,
        name,
        None if expiry is None else date.fromordinal(expiry),
        None if strike is None else Decimal(strike),
        lot,
        Decimal(tick),
        kind,
        broker,
    )


# --- lookups through the tiers ----------------------------------------------------------------


def _instrument_by_symbol(symbol: str, exchange: str, broker: str) -> Instrument:
    snapshot = _snapshot(broker)
    key = (symbol, exchange)
    hit = snapshot.by_symbol.get(key)
    if hit.__class__ is Instrument:
        logger.debug("lookup %s %s:%s -> %s (memory)", broker, exchange, symbol, hit.token)  # type: ignore[union-attr]
        return hit  # type: ignore[return-value]
    tier = "memory"
    if hit is None:
        hit, tier = _fetch_by_symbol(snapshot, broker, exchange, symbol)
    if hit.__class__ is tuple:
        instrument = _instrument(hit, broker)  # type: ignore[arg-type]
        _remember_many(snapshot, [(key, instrument)])
        logger.debug("lookup %s %s:%s -> %s (%s)", broker, exchange, symbol, instrument.token, tier)
        return instrument
    missing: _Missing = hit  # type: ignore[assignment]
    if missing.suggestions is None:  # a batch's not-found: add the suggestions once
        missing = _Missing(_suggestions(broker, exchange, symbol))
        _write_back({_symbol_key(broker, snapshot.generation, exchange, symbol): _encode(missing)})
    if tier != "memory" or missing is not hit:
        _remember_many(snapshot, [(key, missing)])
    logger.warning("Symbol %s not found on %s for %s (%s)", symbol, exchange, broker, tier)
    raise SymbolNotFound(
        symbol=symbol, exchange=exchange, broker=broker, suggestions=missing.suggestions or ()
    )


def _fetch_by_symbol(
    snapshot: _Snapshot, broker: str, exchange: str, symbol: str
) -> tuple[Record | _Missing, str]:
    """Tiers 2 and 3 for one symbol; a database answer is written back to the cache."""
    if len(symbol) > _SYMBOL_MAX_LENGTH:  # cannot exist; keep it out of the caches' keys
        return _Missing(()), "too long"
    cache_key = _symbol_key(broker, snapshot.generation, exchange, symbol)
    value = _cache_call("get", cache_key)
    if value is not None and value is not _UNAVAILABLE:
        return _decode(value), "cache"
    record = _select_one("by_symbol", (broker, exchange, symbol))
    found: Record | _Missing = record if record is not None else _Missing(None)
    if found.__class__ is _Missing:
        found = _Missing(_suggestions(broker, exchange, symbol))
    if value is not _UNAVAILABLE:
        _write_back({cache_key: _encode(found)})
    return found, "database"


def _instrument_by_token(token: int, exchange: str, broker: str) -> Instrument:
    snapshot = _snapshot(broker)
    key = (exchange, token)
    hit = snapshot.by_token.get(key)
    tier = "memory"
    if hit is None:
        cache_key = _token_key(broker, snapshot.generation, exchange, token)
        value = _cache_call("get", cache_key)
        if value is not None and value is not _UNAVAILABLE:
            hit, tier = _decode(value), "cache"
        else:
            record = _select_one("by_token", (broker, exchange, token))
            hit, tier = (record if record is not None else _Missing(())), "database"
            if value is not _UNAVAILABLE:
                _write_back({cache_key: _encode(hit)})
    if hit.__class__ is tuple:
        hit = _instrument(hit, broker)  # type: ignore[arg-type]
        _remember_token(snapshot, key, hit)
    elif tier != "memory":
        _remember_token(snapshot, key, hit)
    if hit.__class__ is Instrument:
        instrument: Instrument = hit  # type: ignore[assignment]
        logger.debug(
            "reverse lookup %s %s:%s -> %s (%s)", broker, exchange, token, instrument.symbol, tier
        )
        return instrument
    logger.warning("Token %s not found on %s for %s (%s)", token, exchange, broker, tier)
    raise TokenNotFound(token=token, exchange=exchange, broker=broker)


# --- suggestions for a symbol not found -------------------------------------------------------

_DERIVATIVE = re.compile(
    r"^(?P<name>.+?)(?P<day>\d{2})(?P<month>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
    r"(?P<year>\d{2})(?:(?P<future>FUT)|(?P<strike>\d+(?:\.\d+)?)(?P<option>CE|PE))$"
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_SUGGESTIONS = 3
_CANDIDATES = 5000


def _suggestions(broker: str, exchange: str, symbol: str) -> tuple[str, ...]:
    """Up to three close matches: the same symbol on another exchange, the nearest strikes
    of the same underlying and expiry (or the nearest expiry), else similar spellings."""
    if len(symbol) > _SYMBOL_MAX_LENGTH:
        return ()
    elsewhere = (
        SymbolToken.objects.filter(broker=broker, symbol=symbol)
        .exclude(exchange=exchange)
        .order_by("exchange")
        .values_list("exchange", flat=True)[:_SUGGESTIONS]
    )
    if elsewhere:
        return tuple(f"{symbol} on {other}" for other in elsewhere)
    match = _DERIVATIVE.match(symbol)
    if match:
        nearest = _nearest_contracts(broker, exchange, match)
        if nearest:
            return nearest
    candidates = SymbolToken.objects.filter(
        broker=broker, exchange=exchange, symbol__startswith=symbol[:2]
    ).values_list("symbol", flat=True)[:_CANDIDATES]
    return tuple(difflib.get_close_matches(symbol, list(candidates), n=_SUGGESTIONS, cutoff=0.75))


def _nearest_contracts(broker: str, exchange: str, match: re.Match[str]) -> tuple[str, ...]:
    try:
        expiry: date | None = date(
            2000 + int(match["year"]), _MONTHS.index(match["month"]) + 1, int(match["day"])
        )
    except ValueError:
        expiry = None
    kind = "FUT" if match["future"] else match["option"]
    strike = Decimal(match["strike"]) if match["strike"] else None
    contracts = SymbolToken.objects.filter(broker=broker, exchange=exchange, name=match["name"])
    # The expiry asked for, else the nearest one that has this kind of contract (a FUT, a CE),
    # else the nearest of any kind.
    reference = expiry or date.today()
    closest = None
    for pool in (contracts.filter(instrument_type=kind), contracts):
        expiries = list(
            pool.exclude(expiry=None).order_by("expiry").values_list("expiry", flat=True).distinct()
        )
        if expiries:
            closest = min(expiries, key=lambda e: (abs((e - reference).days), e))
            break
    if closest is None:
        return ()
    fields = ("symbol", "strike", "instrument_type")
    rows = list(contracts.filter(expiry=closest).values_list(*fields)[:_CANDIDATES])

    def distance(row: tuple[str, Any, str]) -> tuple[bool, Decimal, str]:
        row_strike = row[1]
        gap = Decimal(0)
        if strike is not None and row_strike is not None:
            gap = abs(Decimal(row_strike) - strike)
        return (row[2] != kind, gap, row[0])

    return tuple(row[0] for row in sorted(rows, key=distance)[:_SUGGESTIONS])
