"""The delta replace of a broker's instruments: plan (compare, guard), then write, in ONE
transaction under the sync lock.

Inside one transaction the sync compares the new rows with the stored rows of the replaced
exchanges (every stored column), runs the guards, locks the broker's generation row (checking
that no other sync committed since it compared), deletes this broker's stale rows (vanished or
changed) and then inserts the new and changed ones (COPY or ``bulk_create``); unchanged rows
are not touched. It bumps the lookup generation only when
something changed, so an unchanged master leaves every cache warm.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from django.db import OperationalError, transaction

from jainam_prop.errors import SyncRefused
from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from jainam_prop.services.lookups import publish_generation
from jainam_prop.vocabulary import INSTRUMENT_COLUMNS, today_ist

from . import store
from .columns import columns, comparable, read_stored
from .delta import ExchangeDelta, exchange_delta
from .guards import refusals
from .sources import exchange_of_source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What replacing the stored rows with a new master would do, and the guards' verdict."""

    deltas: dict[str, ExchangeDelta]
    refusals: list[SyncRefused]

    @property
    def changes(self) -> dict[str, dict[str, int]]:
        return {exchange: delta.counts for exchange, delta in self.deltas.items()}

    @property
    def examples(self) -> dict[str, dict[str, list[str]]]:
        return {exchange: delta.examples for exchange, delta in self.deltas.items()}

    @property
    def unchanged(self) -> bool:
        return all(delta.unchanged for delta in self.deltas.values())

    def refusal(self) -> SyncRefused | None:
        """One ``SyncRefused`` for all refused exchanges (the worst first), or None."""
        if not self.refusals:
            return None
        worst, *others = self.refusals
        message = "Refusing to replace the instruments: " + " ".join(str(r) for r in self.refusals)
        return SyncRefused(
            message,
            exchange=worst.exchange,
            vanished=worst.vanished,
            examples=worst.examples,
            reason=worst.reason,
            others=tuple(others),
        )


@dataclass(frozen=True)
class SaveResult:
    stored: int  # instruments the replaced exchanges hold now
    inserted: int  # rows written (added + changed)
    deleted: int  # rows deleted (removed + changed)
    generation: int
    method: str  # copy or bulk_create
    changes: dict[str, dict[str, int]]
    examples: dict[str, dict[str, list[str]]]
    overridden: SyncRefused | None  # the refusal ``force`` overrode
    previous_by_exchange: dict[str, int]


def plan_replace(
    df: pd.DataFrame,
    *,
    broker: str = DEFAULT_BROKER,
    segments: Sequence[str] | None = None,
    today: dt.date | None = None,
    min_ratio: float | None = None,
) -> Plan:
    """Compare ``df`` with the stored rows and run the guards; write nothing.

    Used inside the replace transaction (under the lock) and, without the lock, by a dry run.
    """
    _check_frame(df, segments=segments)
    return _plan(df, broker=broker, segments=segments, today=today, min_ratio=min_ratio)


def _plan(
    df: pd.DataFrame,
    *,
    broker: str,
    segments: Sequence[str] | None,
    today: dt.date | None,
    min_ratio: float | None,
) -> Plan:
    positions = df.groupby("exchange", sort=True).indices if len(df) else {}
    if segments is None:
        stored_exchanges = SymbolToken.objects.filter(broker=broker).values_list(
            "exchange", flat=True
        )
        exchanges = sorted(set(stored_exchanges.distinct()) | set(positions))
    else:
        exchanges = sorted({exchange_of_source(s) for s in segments})
    new_columns = {c.name: comparable(df[c.name], c) for c in columns() if c.name != "exchange"}
    compared = [name for name in new_columns if name != "symbol"]
    empty = np.array([], dtype=np.intp)
    deltas = {}
    for exchange in exchanges:
        at = np.asarray(positions.get(exchange, empty), dtype=np.intp)
        new = {name: values[at] for name, values in new_columns.items()}
        stored = read_stored(broker=broker, exchange=exchange)
        delta = exchange_delta(exchange, stored=stored, new=new, compared=compared)
        deltas[exchange] = replace(delta, insert_positions=at[delta.insert_positions])
    verdict = refusals(deltas.values(), today=today or today_ist(), min_ratio=min_ratio)
    return Plan(deltas=deltas, refusals=verdict)


