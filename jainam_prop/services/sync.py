"""Master-contract sync: download, parse, guard, save in one transaction, record, invalidate.

This module is the only writer of ``SymbolToken``.

Rules (documented choices, see README "Sync"):

- **All or nothing.** Downloads and parsing happen before any write. The replace (delete this
  broker's rows of the replaced sources, ``bulk_create`` the new ones, bump the lookup
  generation) is ONE database transaction: a failure at any point, or a killed process, leaves
  the previous instruments exactly as they were.
- **Sources.** A source is a segment's master (``NSEFO``) or an index list (``NSECM_INDEX``).
  Each source maps to exactly one OpenAlgo exchange (NSEFO -> NFO, NSECM_INDEX -> NSE_INDEX),
  and replacing a source deletes exactly that exchange's rows of this broker. Downloading a
  cash segment (NSECM, BSECM) also fetches its index list. ``--file`` imports replace only the
  sources found in the files.
- **Corruption guard.** Lines skipped as ``malformed_line`` or ``wrong_segment`` mean the
  download is not what XTS serves; by default (``JAINAM_SYNC_MAX_MALFORMED=0``) one such line
  fails the sync and nothing is written. Other skips (spreads, spot rows, duplicates, ambiguous
  symbols, unknown instrument types) are expected, counted and reported.
- **Shrink guard.** If any replaced source would end with fewer than
  ``JAINAM_SYNC_MIN_RATIO`` (default 0.5) of the rows it has now, the sync is refused unless
  ``force``. Checked inside the transaction, under the lock.
- **Lock.** The broker's ``LookupGeneration`` row is locked ``FOR UPDATE NOWAIT`` on
  PostgreSQL: a second concurrent sync (same cron on two hosts) stops with ``SyncInProgress``.
  A sync that stops talking mid-write (a paused VM, a partition) is rolled back by the server
  after ``IDLE_IN_TRANSACTION_TIMEOUT_SECONDS``, which frees the lock. SQLite serialises
  writers itself (``BEGIN IMMEDIATE``); a writer that cannot get the lock within the timeout
  (even to record its run) also stops with ``SyncInProgress``. A database error while saving
  is a ``SyncError`` naming it; nothing is half-written.
- **Runs.** Every run is recorded in ``SyncRun`` (in autocommit, outside the replace
  transaction, so a failed run is recorded even though its writes rolled back). A run left
  ``running`` by a dead process is marked ``abandoned`` by the next run.
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from jainam_prop.errors import SyncError, SyncInProgress, SyncRefused
from jainam_prop.master_parser import (
    EXCHANGE_BY_SEGMENT,
    INDEX_EXCHANGE_BY_SEGMENT,
    INDEX_SEGMENTS,
    INSTRUMENT_COLUMNS,
    MASTER_SEGMENTS,
    ParsedMaster,
    SkipReason,
    merge_parsed,
    parse_index_list,
    parse_master,
)
from jainam_prop.models import DEFAULT_BROKER, LookupGeneration, SymbolToken, SyncRun
from jainam_prop.services.lookups import publish_generation
from jainam_prop.xts.market import MarketDataClient

logger = logging.getLogger(__name__)

INDEX_SUFFIX = "_INDEX"
CORRUPTION_REASONS = frozenset({SkipReason.MALFORMED_LINE, SkipReason.WRONG_SEGMENT})
# Rows per INSERT. PostgreSQL is fastest around a few thousand rows per statement; Django
# lowers this further on backends with a smaller parameter limit (SQLite).
BULK_BATCH_SIZE = {"postgresql": 2000}
DEFAULT_BULK_BATCH_SIZE = 1000

Progress = Callable[[str], None]
# A run still 'running' after this long is taken as abandoned even on another host.
STALE_RUN_HOURS = 6
# PostgreSQL ends the replace transaction (and frees the sync lock) when the sync sends nothing
# for this long in the middle of it: a paused VM or a network partition must not block every
# later sync until TCP keepalive notices (hours). Between two statements a sync only builds
# the next batch of rows (milliseconds).
IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60


def exchange_of_source(source: str) -> str:
    """The one OpenAlgo exchange whose rows a source replaces (NSEFO -> NFO)."""
    if source.endswith(INDEX_SUFFIX):
        segment = source.removesuffix(INDEX_SUFFIX)
        if segment in INDEX_EXCHANGE_BY_SEGMENT:
            return INDEX_EXCHANGE_BY_SEGMENT[segment]
    elif source in EXCHANGE_BY_SEGMENT:
        return EXCHANGE_BY_SEGMENT[source]
    valid = [*MASTER_SEGMENTS, *(s + INDEX_SUFFIX for s in INDEX_SEGMENTS)]
    raise ValueError(f"Unknown source {source!r}; valid: {', '.join(valid)}")


def sources_for_segments(segments: Iterable[str]) -> list[str]:
    """Sources downloaded for the given segments: each master, plus the index list of cash ones."""
    sources: list[str] = []
    for segment in segments:
        exchange_of_source(segment)  # validates
        sources.append(segment)
        if segment in INDEX_SEGMENTS:
            sources.append(segment + INDEX_SUFFIX)
    return sources


@dataclass(frozen=True)
class SaveResult:
    deleted: int
    stored: int
    generation: int
    previous_by_exchange: dict[str, int]


@dataclass
class SyncReport:
    """What one sync did, per source and in total."""

    run_id: int | None
    status: str
    sources: list[str]
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored: int = 0
    deleted: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    abandoned_runs: list[int] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would store" if self.status == SyncRun.Status.DRY_RUN else "stored"
        return (
            f"sync {self.status}: {verb} {self.stored} instruments, deleted {self.deleted}, "
            f"skipped {self.skipped} lines, in {self.duration_seconds:.1f}s"
        )


def save_master_contract_to_db(
    df: pd.DataFrame,
    *,
    broker: str = DEFAULT_BROKER,
    segments: Sequence[str] | None = None,
    force: bool = False,
    min_ratio: float | None = None,
) -> SaveResult:
    """Replace a broker's instruments with ``df`` in ONE transaction; return the counts.

    ``df`` has the parser's row columns (``master_parser.ROW_COLUMNS``). ``segments`` lists the
    sources replaced (``NSEFO``, ``NSECM_INDEX``, ...); ``None`` replaces every instrument of
    the broker. Rows of other brokers and of other sources are never touched. Unless ``force``,
    refuses (``SyncRefused``) when a replaced source would shrink below ``min_ratio`` (default
    ``JAINAM_SYNC_MIN_RATIO``) of its stored rows. Raises ``SyncInProgress`` when another sync
    of the broker holds the lock, ``ValueError`` for rows outside the replaced sources or
    duplicate symbols; nothing is written in any of these cases.
    """
    _check_frame(df, segments=segments)
    exchanges = None if segments is None else sorted({exchange_of_source(s) for s in segments})
    ratio = settings.JAINAM_SYNC_MIN_RATIO if min_ratio is None else min_ratio
    new_by_exchange = df["exchange"].value_counts().to_dict() if len(df) else {}

    try:
        with transaction.atomic():
            generation = _lock_generation(broker=broker)
            existing = SymbolToken.objects.filter(broker=broker)
            if exchanges is not None:
                existing = existing.filter(exchange__in=exchanges)
            previous = dict(
                existing.values_list("exchange")
                .annotate(n=Count("id"))
                .values_list("exchange", "n")
            )
            if not force:
                _guard_shrink(previous=previous, new=new_by_exchange, ratio=ratio)
            deleted, _ = existing.delete()
            stored = _bulk_insert(df, broker=broker)
            generation.generation += 1
            generation.save(update_fields=["generation", "updated_at"])
            new_generation = generation.generation
            transaction.on_commit(
                lambda: publish_generation(broker=broker, generation=new_generation)
            )
        _refresh_planner_statistics()
    except OperationalError as exc:
        if _is_lock_error(exc):
            raise _in_progress(broker) from exc
        raise
    logger.info(
        "Replaced %s instruments of %s (deleted %s), generation %s",
        stored,
        broker,
        deleted,
        new_generation,
    )
    return SaveResult(
        deleted=deleted,
        stored=stored,
        generation=new_generation,
        previous_by_exchange=previous,
    )


def sync_master_contract(
    *,
    broker: str = DEFAULT_BROKER,
    segments: Sequence[str] | None = None,
    files: Sequence[Path | str] = (),
    dry_run: bool = False,
    force: bool = False,
    max_malformed: int | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Download (or read ``files``), parse, check and save the master; record a ``SyncRun``.

    Raises ``MissingSetting``, ``XTSError``, ``SyncError`` (``SyncRefused``,
    ``SyncInProgress``) or ``ValueError`` (bad segments/files). The run is recorded as failed
    or refused in every case and the stored instruments are unchanged.
    """
    notify = progress or (lambda message: None)
    started = time.monotonic()
    if segments is not None:
        segments = [s.strip().upper() for s in segments]
        for segment in segments:
            if segment not in MASTER_SEGMENTS:
                raise ValueError(
                    f"Unknown segment {segment!r}; valid: {', '.join(MASTER_SEGMENTS)}"
                )
    try:
        abandoned = _mark_abandoned_runs(broker=broker)
        run = SyncRun.objects.create(
            broker=broker,
            started_at=timezone.now(),
            status=SyncRun.Status.RUNNING,
            source=", ".join(str(f) for f in files)[:255] if files else settings.JAINAM_MARKET_URL,
            segments=list(segments or []),
            host=socket.gethostname()[:255],
            pid=os.getpid(),
        )
    except OperationalError as exc:
        # SQLite: another sync holds the database's only write lock for longer than the busy
        # timeout; even this run's record cannot be written.
        if _is_lock_error(exc):
            raise _in_progress(broker) from exc
        raise
    try:
        payloads = (
            _read_files(files, segments=segments)
            if files
            else _download(segments=segments or list(MASTER_SEGMENTS), notify=notify)
        )
        parsed, sources, phases = _parse_as_they_come(payloads)
        counts = _counts(parsed, sources=sources)
        report = SyncReport(
            run_id=run.pk,
            status=SyncRun.Status.RUNNING,
            sources=sources,
            counts=counts,
            skipped=len(parsed.skipped),
            abandoned_runs=abandoned,
        )
        notify(f"parsed {sum(parsed.lines.values())} lines: {len(parsed.rows)} instruments")
        _guard_corruption(parsed, limit=_max_malformed(max_malformed))

        if dry_run:
            report.status = SyncRun.Status.DRY_RUN
            report.stored = len(parsed.rows)
        else:
            t0 = time.monotonic()
            notify(f"saving {len(parsed.rows)} instruments")
            try:
                saved = save_master_contract_to_db(
                    parsed.rows, broker=broker, segments=sources, force=force
                )
            except DatabaseError as exc:
                raise SyncError(
                    "The database failed while saving the new instruments "
                    f"({type(exc).__name__}: {exc}). "
                    "Nothing was half-written: the replace is one transaction, so the previous "
                    "instruments stay as they were. Fix the database problem (see the error) "
                    "and run the sync again."
                ) from exc
            phases["write"] = time.monotonic() - t0
            report.status = SyncRun.Status.SUCCESS
            report.stored = saved.stored
            report.deleted = saved.deleted
    except SyncRefused as exc:
        _finish_run(run, status=SyncRun.Status.REFUSED, error=str(exc), started=started)
        raise
    except Exception as exc:
        _finish_run(
            run,
            status=SyncRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            started=started,
        )
        raise
    report.phases = phases
    report.duration_seconds = time.monotonic() - started
    _finish_run(
        run,
        status=report.status,
        started=started,
        counts=report.counts,
        stored=report.stored,
        deleted=report.deleted,
        skipped=report.skipped,
    )
    logger.info("%s", report.summary())
    return report


