"""The public reads: symbol -> token and record, token -> symbol and record, batches, search,
live contracts near another. Input is normalised and checked here, before any I/O; answers
come from the one tier walk (:mod:`.tiers`)."""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from jainam_prop import cache_outage, vocabulary
from jainam_prop.errors import SymbolNotFound, TokenNotFound
from jainam_prop.models import DEFAULT_BROKER

from . import cache, config, db, memory, suggestions, tiers
from .generation import current_generation, publish_generation
from .memory import BY_SYMBOL, BY_TOKEN
from .records import TOKEN, Instrument, NotFound, TokenBatch, instrument, token_of

logger = logging.getLogger("jainam_prop.services.lookups")

#: Largest ``limit`` accepted by :func:`search_instruments`.
MAX_SEARCH_LIMIT = 500
_EXCHANGES = frozenset(vocabulary.EXCHANGES)
_SYMBOL_MAX_LENGTH = 64  # SymbolToken.symbol: longer text cannot exist, and stays out of keys

__all__ = [
    "MAX_SEARCH_LIMIT",
    "clear_process_memory",
    "current_generation",
    "flush_cache_writes",
    "get_instrument",
    "get_instrument_by_token",
    "get_instruments_by_tokens",
    "get_symbol_from_token",
    "get_token_from_symbol",
    "get_tokens",
    "live_contracts_near",
    "process_memory_stats",
    "publish_generation",
    "reset_process_state",
    "search_instruments",
]


def get_token_from_symbol(symbol: str, exchange: str, *, broker: str = DEFAULT_BROKER) -> int:
    """The XTS token of an OpenAlgo symbol, e.g. ``("NIFTY28NOV2424000CE", "NFO") -> 35012``.

    Symbol and exchange are trimmed and upper-cased. Raises ``SymbolNotFound`` (a
    ``ValueError`` naming the symbol, exchange and broker, with up to three close live
    matches) or ``ValueError`` for an unknown exchange.
    """
    return token_of(_by_symbol(_symbol(symbol), _exchange(exchange), broker, build=False))  # type: ignore[return-value]


def get_instrument(symbol: str, exchange: str, *, broker: str = DEFAULT_BROKER) -> Instrument:
    """The whole record of an OpenAlgo symbol (token, brsymbol, lot size, ...). As above."""
    return _by_symbol(_symbol(symbol), _exchange(exchange), broker)


def get_symbol_from_token(token: int | str, exchange: str, *, broker: str = DEFAULT_BROKER) -> str:
    """The OpenAlgo symbol of an XTS token on an exchange (order books, ticks).

    Raises ``TokenNotFound`` (a ``ValueError``) or ``ValueError`` for an unknown exchange.
    """
    return _by_token(_token(token), _exchange(exchange), broker).symbol


def get_instrument_by_token(
    token: int | str, exchange: str, *, broker: str = DEFAULT_BROKER
) -> Instrument:
    """The whole record of an XTS token on an exchange. As :func:`get_symbol_from_token`."""
    return _by_token(_token(token), _exchange(exchange), broker)


def get_tokens(pairs: Iterable[tuple[str, str]], *, broker: str = DEFAULT_BROKER) -> TokenBatch:
    """Many lookups at once (a basket order, an option chain): ``(symbol, exchange)`` pairs.

    Costs at most one cache round trip for the pairs not in process memory and one SQL query
    (per 900 pairs) for the pairs not in the cache. Pairs not found are listed in
    ``.missing``. Raises ``ValueError`` for a malformed pair or an unknown exchange (before
    any I/O).
    """
    wanted = _pairs(pairs)
    _, found, tier = tiers.walk(broker, BY_SYMBOL, wanted)
    batch = TokenBatch()
    missing = batch.missing
    for key in wanted:
        entry = found[key]
        if entry.__class__ is tuple:  # a record (memory and the cache hold those)
            batch[key] = entry[TOKEN]
        elif entry.__class__ is Instrument:
            batch[key] = entry.token
        else:
            missing.append(key)
    logger.debug(
        "get_tokens %s: %s pairs (%s), %s missing", broker, len(wanted), tier, len(missing)
    )
    if missing:
        logger.warning(
            "get_tokens %s: %s pair(s) not found: %s",
            broker,
            len(missing),
            ", ".join(f"{e}:{s}" for s, e in missing[:20]),
        )
    return batch


