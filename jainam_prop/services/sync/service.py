"""``sync_master_contract``: download (or read files), parse, guard, save the delta, record.

Downloads and parsing happen before any write; the write is one transaction
(``replace.save_master_contract_to_db``). Every run is recorded in ``SyncRun``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError
from django.utils import timezone

from jainam_prop.errors import SyncError, SyncRefused
from jainam_prop.models import DEFAULT_BROKER, SyncRun
from jainam_prop.vocabulary import MASTER_SEGMENTS, today_ist

from . import store
from .guards import guard_corruption
from .replace import plan_replace, save_master_contract_to_db
from .runs import finish_run, mark_abandoned_runs
from .sources import Progress, counts, download, parse_as_they_come, read_files

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one sync did (or, for a dry run, would do), per source and per exchange.

    ``changes``: ``{exchange: {"added": n, "removed": n, "changed": n}}``; ``examples``: a few
    symbols of each kind per exchange. ``refusal`` is set on a dry run that a guard would
    refuse (a real run raises the ``SyncRefused`` instead). ``overridden`` is the refusal that
    ``force`` overrode. ``method``: how rows were inserted (``copy``, ``bulk_create``).
    """

    run_id: int | None
    status: str
    sources: list[str]
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored: int = 0
    inserted: int = 0
    deleted: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    abandoned_runs: list[int] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    refusal: SyncRefused | None = None
    overridden: SyncRefused | None = None
    forced: bool = False
    method: str = ""

    def totals(self) -> dict[str, int]:
        keys = ("added", "removed", "changed")
        return {k: sum(c.get(k, 0) for c in self.changes.values()) for k in keys}

    def summary(self) -> str:
        if self.refusal is not None:
            return f"sync {self.status}: would be refused: {self.refusal}"
        verb = "would store" if self.status == SyncRun.Status.DRY_RUN else "stored"
        t = self.totals()
        return (
            f"sync {self.status}: {verb} {self.stored} instruments (added {t['added']}, "
            f"removed {t['removed']}, changed {t['changed']}), skipped {self.skipped} lines, "
            f"in {self.duration_seconds:.1f}s"
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
    today: dt.date | None = None,
) -> SyncReport:
    """Download (or read ``files``), parse, check and save the master; record a ``SyncRun``.

    A real run raises ``SyncRefused`` when a guard refuses (unless ``force``). A dry run runs
    every guard and writes nothing: the report lists the changes, and ``report.refusal`` is
    the ``SyncRefused`` a real run would raise (None if it would pass). A face offering
    "force" runs the dry run, shows the refusal, and on confirmation runs with ``force=True``.

    Also raises ``MissingSetting``, ``XTSError``, ``SyncError`` (corrupt download,
    ``SyncInProgress``, database failure) or ``ValueError`` (bad segments/files). The run is
    recorded as failed or refused in every case and the stored instruments are unchanged.
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
        abandoned = mark_abandoned_runs(broker=broker)
        run = SyncRun.objects.create(
            broker=broker,
            started_at=timezone.now(),
            status=SyncRun.Status.RUNNING,
            source=", ".join(str(f) for f in files)[:255] if files else settings.JAINAM_MARKET_URL,
            segments=list(segments or []),
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            forced=force,
        )
    except OperationalError as exc:
        # SQLite: another sync holds the database's only write lock for longer than the busy
        # timeout; even this run's record cannot be written.
        if store.is_lock_error(exc):
            raise store.in_progress(broker) from exc
        raise
    try:
        payloads = (
            read_files(files, segments=segments)
            if files
            else download(segments=segments or list(MASTER_SEGMENTS), notify=notify)
        )
        # Contracts that expired before today (IST) are skipped as 'expired', counted per
        # source like every other skip: the store never holds a contract dead at sync time.
        today = today or today_ist()
        parsed, sources, phases = parse_as_they_come(payloads, today=today)
        report = SyncReport(
            run_id=run.pk,
            status=SyncRun.Status.RUNNING,
            sources=sources,
            counts=counts(parsed, sources=sources),
            skipped=len(parsed.skipped),
            abandoned_runs=abandoned,
            forced=force,
        )
        notify(f"parsed {sum(parsed.lines.values())} lines: {len(parsed.rows)} instruments")
        guard_corruption(parsed, limit=_max_malformed(max_malformed))
        report.stored = len(parsed.rows)
        t0 = time.monotonic()
        if dry_run:
            plan = plan_replace(parsed.rows, broker=broker, segments=sources, today=today)
            phases["compare"] = time.monotonic() - t0
            report.status = SyncRun.Status.DRY_RUN
            report.changes, report.examples = plan.changes, plan.examples
            refusal = plan.refusal()
            if force:
                report.overridden = refusal
            else:
                report.refusal = refusal
        else:
            notify(f"saving {len(parsed.rows)} instruments")
            try:
                saved = save_master_contract_to_db(
                    parsed.rows, broker=broker, segments=sources, force=force, today=today
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
            report.inserted, report.deleted = saved.inserted, saved.deleted
            report.changes, report.examples = saved.changes, saved.examples
            report.overridden, report.method = saved.overridden, saved.method
    except SyncRefused as exc:
        finish_run(run, status=SyncRun.Status.REFUSED, error=str(exc))
        raise
    except Exception as exc:
        finish_run(run, status=SyncRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    report.phases = phases
    report.duration_seconds = time.monotonic() - started
    finish_run(
        run,
        status=report.status,
        counts=report.counts,
        stored=report.stored,
        deleted=report.deleted,
        skipped=report.skipped,
        changes=report.changes,
        error="" if report.refusal is None else f"would be refused: {report.refusal}",
    )
    logger.info("%s", report.summary())
    return report


def _max_malformed(value: int | None) -> int:
    return settings.JAINAM_SYNC_MAX_MALFORMED if value is None else value