# --- steps -------------------------------------------------------------------------------------


Payload = str | list[str]


def _download(*, segments: Sequence[str], notify: Progress) -> Iterator[tuple[str, Payload]]:
    """Each source's raw payload as it arrives: master text per segment, index entries."""
    client = MarketDataClient.from_settings()
    try:
        for segment in segments:
            yield segment, client.master(segment=segment)
            notify(f"downloaded {segment}")
            if segment in INDEX_SEGMENTS:
                yield segment + INDEX_SUFFIX, client.index_list(segment=segment)
                notify(f"downloaded {segment} index list")
    finally:
        client.close()


def _read_files(
    files: Sequence[Path | str], *, segments: Sequence[str] | None
) -> Iterator[tuple[str, Payload]]:
    """Raw master files (plain or .gz), each holding one segment's lines as XTS returns them.

    The segment is read from the first field of the first non-blank line. Every file is
    checked before the first is parsed, so a bad file list fails fast.
    """
    by_segment: dict[str, Path] = {}
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"--file {path}: no such file")
        segment = _first_segment(path)
        if segment is None:
            raise ValueError(
                f"--file {path}: cannot tell its segment; the first line must start with one of "
                f"{', '.join(MASTER_SEGMENTS)} followed by '|'"
            )
        if segments is not None and segment not in segments:
            raise ValueError(
                f"--file {path} holds {segment} lines but --segments is {','.join(segments)}"
            )
        if segment in by_segment:
            raise ValueError(f"--file {path}: a second file for {segment}; give one per segment")
        by_segment[segment] = path
    for segment, path in by_segment.items():
        yield segment, _read_text(path)


