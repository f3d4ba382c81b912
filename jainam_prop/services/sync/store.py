"""The sync's database steps inside the replace transaction: lock, delete, insert, statistics.

Inserts go through PostgreSQL's ``COPY`` (psycopg 3, through the Django cursor) when there are
at least ``COPY_MIN_ROWS`` rows (a first load, a large change), staged in a temporary table
before the lock; else through ``bulk_create`` (always on SQLite). Both take the same database
values (``columns.db_rows``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.db import DatabaseError, connection, transaction

from jainam_prop.errors import SyncInProgress
from jainam_prop.models import LookupGeneration, SymbolToken
from jainam_prop.vocabulary import INSTRUMENT_COLUMNS

from .columns import db_row_chunks

logger = logging.getLogger(__name__)

# PostgreSQL ends the replace transaction (and frees the sync lock) when the sync sends nothing
# for this long in the middle of it: a paused VM or a network partition must not block every
# later sync until TCP keepalive notices (hours). Between two statements a sync only builds
# the next batch of rows (milliseconds).
IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60
# Rows per INSERT of bulk_create. Django lowers this further on backends with a smaller
# parameter limit (SQLite).
BULK_BATCH_SIZE = 2000
# From this many rows to insert, PostgreSQL inserts with COPY (one streamed statement).
COPY_MIN_ROWS = 1000
# Stored ids per DELETE statement where one array parameter is not available (SQLite).
DELETE_BATCH_SIZE = 500
# ANALYZE after a write that touched at least this share of the stored rows.
ANALYZE_MIN_SHARE = 0.1

COPY, BULK_CREATE = "copy", "bulk_create"
STAGE_TABLE = "jainam_prop_sync_stage"


def limit_idle_time() -> None:
    """PostgreSQL: end this transaction if the sync goes silent in it (see the constant)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # this transaction only (is_local)
            cursor.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                [str(int(IDLE_IN_TRANSACTION_TIMEOUT_SECONDS * 1000))],
            )


def seen_generation(*, broker: str) -> int:
    """The broker's committed generation, read without the lock (0 before the first sync)."""
    rows = LookupGeneration.objects.filter(broker=broker).values_list("generation", flat=True)
    return rows.first() or 0


def lock_generation(*, broker: str) -> LookupGeneration:
    """Take the broker's sync lock (its generation row, ``FOR UPDATE NOWAIT`` on PostgreSQL)."""
    LookupGeneration.objects.get_or_create(broker=broker)
    queryset = LookupGeneration.objects.all()
    if connection.features.has_select_for_update_nowait:
        queryset = queryset.select_for_update(nowait=True)
    return queryset.get(broker=broker)


def delete_rows(ids: np.ndarray, *, broker: str, exchange: str, everything: bool) -> int:
    """Delete these stored rows (``everything``: all of the broker's rows of the exchange)."""
    if not len(ids):
        return 0
    rows = SymbolToken.objects.filter(broker=broker, exchange=exchange)
    if everything:
        return rows.delete()[0]
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(SymbolToken._meta.db_table)
        with connection.cursor() as cursor:
            sql = f"DELETE FROM {table} WHERE id = ANY(%s)"  # noqa: S608 (the model's table)
            cursor.execute(sql, [ids.tolist()])
            return cursor.rowcount
    deleted = 0
    for start in range(0, len(ids), DELETE_BATCH_SIZE):
        chunk = ids[start : start + DELETE_BATCH_SIZE].tolist()
        deleted += rows.filter(pk__in=chunk).delete()[0]
    return deleted


def insert_method(count: int) -> str:
    """How ``count`` new rows are inserted on this database."""
    if connection.vendor == "postgresql" and count >= COPY_MIN_ROWS:
        return COPY
    return BULK_CREATE


def stage(df: pd.DataFrame, *, broker: str) -> None:
    """PostgreSQL: COPY the rows to insert into a temporary table of this transaction.

    Done before the sync lock is taken: the only statement paced by this process (COPY waits
    for its rows, and the server's idle timeout does not apply to it) holds no lock. Under the
    lock, :func:`insert_staged` then moves the rows with one server-side statement.
    """
    q = connection.ops.quote_name
    column_list = ", ".join(q(n) for n in ["broker", *INSTRUMENT_COLUMNS])
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {q(STAGE_TABLE)} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {column_list} FROM {q(SymbolToken._meta.db_table)} WITH NO DATA"
        )
        # The COPY runs on psycopg's cursor: its errors become Django's DatabaseError here.
        with (
            connection.wrap_database_errors,
            cursor.copy(f"COPY {q(STAGE_TABLE)} ({column_list}) FROM STDIN") as copy,
        ):
            for _, values in db_row_chunks(df, broker=broker):
                for row in zip(*values, strict=True):
                    copy.write_row(row)


def insert_staged() -> None:
    """Insert the staged rows (:func:`stage`) into the instrument table."""
    q = connection.ops.quote_name
    names = ["broker", *INSTRUMENT_COLUMNS]
    column_list = ", ".join(q(n) for n in names)
    table = q(SymbolToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) "  # noqa: S608 (the model's tables)
            f"SELECT {column_list} FROM {q(STAGE_TABLE)}"
        )


def insert_rows(df: pd.DataFrame, *, broker: str) -> None:
    """Insert every row of ``df`` for ``broker`` with ``bulk_create``."""
    for names, values in db_row_chunks(df, broker=broker):
        _bulk_create(names, values)


def _bulk_create(names: Sequence[str], values: Sequence[list]) -> None:
    """Instances built with positional arguments in field order (Django's fast path)."""
    by_name = dict(zip(names, values, strict=True))
    count = len(values[0])
    by_name["id"] = [None] * count
    ordered = [by_name[f.attname] for f in SymbolToken._meta.concrete_fields]
    for start in range(0, count, BULK_BATCH_SIZE):
        chunk = [column[start : start + BULK_BATCH_SIZE] for column in ordered]
        objects = [SymbolToken(*row) for row in zip(*chunk, strict=True)]
        SymbolToken.objects.bulk_create(objects, batch_size=BULK_BATCH_SIZE)


def refresh_planner_statistics() -> None:
    """ANALYZE after a large write (PostgreSQL and SQLite).

    Without fresh statistics PostgreSQL's planner may pick the underlying index over the unique
    index for single-symbol lookups until autovacuum gets to the table. SQLite has no
    statistics until ANALYZE: it then serves reverse lookups (token -> symbol, ORDER BY symbol)
    by walking every row of the exchange in the unique index to avoid a sort.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SymbolToken._meta.db_table}")
    except DatabaseError:  # the replace is committed; stale statistics only cost speed
        logger.warning("ANALYZE after the sync failed; the next sync (or autovacuum) redoes it")


def in_progress(broker: str) -> SyncInProgress:
    return SyncInProgress(
        f"Another sync of broker {broker} is running (the lock is held). "
        "Wait for it to finish; it replaces the instruments on its own."
    )


def is_lock_error(exc: DatabaseError) -> bool:
    text = str(exc).lower()
    return "could not obtain lock" in text or "database is locked" in text