def save_master_contract_to_db(
    df: pd.DataFrame,
    *,
    broker: str = DEFAULT_BROKER,
    segments: Sequence[str] | None = None,
    force: bool = False,
    min_ratio: float | None = None,
    today: dt.date | None = None,
) -> SaveResult:
    """Replace a broker's instruments with ``df`` in ONE transaction, writing only the delta.

    ``df`` has the parser's row columns (``master_parser.ROW_COLUMNS``). ``segments`` lists the
    sources replaced (``NSEFO``, ``NSECM_INDEX``, ...); ``None`` replaces every instrument of
    the broker. Rows of other brokers and of other exchanges are never touched.

    Unless ``force``, raises ``SyncRefused`` (``exchange``, ``vanished``, ``examples``) when a
    guard refuses (see ``guards``; ``today`` decides what has expired, default today in
    Asia/Kolkata; ``min_ratio`` overrides ``JAINAM_SYNC_MIN_RATIO``). Raises ``SyncInProgress``
    when another sync of the broker holds the lock, ``ValueError`` for rows outside the
    replaced sources or duplicate symbols. Nothing is written in any of these cases.
    """
    _check_frame(df, segments=segments)
    try:
        with transaction.atomic():
            # Compare (and stage a large insert) before taking the lock, then check under the
            # lock that no other sync committed meanwhile: every sync that changes rows bumps
            # the generation in its transaction. SQLite holds its write lock from BEGIN.
            store.limit_idle_time()
            seen = store.seen_generation(broker=broker)
            plan = _plan(df, broker=broker, segments=segments, today=today, min_ratio=min_ratio)
            refusal = plan.refusal()
            if refusal is not None and not force:
                raise refusal
            if refusal is not None:
                logger.warning("Sync of %s forced past a guard: %s", broker, refusal)
            positions = np.sort(
                np.concatenate(
                    [np.asarray([], dtype=np.intp)]
                    + [delta.insert_positions for delta in plan.deltas.values()]
                )
            )
            method = store.insert_method(len(positions))
            if method == store.COPY:
                store.stage(df.iloc[positions], broker=broker)
            generation = store.lock_generation(broker=broker)
            if generation.generation != seen:
                raise store.in_progress(broker)
            deleted = 0
            for delta in plan.deltas.values():  # every delete before any insert
                deleted += store.delete_rows(
                    delta.delete_ids,
                    broker=broker,
                    exchange=delta.exchange,
                    everything=len(delta.delete_ids) == delta.stored,
                )
            if method == store.COPY:
                store.insert_staged()
            else:
                store.insert_rows(df.iloc[positions], broker=broker)
            if not plan.unchanged:
                generation.generation += 1
                generation.save(update_fields=["generation", "updated_at"])
                new_generation = generation.generation
                transaction.on_commit(
                    lambda: publish_generation(broker=broker, generation=new_generation)
                )
        previous = sum(delta.stored for delta in plan.deltas.values())
        written = deleted + len(positions)
        if written and written >= store.ANALYZE_MIN_SHARE * max(previous, 1):
            store.refresh_planner_statistics()
    except OperationalError as exc:
        if store.is_lock_error(exc):
            raise store.in_progress(broker) from exc
        raise
    logger.info(
        "Replaced the instruments of %s: %s (generation %s)",
        broker,
        plan.changes,
        generation.generation,
    )
    return SaveResult(
        stored=len(df),
        inserted=len(positions),
        deleted=deleted,
        generation=generation.generation,
        method=method,
        changes=plan.changes,
        examples=plan.examples,
        overridden=refusal,
        previous_by_exchange={ex: delta.stored for ex, delta in plan.deltas.items()},
    )


def _check_frame(df: pd.DataFrame, *, segments: Sequence[str] | None) -> None:
    missing = [c for c in INSTRUMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"save_master_contract_to_db: the frame lacks columns {missing}")
    if not len(df):
        return
    duplicated = df.duplicated(subset=["exchange", "symbol"], keep=False)
    if duplicated.any():
        sample = df.loc[duplicated, ["exchange", "symbol"]].head(3).to_dict("records")
        raise ValueError(
            f"save_master_contract_to_db: {int(duplicated.sum())} rows share an (exchange, symbol)"
            f", e.g. {sample}; resolve duplicates before saving (master_parser.merge_parsed does)"
        )
    if segments is not None:
        allowed = {exchange_of_source(s) for s in segments}
        outside = sorted(set(df["exchange"].unique()) - allowed)
        if outside:
            raise ValueError(
                f"save_master_contract_to_db: rows of exchanges {outside} are outside the "
                f"replaced segments {list(segments)}"
            )
