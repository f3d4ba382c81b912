"""Token lookups: OpenAlgo (symbol, exchange) <-> XTS token, the only reader of ``SymbolToken``
for callers.

Answers come from three tiers that feel the same to a caller: process memory
(:mod:`.memory`), the shared Django cache (:mod:`.cache`) and the database (:mod:`.db`),
walked by one function (:mod:`.tiers`). A per-broker generation (:mod:`.generation`) that only
moves forward makes a committed sync visible everywhere within a second. Cache outages are
handled by :mod:`jainam_prop.cache_outage`. The public functions live in :mod:`.api`;
``docs/lookups.md`` describes tiers, keys, coherence, outages and query counts.
"""

from .api import (
    MAX_SEARCH_LIMIT,
    clear_process_memory,
    current_generation,
    flush_cache_writes,
    get_instrument,
    get_instrument_by_token,
    get_instruments_by_tokens,
    get_symbol_from_token,
    get_token_from_symbol,
    get_tokens,
    live_contracts_near,
    process_memory_stats,
    publish_generation,
    reset_process_state,
    search_instruments,
)
from .bulk import live_expiries, live_instrument_count, live_instrument_rows
from .records import Instrument, TokenBatch
from .search import search_symbols as search_symbols

__all__ = [
    "MAX_SEARCH_LIMIT",
    "Instrument",
    "TokenBatch",
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
    "live_expiries",
    "live_instrument_count",
    "live_instrument_rows",
    "process_memory_stats",
    "publish_generation",
    "reset_process_state",
    "search_instruments",
]