def get_instruments_by_tokens(
    pairs: Iterable[tuple[int, str]], *, broker: str = DEFAULT_BROKER
) -> dict[tuple[int, str], Instrument]:
    """Many reverse lookups at once (order books, positions): ``(token, exchange)`` pairs.

    Returns ``{(token, exchange): Instrument}`` for the pairs found (normalised: int token,
    upper-case exchange); missing pairs are absent. At most one cache round trip and one SQL
    query per 900 pairs not in memory. Raises ``ValueError`` for a malformed pair.
    """
    wanted: dict[tuple[str, int], tuple[int, str]] = {}
    for pair in pairs:
        try:
            token, exchange = pair
        except (TypeError, ValueError):
            raise ValueError(
                f"get_instruments_by_tokens expects (token, exchange) pairs, got {pair!r}"
            ) from None
        normalised = (_exchange(exchange), _token(token))
        wanted[normalised] = (normalised[1], normalised[0])
    snapshot, found, _ = tiers.walk(broker, BY_TOKEN, list(wanted))
    answers: dict[tuple[int, str], Instrument] = {}
    upgraded = []
    for key, entry in found.items():
        if entry.__class__ is tuple:
            entry = instrument(entry, broker)
            upgraded.append((key, entry))
        if entry.__class__ is Instrument:
            answers[wanted[key]] = entry
    memory.remember(snapshot, BY_TOKEN, upgraded)
    return answers


def search_instruments(
    query: str,
    *,
    exchange: str | None = None,
    broker: str = DEFAULT_BROKER,
    limit: int = 50,
    today: date | None = None,
) -> list[Instrument]:
    """Live instruments whose symbol starts with ``query`` (case-insensitive), by symbol.

    Optionally on one ``exchange`` only. ``limit`` is 1..500. Dead contracts (expired before
    ``today``, default today in IST) are never returned. Reads the database (no caching:
    searches are for people, not for order flow).
    """
    prefix = _symbol(query, what="search query")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_SEARCH_LIMIT}, got {limit!r}")
    on = None if exchange is None else _exchange(exchange)
    day = today or vocabulary.today_ist()
    found = [
        instrument(record, broker)
        for record in db.search(broker, prefix, exchange=on, today=day, limit=limit)
    ]
    logger.debug("search %s %r on %s: %s found", broker, prefix, on or "all", len(found))
    return found


def live_contracts_near(
    *,
    name: str,
    exchange: str,
    kind: str,
    expiry: date | None,
    today: date,
    limit: int = 3,
    strike: Decimal | None = None,
    broker: str = DEFAULT_BROKER,
) -> list[Instrument]:
    """Live contracts of underlying ``name`` on ``exchange`` nearest ``expiry``, same kind
    family (``FUT``: futures of the nearest expiries; ``CE``/``PE``: options of the nearest
    expiry, ``kind`` first, then the strikes nearest ``strike`` when given). For refusing a
    dead contract with alternatives, and for suggestions. A few indexed queries, no caching.
    """
    kind = kind.strip().upper()
    if kind not in vocabulary.DERIVATIVE_KINDS:
        raise ValueError(
            f"kind must be one of {', '.join(vocabulary.DERIVATIVE_KINDS)}, got {kind!r}"
        )
    records = suggestions.near_records(
        broker,
        name=name.strip().upper(),
        exchange=_exchange(exchange),
        kind=kind,
        expiry=expiry,
        strike=strike,
        today=today,
        limit=limit,
    )
    return [instrument(record, broker) for record in records]


def clear_process_memory(*, keep_generation: bool = False) -> None:
    """Forget the instruments held in this process's memory (and the generation, by default).

    The shared cache is untouched. For tests, benchmarks and after editing rows by hand.
    """
    memory.clear(keep_generation=keep_generation)


def process_memory_stats(*, broker: str = DEFAULT_BROKER) -> dict[str, int | None]:
    """What this process holds in memory for a broker: generation and entry counts."""
    return memory.stats(broker)


