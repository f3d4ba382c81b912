"""Helpers of tests/test_reliability_sync.py: generated masters, fast seeding, byte-for-byte
table digests, child processes, a private redis-server, and database write locks held by the
test itself. Works on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.db.models import Field

from jainam_prop.master_parser import (
    INDEX_SEGMENTS,
    MASTER_SEGMENTS,
    merge_parsed,
    parse_index_list,
    parse_master,
)
from jainam_prop.models import DEFAULT_BROKER, LookupGeneration, SymbolToken
from jainam_prop.services.sync.columns import DATE, DECIMAL, db_values
from jainam_prop.services.sync.columns import columns as stored_columns
from tests.fixtures_lookups import PrivateRedis as LookupsPrivateRedis
from tests.helpers import child_env  # noqa: F401  (re-exported to the sync tests)
from xts_testserver import datasets

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "reliability_probe.py"
TABLE = SymbolToken._meta.db_table

# --- generated masters ------------------------------------------------------------------------


def master_rows(variant: int, segments: Sequence[str] = MASTER_SEGMENTS) -> pd.DataFrame:
    """The parsed rows of the "full" generated master (one ``variant``), as a sync of
    ``segments`` (with the index lists of the cash ones) would store them. Cached."""
    return _master_rows(variant, tuple(segments))


@functools.lru_cache(maxsize=8)
def _master_rows(variant: int, segments: tuple[str, ...]) -> pd.DataFrame:
    parts = []
    for segment in segments:
        parts.append(
            parse_master(datasets.master_text("full", segment, variant=variant), segment=segment)
        )
        if segment in INDEX_SEGMENTS:
            parts.append(parse_index_list(datasets.index_entries("full", segment), segment=segment))
    return merge_parsed(parts).rows


Key = tuple[str, str]  # (exchange, symbol)


def token_map(variant: int, segments: Sequence[str] = MASTER_SEGMENTS) -> dict[Key, int]:
    """{(exchange, symbol): token} of :func:`master_rows`. Cached."""
    return _token_map(variant, tuple(segments))


@functools.lru_cache(maxsize=8)
def _token_map(variant: int, segments: tuple[str, ...]) -> dict[Key, int]:
    rows = master_rows(variant, segments)
    keys = zip(rows["exchange"], rows["symbol"], strict=True)
    return dict(zip(keys, rows["token"].tolist(), strict=True))


def changed_keys(old: dict[Key, int], new: dict[Key, int]) -> list[Key]:
    """Keys present in both masters whose token differs."""
    return sorted(key for key, token in old.items() if key in new and new[key] != token)


def write_expectations(
    path: Path, old: dict[Key, int], new: dict[Key, int], *, sample: int, seed: int = 7
) -> list[Key]:
    """The probe's input: every changed key plus ``sample`` unchanged ones; returns the keys."""
    changed = changed_keys(old, new)
    unchanged = sorted(key for key, token in old.items() if new.get(key) == token)
    step = max(1, len(unchanged) // sample)
    keys = changed + unchanged[seed % step :: step][:sample]
    entries = [
        [symbol, exchange, old[(exchange, symbol)], new[(exchange, symbol)]]
        for exchange, symbol in keys
    ]
    path.write_text(json.dumps({"entries": entries}))
    return keys


# --- seeding and snapshots --------------------------------------------------------------------


def _db_value(field_name: str) -> Callable[[Any], Any]:
    field = SymbolToken._meta.get_field(field_name)
    assert isinstance(field, Field), field_name
    return functools.lru_cache(maxsize=None)(lambda v: field.get_db_prep_save(v, connection))


def seed_instruments(
    df: pd.DataFrame, *, broker: str = DEFAULT_BROKER, generation: int = 1
) -> None:
    """Store ``df`` as the broker's instruments (the values and statistics a sync would leave)
    and set the lookup generation, fast: COPY on PostgreSQL, one executemany on SQLite. Test
    setup only; the product writes through services.sync."""
    columns: dict[str, list[Any]] = {"broker": [broker] * len(df)}
    for column in stored_columns():  # every instrument column, as the sync stores it
        values = db_values(df[column.name], column)
        if column.kind in (DATE, DECIMAL):
            prep = _db_value(column.name)
            values = [None if v is None else prep(v) for v in values]
        columns[column.name] = values
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    q = connection.ops.quote_name
    column_list = ", ".join(q(name) for name in names)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {q(TABLE)} ({column_list}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                cursor.executemany(f"INSERT INTO {q(TABLE)} ({column_list}) VALUES ({marks})", rows)
        LookupGeneration.objects.update_or_create(
            broker=broker, defaults={"generation": generation}
        )
    with connection.cursor() as cursor:  # the planner statistics a sync leaves behind
        cursor.execute(f"ANALYZE {q(TABLE)}")


def table_digest(*, exchanges: Sequence[str] | None = None) -> tuple[int, str]:
    """(row count, SHA-256 of every stored row, id included, as the driver returns it)."""
    q = connection.ops.quote_name
    where, params = "", []
    if exchanges:
        where = f" WHERE {q('exchange')} IN ({', '.join(['%s'] * len(exchanges))})"
        params = list(exchanges)
    digest = hashlib.sha256()
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {q(TABLE)}{where} ORDER BY {q('id')}", params)
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                digest.update(repr(row).encode())
            count += len(rows)
    return count, digest.hexdigest()


def stored_tokens(*, exchanges: Sequence[str]) -> dict[Key, int]:
    """{(exchange, symbol): token} of the stored rows of ``exchanges``, in one SELECT."""
    rows = SymbolToken.objects.filter(exchange__in=exchanges).values_list(
        "exchange", "symbol", "token"
    )
    return {(exchange, symbol): token for exchange, symbol, token in rows}


def generation(broker: str = DEFAULT_BROKER) -> int:
    return LookupGeneration.objects.get(broker=broker).generation


# --- child processes --------------------------------------------------------------------------


class Child:
    """A child process whose stdout and stderr lines are collected as they come."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str]) -> None:
        self.args = list(args)
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    @classmethod
    def manage(cls, *args: str, env: dict[str, str]) -> Child:
        return cls(["manage.py", *args], env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_for(
        self, predicate: Callable[[str], bool], *, timeout: float = 60, what: str = "a line"
    ) -> str:
        """The first stdout line matching ``predicate``; fails if the child ends first."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            lines = self.out[:]
            for line in lines[seen:]:
                if predicate(line):
                    return line
            seen = len(lines)
            if not self.running():
                self.finish(timeout=5)
                lines = self.out[:]
                for line in lines[seen:]:
                    if predicate(line):
                        return line
                raise AssertionError(f"{self} ended before {what}: {self.transcript()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self}: no {what} within {timeout}s: {self.transcript()}")
            time.sleep(0.01)

    def finish(self, *, timeout: float = 120) -> int:
        """Wait for the exit status (and the last output lines)."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join(timeout=10)

    def transcript(self) -> str:
        return f"\nstdout: {self.out[-15:]}\nstderr: {self.err[-15:]}"

    def __str__(self) -> str:
        return f"child {self.pid} ({' '.join(self.args[:3])})"


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    """Child processes killed at the end, whatever happens."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in started:
            child.kill()


def stop_probes(probes: Sequence[Child], stop_file: Path, *, committed: int) -> list[dict]:
    """Ask the probes to stop (atomically writing the last committed generation) and return
    their reports."""
    partial = stop_file.with_suffix(".partial")
    partial.write_text(str(committed))
    os.replace(partial, stop_file)
    reports = []
    for probe in probes:
        line = probe.wait_for(lambda text: text.startswith("REPORT "), timeout=60, what="REPORT")
        assert probe.finish(timeout=30) == 0, probe.transcript()
        reports.append(json.loads(line.removeprefix("REPORT ")))
    return reports


def probe_count(probe: Child) -> int:
    counts = [line for line in probe.out[:] if line.startswith("COUNT ")]
    return int(counts[-1].split()[1]) if counts else 0


def wait_for_more_lookups(probes: Sequence[Child], *, more: int, timeout: float = 60) -> None:
    """Wait until every probe has made ``more`` lookups beyond what it had made now."""
    targets = [(probe, probe_count(probe) + more) for probe in probes]
    for probe, target in targets:

        def reached(line: str, target: int = target) -> bool:
            return line.startswith("COUNT ") and int(line.split()[1]) >= target

        probe.wait_for(reached, timeout=timeout, what=f"{target} lookups")


# --- private redis-server ---------------------------------------------------------------------


class PrivateRedis(LookupsPrivateRedis):
    """The lookups tests' private redis-server, plus a hung state (freeze/thaw)."""

    def kill(self) -> None:
        """Kill the server abruptly, as a crash would (its data is lost), even when frozen."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
        self.stop()

    def freeze(self) -> None:
        """The server stops answering but keeps its connections open (a hung Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


# --- database locks held by the test ----------------------------------------------------------


def raw_connection() -> Any:
    """A new DB-API connection to the test database, outside Django (autocommit off)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return sqlite3.connect(db["NAME"], timeout=30, isolation_level=None)
    import psycopg

    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )


def sqlite_write_lock_held(conn: sqlite3.Connection) -> bool:
    """Whether another connection holds SQLite's write lock right now (never waits)."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return True
        raise
    conn.execute("ROLLBACK")
    return False


def pg_backends(query_prefix: str) -> list[tuple[int, str, str | None]]:
    """(pid, state, wait_event_type) of the test database's sessions running or last running a
    statement that starts with ``query_prefix``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE %s",
            [query_prefix.replace("%", r"\%") + "%"],
        )
        return list(cursor.fetchall())


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