def _open(path: Path):
    with path.open("rb") as handle:
        packed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if packed else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="")


def _read_text(path: Path) -> str:
    with _open(path) as handle:
        return handle.read()


def _first_segment(path: Path) -> str | None:
    """The segment named by the first field of the file's first non-blank line."""
    with _open(path) as handle:
        for line in handle:
            if line.strip():
                head = line.split("|", 1)[0].strip()
                return head if head in MASTER_SEGMENTS else None
    return None


def _parse_as_they_come(
    payloads: Iterator[tuple[str, Payload]],
) -> tuple[ParsedMaster, list[str], dict[str, float]]:
    """Parse each payload as soon as it arrives and drop its text (bounded memory)."""
    parts: list[ParsedMaster] = []
    sources: list[str] = []
    phases = {"download": 0.0, "parse": 0.0}
    started = time.monotonic()
    for source, payload in payloads:
        arrived = time.monotonic()
        phases["download"] += arrived - started
        if source.endswith(INDEX_SUFFIX):
            parts.append(parse_index_list(payload, segment=source.removesuffix(INDEX_SUFFIX)))
        else:
            parts.append(parse_master(payload, segment=source))
        del payload
        sources.append(source)
        started = time.monotonic()
        phases["parse"] += started - arrived
    merged = merge_parsed(parts)
    phases["parse"] += time.monotonic() - started
    return merged, sources, phases


