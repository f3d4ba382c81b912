"""Public domain functions of jainam-prop: import them from here.

Writes: ``save_master_contract_to_db`` and ``sync_master_contract`` (services.sync).
Reads: ``get_token_from_symbol`` and friends (services.lookups).
Orders: ``place_order_api`` and ``split_order_api`` (services.orders).
"""

from .health import HealthReport, check_health
from .lookups import (
    Instrument,
    TokenBatch,
    current_generation,
    get_instrument,
    get_instrument_by_token,
    get_instruments_by_tokens,
    get_symbol_from_token,
    get_token_from_symbol,
    get_tokens,
    live_contracts_near,
    publish_generation,
    search_instruments,
)
from .lookups import search_symbols as search_symbols
from .orders import place_order_api, split_order_api
from .sync import SyncReport, save_master_contract_to_db, sync_master_contract

__all__ = [
    "HealthReport",
    "Instrument",
    "SyncReport",
    "TokenBatch",
    "check_health",
    "current_generation",
    "get_instrument",
    "get_instrument_by_token",
    "get_instruments_by_tokens",
    "get_symbol_from_token",
    "get_token_from_symbol",
    "get_tokens",
    "live_contracts_near",
    "place_order_api",
    "publish_generation",
    "save_master_contract_to_db",
    "search_instruments",
    "split_order_api",
    "sync_master_contract",
]
