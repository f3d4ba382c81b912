"""Master-contract sync: the only writer of ``SymbolToken`` (see docs/sync.md).

Download every source (or read files), parse, then replace the broker's instruments of the
replaced exchanges in ONE transaction under the sync lock, writing only the delta; guards
refuse a master in which live instruments vanish. Modules: ``sources`` (download, files,
parse), ``columns`` (stored columns and their shapes), ``delta`` (compare), ``guards``,
``store`` (database steps), ``replace`` (the transaction), ``runs`` (``SyncRun`` records),
``service`` (``sync_master_contract``).
"""

from .replace import Plan, SaveResult, plan_replace, save_master_contract_to_db
from .service import SyncReport, sync_master_contract
from .sources import exchange_of_source, sources_for_segments

__all__ = [
    "Plan",
    "SaveResult",
    "SyncReport",
    "exchange_of_source",
    "plan_replace",
    "save_master_contract_to_db",
    "sources_for_segments",
    "sync_master_contract",
]