def _counts(parsed: ParsedMaster, *, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
    stored = parsed.stored_by_source()
    skipped = parsed.skipped_by_source()
    return {
        source: {
            "lines": int(parsed.lines.get(source, 0)),
            "stored": int(stored.get(source, 0)),
            "skipped": int(sum(skipped.get(source, {}).values())),
            "skipped_by_reason": {k: int(v) for k, v in skipped.get(source, {}).items()},
        }
        for source in sources
    }


def _max_malformed(value: int | None) -> int:
    return settings.JAINAM_SYNC_MAX_MALFORMED if value is None else value


def _guard_corruption(parsed: ParsedMaster, *, limit: int) -> None:
    bad = parsed.skipped[parsed.skipped["reason"].isin([str(r) for r in CORRUPTION_REASONS])]
    if len(bad) > limit:
        first = bad.iloc[0]
        raise SyncError(
            f"The master has {len(bad)} malformed line(s) (limit {limit}); nothing was written. "
            f"First: {first['source']} line {first['line_no']} ({first['reason']}): "
            f"{str(first['line'])[:120]!r}. This usually means a corrupt or truncated download: "
            "run the sync again; if the broker's master really has bad lines, allow them with "
            "--max-malformed N (they are skipped and reported)."
        )


def _guard_shrink(*, previous: dict[str, int], new: dict[str, int], ratio: float) -> None:
    shrinking = {
        exchange: (count, int(new.get(exchange, 0)))
        for exchange, count in previous.items()
        if new.get(exchange, 0) < count * ratio
    }
    if shrinking:
        details = ", ".join(f"{ex}: {old} -> {now}" for ex, (old, now) in sorted(shrinking.items()))
        raise SyncRefused(
            f"Refusing to replace the instruments: the new master would shrink {details}, below "
            f"{ratio:.0%} of what is stored. Nothing was changed. If this is expected (e.g. a "
            "segment was really emptied), run again with --force."
        )


# --- database helpers --------------------------------------------------------------------------


def _lock_generation(*, broker: str) -> LookupGeneration:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # this transaction only (is_local)
            cursor.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                [str(int(IDLE_IN_TRANSACTION_TIMEOUT_SECONDS * 1000))],
            )
    LookupGeneration.objects.get_or_create(broker=broker)
    queryset = LookupGeneration.objects.all()
    if connection.features.has_select_for_update_nowait:
        queryset = queryset.select_for_update(nowait=True)
    return queryset.get(broker=broker)