def reset_process_state() -> None:
    """Forget everything this process knows: memory, generations, cache outage, settings."""
    memory.clear()
    cache_outage.reset()
    config.forget()
    cache.forget()


def flush_cache_writes() -> None:
    """Kept for callers of earlier versions: cache fills are written before a lookup returns,
    so there is nothing to wait for."""


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Tests override CACHES or JAINAM_LOOKUP_*: start again from a clean state."""
    if setting == "CACHES" or setting.startswith("JAINAM_LOOKUP_"):
        reset_process_state()


# --- through the tiers ------------------------------------------------------------------------


def _by_symbol(symbol: str, exchange: str, broker: str, *, build: bool = True) -> Any:
    """The answer for one symbol: an Instrument (a record when ``build`` is False and memory
    holds no Instrument yet: a token needs no object)."""
    key = (symbol, exchange)
    if len(symbol) > _SYMBOL_MAX_LENGTH:  # cannot exist
        raise SymbolNotFound(symbol=symbol, exchange=exchange, broker=broker)
    snapshot, entry, tier = tiers.one(broker, BY_SYMBOL, key, explain=_explain(broker))
    if entry.__class__ is tuple and build:
        entry = instrument(entry, broker)
        tiers.replace(snapshot, broker, BY_SYMBOL, key, entry)
    if entry.__class__ is not NotFound:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "lookup %s %s:%s -> %s (%s)", broker, exchange, symbol, token_of(entry), tier
            )
        return entry
    missing: NotFound = entry
    if missing.suggestions is None:  # a batch's not-found: add the suggestions once
        missing = NotFound(_explain(broker)(key))
        tiers.replace(snapshot, broker, BY_SYMBOL, key, missing)
    logger.warning("Symbol %s not found on %s for %s (%s)", symbol, exchange, broker, tier)
    raise SymbolNotFound(
        symbol=symbol, exchange=exchange, broker=broker, suggestions=missing.suggestions or ()
    )


def _explain(broker: str) -> tiers.Explain:
    explain = _explainers.get(broker)
    if explain is None:

        def explain(key: tuple[str, str]) -> tuple[str, ...]:
            return suggestions.suggestions(broker, key[1], key[0], today=vocabulary.today_ist())

        if len(_explainers) < 1000:
            _explainers[broker] = explain
    return explain


_explainers: dict[str, tiers.Explain] = {}


def _by_token(token: int, exchange: str, broker: str) -> Instrument:
    key = (exchange, token)
    snapshot, entry, tier = tiers.one(broker, BY_TOKEN, key)
    if entry.__class__ is tuple:
        entry = instrument(entry, broker)
        tiers.replace(snapshot, broker, BY_TOKEN, key, entry)
    if entry.__class__ is Instrument:
        logger.debug(
            "reverse lookup %s %s:%s -> %s (%s)",
            broker,
            exchange,
            token,
            entry.symbol,
            tier,
        )
        return entry
    logger.warning("Token %s not found on %s for %s (%s)", token, exchange, broker, tier)
    raise TokenNotFound(token=token, exchange=exchange, broker=broker)


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
    if exchange not in _EXCHANGES:
        raise ValueError(
            f"Unknown exchange {value!r}; valid exchanges: {', '.join(vocabulary.EXCHANGES)}"
        )
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


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs normalised, in the order given, without duplicates."""
    items = pairs if isinstance(pairs, list | tuple) else list(pairs)
    wanted: dict[tuple[str, str], None] = {}
    try:  # the common case, fast: canonical exchanges, text symbols
        for symbol, exchange in items:
            normalised = symbol.strip().upper()
            if (
                not normalised
                or exchange not in _EXCHANGES
                or not normalised.isprintable()
                or len(normalised) > _SYMBOL_MAX_LENGTH
            ):
                raise ValueError
            wanted[(normalised, exchange)] = None
        return list(wanted)
    except (AttributeError, TypeError, ValueError):
        pass
    wanted.clear()
    for pair in items:  # again, one by one, to normalise or say precisely what is wrong
        try:
            symbol, exchange = pair
        except (TypeError, ValueError):
            raise ValueError(f"get_tokens expects (symbol, exchange) pairs, got {pair!r}") from None
        wanted[(_symbol(symbol), _exchange(exchange))] = None
    return list(wanted)
