"""``manage.py sync_master_contract``: download the XTS master and replace the instruments."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from jainam_prop.errors import MissingSetting, SyncError, SyncRefused, XTSError
from jainam_prop.models import DEFAULT_BROKER
from jainam_prop.services.sync import SyncReport, sync_master_contract
from jainam_prop.vocabulary import MASTER_SEGMENTS

# Exit statuses (docs/sync.md): 0 done (a dry run that would pass included), 1 failed
# (download, database, bad input, another sync running; nothing changed), 2 bad arguments,
# 3 refused by a guard (or a dry run that would be refused; nothing changed).
EXIT_FAILED, EXIT_REFUSED = 1, 3
FORCE_REMEDY = (
    "If this master really is what the broker serves (e.g. a segment was emptied), run again "
    "with --force."
)


def _segment_list(value: str) -> list[str]:
    segments = [part.strip().upper() for part in value.split(",") if part.strip()]
    unknown = [s for s in segments if s not in MASTER_SEGMENTS]
    if not segments or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown segment(s) {unknown or '(none given)'} in {value!r}; "
            f"use a comma-separated list of {','.join(MASTER_SEGMENTS)}"
        )
    return segments


class Command(BaseCommand):
    help = (
        "Download the Jainam XTS instrument master (every segment and the NSE/BSE index lists) "
        "from JAINAM_MARKET_URL, or read it from --file, and atomically replace this broker's "
        "instruments. Any failure leaves the previous instruments unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--segments",
            type=_segment_list,
            help=f"Comma-separated XTS segments to replace (default: all of "
            f"{','.join(MASTER_SEGMENTS)}). Cash segments include their index list.",
        )
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            dest="files",
            metavar="PATH",
            help="Import raw master text (as XTS returns it in 'result'; plain or .gz) instead "
            "of downloading. Repeatable, one file per segment; replaces only those segments.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Download, parse, compare and run every guard; list what would be added, "
            "removed and changed; write nothing. Exit 3 if the sync would be refused.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace even if a guard refuses (live instruments vanishing, or an exchange "
            "shrinking below JAINAM_SYNC_MIN_RATIO of its rows).",
        )
        parser.add_argument(
            "--max-malformed",
            type=int,
            default=None,
            metavar="N",
            help="Accept up to N malformed lines (skipped and reported) instead of failing "
            "(default: JAINAM_SYNC_MAX_MALFORMED, 0).",
        )
        parser.add_argument("--broker", default=DEFAULT_BROKER, help="Broker key of the rows.")

    def handle(self, *args, **options) -> None:
        if options["max_malformed"] is not None and options["max_malformed"] < 0:
            raise CommandError("--max-malformed must be 0 or more")
        progress, close = self._progress(verbosity=options["verbosity"])
        try:
            report = sync_master_contract(
                broker=options["broker"],
                segments=options["segments"],
                files=options["files"],
                dry_run=options["dry_run"],
                force=options["force"],
                max_malformed=options["max_malformed"],
                progress=progress,
            )
        except SyncRefused as exc:
            raise CommandError(
                f"sync_master_contract refused: {exc} {FORCE_REMEDY}", returncode=EXIT_REFUSED
            ) from exc
        except (MissingSetting, XTSError, SyncError, ValueError) as exc:
            raise CommandError(f"sync_master_contract failed: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(
                f"sync_master_contract failed: the database is unavailable "
                f"({type(exc).__name__}: {exc}). Check DATABASE_URL and the database server; "
                "nothing was changed."
            ) from exc
        finally:
            close()
        self._render(report)
        if report.refusal is not None:
            raise CommandError(
                f"sync_master_contract --dry-run: the sync would be refused: {report.refusal} "
                f"{FORCE_REMEDY}",
                returncode=EXIT_REFUSED,
            )

    def _progress(self, *, verbosity: int):
        """A progress bar on a terminal; plain step lines at verbosity >= 2; else silence."""
        if self.stdout.isatty():
            from tqdm import tqdm

            bar = tqdm(total=None, unit="step", file=sys.stderr, leave=False)

            def update(message: str) -> None:
                bar.set_description(message)
                bar.update(1)

            return update, bar.close
        if verbosity >= 2:
            return (lambda message: self.stdout.write(f"... {message}")), (lambda: None)
        return None, (lambda: None)

    def _render(self, report: SyncReport) -> None:
        header = f"{'source':<12} {'lines':>8} {'stored':>8} {'skipped':>8}  skipped by reason"
        self.stdout.write(header)
        for source, c in report.counts.items():
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(c["skipped_by_reason"].items()))
            self.stdout.write(
                f"{source:<12} {c['lines']:>8} {c['stored']:>8} {c['skipped']:>8}  {reasons or '-'}"
            )
        if report.changes:
            self.stdout.write(
                f"{'exchange':<12} {'added':>8} {'removed':>8} {'changed':>8}  examples"
            )
            for exchange, c in report.changes.items():
                examples = "; ".join(
                    f"{kind} {', '.join(symbols[:3])}"
                    for kind, symbols in report.examples.get(exchange, {}).items()
                    if symbols
                )
                self.stdout.write(
                    f"{exchange:<12} {c['added']:>8} {c['removed']:>8} {c['changed']:>8}  "
                    f"{examples or '-'}"
                )
        if report.overridden is not None:
            self.stdout.write(self.style.WARNING(f"forced past a guard: {report.overridden}"))
        for run_id in report.abandoned_runs:
            self.stdout.write(self.style.WARNING(f"previous run {run_id} was abandoned (killed)"))
        phases = ", ".join(f"{k} {v:.2f}s" for k, v in report.phases.items())
        style = self.style.SUCCESS if report.refusal is None else self.style.ERROR
        self.stdout.write(style(f"{report.summary()} ({phases}); run {report.run_id}"))