def _refresh_planner_statistics() -> None:
    """ANALYZE after a bulk replace (PostgreSQL and SQLite).

    Without fresh statistics PostgreSQL's planner may pick the underlying index over the unique
    index for single-symbol lookups (27 ms instead of 0.13 ms) until autovacuum gets to the
    table. SQLite has no statistics until ANALYZE: it then serves reverse lookups (token ->
    symbol, ORDER BY symbol) by walking every row of the exchange in the unique index to avoid
    a sort (0.2 s on NFO instead of 0.03 ms through the token index).
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SymbolToken._meta.db_table}")
    except DatabaseError:  # the replace is committed; stale statistics only cost speed
        logger.warning("ANALYZE after the sync failed; the next sync (or autovacuum) redoes it")


def _in_progress(broker: str) -> SyncInProgress:
    return SyncInProgress(
        f"Another sync of broker {broker} is running (the lock is held). "
        "Wait for it to finish; it replaces the instruments on its own."
    )


def _is_lock_error(exc: DatabaseError) -> bool:
    text = str(exc).lower()
    return "could not obtain lock" in text or "database is locked" in text


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


def _bulk_insert(df: pd.DataFrame, *, broker: str) -> int:
    batch_size = BULK_BATCH_SIZE.get(connection.vendor, DEFAULT_BULK_BATCH_SIZE)
    stored = 0
    for batch in _model_batches(df, broker=broker, size=batch_size):
        SymbolToken.objects.bulk_create(batch, batch_size=batch_size)
        stored += len(batch)
    return stored


def _model_batches(df: pd.DataFrame, *, broker: str, size: int) -> Iterator[list[SymbolToken]]:
    """SymbolToken instances, ``size`` at a time (bounded memory on a 150,000-row master).

    Instances are built with positional arguments in field order, Django's fast path.
    """
    field_names = [f.attname for f in SymbolToken._meta.concrete_fields]
    for start in range(0, len(df), size):
        chunk = df.iloc[start : start + size]
        n = len(chunk)
        values = {
            "id": [None] * n,
            "broker": [broker] * n,
            "symbol": chunk["symbol"].tolist(),
            "exchange": chunk["exchange"].tolist(),
            "token": chunk["token"].tolist(),
            "brsymbol": chunk["brsymbol"].tolist(),
            "brexchange": chunk["brexchange"].tolist(),
            "name": chunk["name"].tolist(),
            "expiry": [None if pd.isna(v) else v.date() for v in chunk["expiry"]],
            "strike": [None if v != v else Decimal(repr(v)) for v in chunk["strike"].tolist()],
            "lot_size": chunk["lot_size"].tolist(),
            "tick_size": [Decimal(repr(v)) for v in chunk["tick_size"].tolist()],
            "instrument_type": chunk["instrument_type"].tolist(),
            **_record_fields(chunk),
        }
        columns = [values[name] for name in field_names]
        yield [SymbolToken(*row) for row in zip(*columns, strict=True)]


def _record_fields(chunk: pd.DataFrame) -> dict[str, list[Any]]:
    """The instrument-record columns (vocabulary.INSTRUMENT_COLUMNS after the first 11) as
    model values: missing values (NA, NaN, None) become None, price bands Decimals."""

    def plain(values: pd.Series) -> list[Any]:
        return [None if pd.isna(v) else v for v in values.astype(object).tolist()]

    def decimals(values: pd.Series) -> list[Any]:
        return [None if v != v else Decimal(repr(v)) for v in values.tolist()]

    return {
        "freeze_qty": plain(chunk["freeze_qty"]),
        "price_band_low": decimals(chunk["price_band_low"]),
        "price_band_high": decimals(chunk["price_band_high"]),
        "multiplier": chunk["multiplier"].tolist(),
        "isin": plain(chunk["isin"]),
        "underlying_token": plain(chunk["underlying_token"]),
    }


# --- run records -------------------------------------------------------------------------------


def _finish_run(run: SyncRun, *, status: str, started: float, **fields: Any) -> None:
    run.status = status
    run.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    try:
        run.save()
    except DatabaseError:
        logger.exception("Could not record the end of sync run %s (status %s)", run.pk, status)


def _mark_abandoned_runs(*, broker: str) -> list[int]:
    """Mark runs left ``running`` by a process that no longer exists (e.g. SIGKILL)."""
    host = socket.gethostname()[:255]
    stale_after = timezone.now() - timedelta(hours=STALE_RUN_HOURS)
    abandoned = []
    for run in SyncRun.objects.filter(broker=broker, status=SyncRun.Status.RUNNING):
        same_host_dead = run.host == host and run.pid is not None and not _pid_alive(run.pid)
        if same_host_dead or run.started_at < stale_after:
            run.status = SyncRun.Status.ABANDONED
            run.finished_at = timezone.now()
            run.error = (
                "The sync process ended without finishing (killed or crashed); its transaction "
                "was rolled back, so the instruments it started to write were never applied."
            )
            run.save(update_fields=["status", "finished_at", "error"])
            abandoned.append(run.pk)
            logger.warning("Sync run %s was abandoned by its process", run.pk)
    return abandoned


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
