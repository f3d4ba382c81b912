"""Reliability of the sync and of lookups around it: real database errors in the middle of the
write, SIGKILL in the write phase, lookups in other processes during a full sync, two syncs at
once, and Redis killed, restarted and frozen while lookups run. Nothing is ever lost or mixed.

Runs on both backends (SQLite + in-process cache, PostgreSQL + Redis). Download faults are in
tests/test_sync.py; see RELIABILITY.md for the whole table of faults and the tests proving them.
The full generated master (about 162,000 instruments) is used only where a full-size sync is
the point; the other tests replace the cash segments (about 20,600 instruments).
"""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.test import override_settings

from jainam_prop.errors import (
    SyncError,
    SyncInProgress,
    XTSBadResponse,
    XTSRejected,
    XTSUnavailable,
)
from jainam_prop.models import DEFAULT_BROKER, SymbolToken, SyncRun
from jainam_prop.services import get_token_from_symbol, save_master_contract_to_db
from jainam_prop.services.lookups import reset_process_state
from jainam_prop.services.sync import store, sync_master_contract
from tests.helpers import redis_cache_settings
from tests.reliability_helpers import (
    PROBE,
    TABLE,
    Child,
    PrivateRedis,
    changed_keys,
    child_env,
    children,
    generation,
    master_rows,
    pg_backends,
    probe_count,
    raw_connection,
    seed_instruments,
    sqlite_write_lock_held,
    stop_probes,
    stored_tokens,
    table_digest,
    token_map,
    wait_for_more_lookups,
    wait_until,
    write_expectations,
)
from xts_testserver import XTSTestServer

NSECM = ("NSECM",)
CASH = ("NSECM", "BSECM")
CASH_SOURCES = ["NSECM", "NSECM_INDEX", "BSECM", "BSECM_INDEX"]
CASH_EXCHANGES = ("NSE", "NSE_INDEX", "BSE", "BSE_INDEX")
ANOTHER_SYNC = f"Another sync of broker {DEFAULT_BROKER} is running"
FAST_HTTP = {"JAINAM_HTTP_BACKOFF": 0.01, "JAINAM_HTTP_RETRIES": 1}


def postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def market(fresh_xts_full_server: XTSTestServer, settings) -> XTSTestServer:
    """The session's full-dataset XTS server, reset, as this process's JAINAM_MARKET_URL."""
    settings.JAINAM_MARKET_URL = fresh_xts_full_server.market_url
    for name, value in FAST_HTTP.items():
        setattr(settings, name, value)
    return fresh_xts_full_server


@pytest.fixture(autouse=True)
def _fresh_lookup_state() -> Iterator[None]:
    """Lookups keep answers in process memory per generation; the database is emptied between
    tests, so a generation number may come back with other rows."""
    reset_process_state()
    yield
    reset_process_state()


def assert_lookups_answer(expected: dict[tuple[str, str], int], keys: list[tuple[str, str]]):
    for exchange, symbol in keys:
        assert get_token_from_symbol(symbol, exchange) == expected[(exchange, symbol)], symbol


# --- 0. download faults not covered by tests/test_sync.py -----------------------------------------


@pytest.fixture
def synced_samples(xts_server: XTSTestServer, settings) -> XTSTestServer:
    """The real sample master synced once from a fresh samples server."""
    settings.JAINAM_MARKET_URL = xts_server.market_url
    for name, value in FAST_HTTP.items():
        setattr(settings, name, value)
    sync_master_contract()
    return xts_server


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "fault", "error", "requests"),
    [
        ("master", "not_json", XTSBadResponse, 1),  # a proxy's HTML page with HTTP 200
        ("indexlist", "http500", XTSUnavailable, 2),  # retried once (JAINAM_HTTP_RETRIES=1)
        ("indexlist", "drop", XTSUnavailable, 2),
        ("indexlist", "truncated", XTSUnavailable, 2),
        ("indexlist", "not_json", XTSBadResponse, 1),
        ("indexlist", "error_body", XTSRejected, 1),
        ("indexlist", "malformed_lines", SyncError, 1),
    ],
)
def test_a_bad_answer_for_a_late_source_keeps_the_previous_instruments(
    synced_samples, endpoint, fault, error, requests
):
    """The fault hits a source downloaded after others were fetched and parsed (BSECM's index
    list, or MCXFO, the last master): still nothing is written."""
    before, generation_before = table_digest(), generation()
    segment = "BSECM" if endpoint == "indexlist" else "MCXFO"
    synced_samples.inject_fault(fault, endpoint=endpoint, segment=segment, times=10)
    synced_samples.clear_requests()

    with pytest.raises(error):
        sync_master_contract()

    path = "/instruments/indexlist" if endpoint == "indexlist" else "/instruments/master"
    hits = [r for r in synced_samples.requests_to(path) if r.fault == fault]
    assert len(hits) == requests
    assert table_digest() == before
    assert generation() == generation_before
    run = SyncRun.objects.latest()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(error.__name__)


# --- 1. a real database error in the middle of the write ------------------------------------------


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DatabaseFault:
    """A fault planted in the test database itself (a trigger, or a CHECK constraint that
    only new rows must satisfy), so that the database refuses one statement of the write."""

    def __init__(self) -> None:
        self.undo: list[str] = []

    def run(self, *statements: str) -> None:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def plant(self, where: str, *, exchange: str, symbol: str) -> str:
        """Make the database refuse the write at ``where``; return (a regex of) its message."""
        message = f"relya fault: the database refuses the {where} of {exchange}:{symbol}"
        table = "jainam_prop_lookupgeneration" if where == "generation bump" else TABLE
        event = {"delete": "DELETE", "insert": "INSERT", "generation bump": "UPDATE"}[where]
        row = {"delete": "OLD.", "insert": "NEW."}.get(where)
        condition = "1 = 1"
        if row is not None:
            condition = f"{row}exchange = {_quoted(exchange)} AND {row}symbol = {_quoted(symbol)}"
        if connection.vendor == "sqlite":
            self.run(
                f"CREATE TRIGGER relya_fault BEFORE {event} ON {table} WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, {_quoted(message)}); END"
            )
            self.undo.append("DROP TRIGGER IF EXISTS relya_fault")
            return re.escape(message)
        if where == "insert":
            # A constraint that only new rows must satisfy (the stored rows do not).
            self.run(
                f"ALTER TABLE {TABLE} ADD CONSTRAINT relya_fault CHECK (NOT "
                f"(exchange = {_quoted(exchange)} AND symbol = {_quoted(symbol)})) NOT VALID"
            )
            self.undo.append(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS relya_fault")
            return re.escape('violates check constraint "relya_fault"')
        self.run(
            "CREATE FUNCTION relya_fault() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION {_quoted(message)}; END $$",
            f"CREATE TRIGGER relya_fault BEFORE {event} ON {table} FOR EACH ROW "
            f"WHEN ({condition}) EXECUTE FUNCTION relya_fault()",
        )
        self.undo += [
            f"DROP TRIGGER IF EXISTS relya_fault ON {table}",
            "DROP FUNCTION IF EXISTS relya_fault()",
        ]
        return re.escape(message)

    def remove(self) -> None:
        self.run(*self.undo)
        self.undo.clear()


@pytest.fixture
def database_fault(transactional_db) -> Iterator[DatabaseFault]:
    fault = DatabaseFault()
    yield fault
    fault.remove()  # before the database is emptied (a DELETE trigger would refuse that too)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["delete", "insert", "generation bump"])
def test_database_error_in_the_write_keeps_the_previous_instruments(market, database_fault, where):
    seed_instruments(master_rows(0, NSECM))
    old, new = token_map(0, NSECM), token_map(1, NSECM)
    changed = changed_keys(old, new)
    assert_lookups_answer(old, changed)  # answers now in memory and in the cache
    before, generation_before = table_digest(), generation()
    # The delta deletes and inserts again the rows whose token changed: the fault hits the one
    # half-way through them (deleted in seeded order, inserted in the new master's order).
    market.set_dataset("full", variant=1)
    frame = master_rows(1, NSECM)
    exchange, symbol = changed[len(changed) // 2]
    message = database_fault.plant(where, exchange=exchange, symbol=symbol)

    with pytest.raises(CommandError, match="the replace is one transaction") as failure:
        call_command("sync_master_contract", "--segments", "NSECM", stdout=StringIO())

    assert re.search(message, str(failure.value))
    assert isinstance(failure.value.__cause__.__cause__, DatabaseError)

    assert table_digest() == before
    assert generation() == generation_before
    run = SyncRun.objects.latest()
    assert run.status == SyncRun.Status.FAILED
    assert re.search(message, run.error)
    assert (run.stored, run.deleted) == (0, 0)
    assert_lookups_answer(old, changed)
    reset_process_state()
    assert_lookups_answer(old, changed)

    # Nothing is left locked or half-done: the next sync replaces everything.
    database_fault.remove()
    report = sync_master_contract(segments=list(NSECM))
    assert report.status == SyncRun.Status.SUCCESS
    assert report.stored == len(frame)
    assert report.deleted == report.inserted == len(changed)
    assert report.changes["NSE"] == {"added": 0, "removed": 0, "changed": len(changed)}
    assert generation() == generation_before + 1
    assert stored_tokens(exchanges=("NSE", "NSE_INDEX")) == new
    assert_lookups_answer(new, changed)


@pytest.mark.django_db(transaction=True)
def test_a_sync_arriving_while_another_holds_the_lock_stops_with_a_clear_message(market):
    """PostgreSQL: the sync lock (the generation row) is taken FOR UPDATE NOWAIT, so the
    newcomer stops at once and its run is recorded as failed. SQLite: every write waits for the
    database's single write lock up to the busy timeout (30 s; shortened here), so the
    newcomer stops before it can even record its run."""
    seed_instruments(master_rows(0, NSECM))
    before, generation_before = table_digest(), generation()
    market.set_dataset("full", variant=1)
    lock = raw_connection()
    try:
        if postgres():
            lock.execute(
                "SELECT generation FROM jainam_prop_lookupgeneration WHERE broker = %s FOR UPDATE",
                [DEFAULT_BROKER],
            )
        else:
            lock.execute("BEGIN IMMEDIATE")
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 300")
        with pytest.raises(CommandError, match=ANOTHER_SYNC):
            call_command("sync_master_contract", "--segments", "NSECM", stdout=StringIO())
    finally:
        lock.rollback()
        lock.close()
        if not postgres():
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 30000")

    assert table_digest() == before
    assert generation() == generation_before
    if postgres():
        run = SyncRun.objects.get()
        assert run.status == SyncRun.Status.FAILED
        assert run.error.startswith(f"SyncInProgress: {ANOTHER_SYNC}")
    else:
        assert not SyncRun.objects.exists()
    report = sync_master_contract(segments=list(NSECM))  # once the lock is free
    assert report.status == SyncRun.Status.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_after_a_sync_reverse_lookups_are_served_by_a_token_index(market):
    """Reverse lookups (order books, ticks) select by (broker, exchange, token) ORDER BY
    symbol. Without statistics SQLite walks the unique (broker, exchange, symbol) index to
    avoid the sort: every row of the exchange (111,000 for NFO, about 0.2 s per lookup)."""
    sync_master_contract(segments=list(NSECM))
    token = int(master_rows(0, NSECM)["token"].iloc[0])
    query = SymbolToken.objects.filter(broker=DEFAULT_BROKER, exchange="NSE", token=token)
    plan = query.order_by("symbol").values_list("symbol")[:1].explain()
    assert "symboltoken_broker_exch_token" in plan or "symboltoken_token" in plan, plan


# --- 1b. SIGKILL in the write phase ---------------------------------------------------------------


def pg_writers() -> list[tuple[int, str]]:
    """(pid, state) of the other sessions inside a transaction that has locked or written
    rows (it holds a transaction id): a sync between taking its lock and committing."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return list(cursor.fetchall())


def still_writing() -> bool:
    """Whether a sync's replace transaction is open right now (never waits)."""
    if postgres():
        return bool(pg_writers())
    probe = raw_connection()
    try:
        return sqlite_write_lock_held(probe)
    finally:
        probe.close()


def wait_for_write_phase(sync: Child, *, settle: float) -> None:
    """Return ``settle`` seconds after ``sync`` is seen inside its write transaction (a session
    holding a transaction id, or SQLite's write lock) after 'saving N instruments'."""
    sync.wait_for(lambda line: "saving" in line, timeout=180, what="'saving N instruments'")
    wait_until(still_writing, timeout=60, what="the write transaction")
    time.sleep(settle)
    assert sync.running(), sync.transcript()
    assert still_writing(), "the write ended before the test could act"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkill_in_the_write_phase_loses_nothing_and_the_next_run_reports_it(market):
    seed_instruments(master_rows(0, CASH))
    before, generation_before = table_digest(), generation()
    bse_before = table_digest(exchanges=["BSE", "BSE_INDEX"])
    old, new = token_map(0, CASH), token_map(1, CASH)
    changed = changed_keys(old, new)
    market.set_dataset("full", variant=1)  # 162,000 instruments, some with new tokens
    env = child_env(JAINAM_MARKET_URL=market.market_url, JAINAM_LOG_LEVEL="WARNING")

    with children() as started:
        sync = Child.manage("sync_master_contract", "-v", "2", env=env)
        started.append(sync)
        # The full master's write lasts many seconds: kill it well inside.
        wait_for_write_phase(sync, settle=0.3 if postgres() else 1.0)
        killed = SyncRun.objects.get(status=SyncRun.Status.RUNNING)
        assert killed.pid == sync.pid
        sync.process.send_signal(signal.SIGKILL)
        assert sync.finish(timeout=30) == -signal.SIGKILL
    # PostgreSQL ends the session (rolling back) once it sees the client is gone.
    wait_until(lambda: not still_writing(), timeout=30, what="the rollback")

    assert table_digest() == before
    assert generation() == generation_before
    assert SyncRun.objects.get(pk=killed.pk).status == SyncRun.Status.RUNNING
    assert_lookups_answer(old, changed)

    output = StringIO()
    call_command("sync_master_contract", "--segments", "NSECM", stdout=output)
    assert f"previous run {killed.pk} was abandoned" in output.getvalue()
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.ABANDONED
    assert "killed or crashed" in killed.error
    assert SyncRun.objects.latest().status == SyncRun.Status.SUCCESS
    assert table_digest(exchanges=["BSE", "BSE_INDEX"]) == bse_before
    assert stored_tokens(exchanges=("NSE", "NSE_INDEX")) == token_map(1, NSECM)
    nse_changed = [key for key in changed if key[0] in ("NSE", "NSE_INDEX")]
    assert nse_changed
    reset_process_state()
    assert_lookups_answer(new, nse_changed)


# A sync whose idle-in-transaction limit (PostgreSQL) is 2 s instead of 60 s.
FROZEN_SYNC = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.core.management import call_command
from jainam_prop.services.sync import store
store.IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 2
call_command("sync_master_contract", *sys.argv[1:])
"""
# Where the frozen sync stops under the lock (PostgreSQL): after sending its DELETE, or its
# INSERT of the rows staged by COPY; either way its session is then idle in its transaction.
ON_POSTGRES = "postgresql" in django_settings.DATABASES["default"]["ENGINE"]
FROZEN_IN = ["delete", "copy"] if ON_POSTGRES else ["write"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("frozen_in", FROZEN_IN)
def test_a_frozen_sync_does_not_hold_the_lock_forever(market, frozen_in):
    """A sync process that stops mid-write without dying (SIGSTOP: a paused VM, a network
    partition) keeps its transaction open. PostgreSQL: the server ends that session once it
    has been idle in its transaction for IDLE_IN_TRANSACTION_TIMEOUT_SECONDS, so the lock is
    released and the next sync runs (a COPY, which waits for its rows and is never "idle", is
    done before the lock); the frozen one fails when it wakes up, having written
    nothing. To freeze it at a known statement the test holds a table lock that the statement
    waits for, freezes the sync, then lets the statement go. SQLite: the frozen writer keeps the
    database's write lock; a newcomer stops with "Another sync ... is running" after the busy
    timeout, and the frozen sync completes when it wakes up."""
    seeded = master_rows(0, CASH)
    if frozen_in == "copy":
        # Only additions (at least COPY_MIN_ROWS): they are COPied into a stage table before
        # the lock; the first write under the lock is the INSERT ... SELECT from it.
        seeded = master_rows(1, CASH).iloc[2_000:]
    seed_instruments(seeded)
    before = table_digest()
    market.set_dataset("full", variant=1)
    env = child_env(JAINAM_MARKET_URL=market.market_url, JAINAM_LOG_LEVEL="WARNING")
    args = ["-c", FROZEN_SYNC, "--segments", ",".join(CASH), "-v", "2"]
    lock = raw_connection()
    with children() as started:
        if postgres():
            lock.execute(f'LOCK TABLE "{TABLE}" IN SHARE MODE')
        frozen = Child(args, env=env)
        started.append(frozen)
        if postgres():
            verb = "DELETE FROM" if frozen_in == "delete" else "INSERT INTO"
            statement = f'{verb} "{TABLE}"'
            wait_until(
                lambda: [w for w in pg_backends(statement) if w[2] == "Lock"],
                timeout=60,
                what=f"the sync's {frozen_in} to wait for the test's lock",
            )
            frozen.process.send_signal(signal.SIGSTOP)
            lock.rollback()  # the statement runs now; the sync is frozen
        else:
            wait_for_write_phase(frozen, settle=0)
            frozen.process.send_signal(signal.SIGSTOP)
        try:
            assert still_writing(), "the frozen sync finished its write before SIGSTOP"
            market.set_dataset("full", variant=2)  # what the next sync downloads
            if postgres():
                wait_until(
                    lambda: not pg_writers(),
                    timeout=30,
                    what="the server to end the frozen sync's session",
                )
                assert table_digest() == before
                report = sync_master_contract(segments=list(CASH))
                assert report.status == SyncRun.Status.SUCCESS
            else:
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 300")
                try:
                    with pytest.raises(SyncInProgress, match=ANOTHER_SYNC):
                        sync_master_contract(segments=list(CASH))
                finally:
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA busy_timeout = 30000")
                assert table_digest() == before
        finally:
            frozen.process.send_signal(signal.SIGCONT)
        code = frozen.finish()
    lock.close()

    run = SyncRun.objects.get(pid=frozen.pid)
    if postgres():
        assert code == 1, frozen.transcript()
        assert "The database failed while saving" in "\n".join(frozen.err)
        assert run.status == SyncRun.Status.FAILED
        assert stored_tokens(exchanges=CASH_EXCHANGES) == token_map(2, CASH)
    else:
        assert code == 0, frozen.transcript()
        assert run.status == SyncRun.Status.SUCCESS
        assert stored_tokens(exchanges=CASH_EXCHANGES) == token_map(1, CASH)


# --- 2a. lookups in other processes during a full sync --------------------------------------------


def start_probes(
    count: int, expect: Path, stop: Path, *, started: list[Child], env: dict, extra=()
) -> list[Child]:
    probes = []
    for seed in range(count):
        probe = Child([str(PROBE), str(expect), str(stop), "--seed", str(seed), *extra], env=env)
        started.append(probe)
        probes.append(probe)
    for probe in probes:
        probe.wait_for(lambda line: line == "READY", timeout=60, what="READY")
    wait_for_more_lookups(probes, more=300)
    return probes


def assert_clean(reports: list[dict], *, committed: int) -> None:
    for report in reports:
        assert report["problem_count"] == 0, report["problems"]
        assert report["final_generation"] == committed
        assert report["final_wrong"] == []
        assert report["old"] > 0
        assert report["new"] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_lookup_processes_see_only_old_or_new_tokens_during_a_full_sync(market, tmp_path):
    old, new = token_map(0), token_map(1)
    seed_instruments(master_rows(0))
    expect, stop = tmp_path / "expect.json", tmp_path / "stop"
    keys = write_expectations(expect, old, new, sample=20_000)
    assert len(changed_keys(old, new)) > 1000
    market.set_dataset("full", variant=1)

    with children() as started:
        probes = start_probes(
            2, expect, stop, started=started, env=child_env(), extra=["--clear-every", "400"]
        )
        during = [probe_count(probe) for probe in probes]
        report = sync_master_contract()
        during = [probe_count(probe) - count for probe, count in zip(probes, during, strict=True)]
        committed = generation()
        for probe in probes:
            probe.wait_for(lambda line: line == f"GEN {committed}", timeout=30, what="the sync")
        wait_for_more_lookups(probes, more=200)
        reports = stop_probes(probes, stop, committed=committed)

    assert report.stored == len(master_rows(1)) > 150_000
    assert min(during) >= 100, f"the probes barely ran during the sync: {during}"
    assert_clean(reports, committed=committed)
    assert sum(r["lookups"] for r in reports) > len(keys) // 10


# --- 2b. another sync commits while this one compares --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_sync_committed_while_this_one_compared_stops_it(monkeypatch):
    """PostgreSQL compares (and stages a COPY) before taking the lock. If another sync commits
    in between (it bumps the generation), this one stops without writing: its comparison is
    stale. SQLite holds the write lock from BEGIN, so no other writer can commit meanwhile."""
    seed_instruments(master_rows(0, NSECM))
    before, generation_before = table_digest(), generation()
    locked = store.lock_generation
    other_commit: list[str] = []

    def another_sync_commits_first(*, broker: str):
        other = raw_connection()
        try:
            if postgres():
                other.execute(
                    "UPDATE jainam_prop_lookupgeneration SET generation = generation + 1 "
                    "WHERE broker = %s",
                    [broker],
                )
                other.commit()
                other_commit.append("committed")
            else:
                other.execute("PRAGMA busy_timeout = 100")
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
                other_commit.append("locked out")
        finally:
            other.close()
        return locked(broker=broker)

    monkeypatch.setattr(store, "lock_generation", another_sync_commits_first)
    rows = master_rows(1, NSECM)
    if postgres():
        with pytest.raises(SyncInProgress, match=ANOTHER_SYNC):
            save_master_contract_to_db(rows, segments=["NSECM", "NSECM_INDEX"])
        assert other_commit == ["committed"]
        assert table_digest() == before
        assert generation() == generation_before + 1  # the other's bump only
    else:
        save_master_contract_to_db(rows, segments=["NSECM", "NSECM_INDEX"])
        assert other_commit == ["locked out"]
        assert generation() == generation_before + 1


# --- 2c. two syncs started at the same moment -----------------------------------------------------


class TableWatcher:
    """Reads the replaced rows over and over in a thread and names each state it sees: one of
    the given masters, or "mix".

    Each read is ONE statement (one snapshot): the row count of the cash exchanges and the
    rows holding any token that differs between the masters. Two states with the same count
    and the same telltale rows are the same master."""

    def __init__(self, masters: dict[str, dict]) -> None:
        keys = set.union(*(set(master) for master in masters.values()))
        changed = {k for k in keys if len({m.get(k) for m in masters.values()}) > 1}
        telltale = {m[k] for m in masters.values() for k in changed if k in m}
        self.tokens = sorted(telltale)
        self.expected = {
            name: (len(master), {k: t for k, t in master.items() if t in telltale})
            for name, master in masters.items()
        }
        self.seen: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.error: BaseException | None = None

    def _watch(self) -> None:
        try:
            while not self._stop.is_set():
                self.look()
                time.sleep(0.02)
        except BaseException as exc:  # reported by __exit__
            self.error = exc
        finally:
            connection.close()

    def look(self) -> str:
        exchanges = ", ".join(["%s"] * len(CASH_EXCHANGES))
        tokens = ", ".join(["%s"] * len(self.tokens))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT exchange, symbol, token, (SELECT COUNT(*) FROM {TABLE} "
                f"WHERE exchange IN ({exchanges})) FROM {TABLE} "
                f"WHERE exchange IN ({exchanges}) AND token IN ({tokens})",
                [*CASH_EXCHANGES, *CASH_EXCHANGES, *self.tokens],
            )
            rows = cursor.fetchall()
        count = rows[0][3] if rows else None
        state = (count, {(e, s): t for e, s, t, _ in rows})
        name = next((n for n, expected in self.expected.items() if state == expected), "mix")
        self.reads += 1
        if not self.seen or self.seen[-1] != name:
            self.seen.append(name)
        return name

    def __enter__(self) -> TableWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert self.error is None, self.error


def succeeded(child: Child) -> bool:
    return any("sync success" in line for line in child.out)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_syncs_started_together_run_one_at_a_time_and_never_mix(market, tmp_path):
    seed_instruments(master_rows(0, CASH))
    masters = {f"v{v}": token_map(v, CASH) for v in (0, 1, 2)}
    market.set_dataset("full", variant=1)
    args = ("sync_master_contract", "--segments", ",".join(CASH), "-v", "2")
    lock = raw_connection()
    with XTSTestServer(dataset="full", variant=2) as other, TableWatcher(masters) as watcher:
        servers = {"v1": market, "v2": other}
        if postgres():
            # Hold the first sync inside its write (its DELETE waits for this lock) while it
            # holds the sync lock; the second must stop at once.
            lock.execute(f'LOCK TABLE "{TABLE}" IN SHARE MODE')
        else:
            # Both syncs pause in the download of BSECM, after their runs are recorded; the
            # test then takes the write lock, so both reach BEGIN IMMEDIATE while it is held.
            for server in servers.values():
                server.inject_fault("slow", endpoint="master", segment="BSECM", delay=2.5)
        with children() as started:
            syncs = {}
            for name, server in servers.items():
                env = child_env(JAINAM_MARKET_URL=server.market_url, JAINAM_LOG_LEVEL="WARNING")
                syncs[name] = Child.manage(*args, env=env)
                started.append(syncs[name])
            if postgres():
                loser_name = wait_until(
                    lambda: next((n for n, c in syncs.items() if not c.running()), None),
                    timeout=120,
                    what="one sync to stop",
                )
                loser = syncs.pop(loser_name)
                ((winner_name, winner),) = syncs.items()
                assert loser.finish() == 1
                assert ANOTHER_SYNC in "\n".join(loser.err), loser.transcript()
                waiting = wait_until(
                    lambda: [w for w in pg_backends(f'DELETE FROM "{TABLE}"') if w[2] == "Lock"],
                    timeout=30,
                    what="the first sync's DELETE to wait for the test's lock",
                )
                assert len(waiting) == 1
                assert winner.running()
                lock.rollback()
                assert winner.finish() == 0, winner.transcript()
                committed = [winner_name]
                runs = {r.pid: r for r in SyncRun.objects.all()}
                assert runs[winner.pid].status == SyncRun.Status.SUCCESS
                assert runs[loser.pid].status == SyncRun.Status.FAILED
                assert runs[loser.pid].error.startswith(f"SyncInProgress: {ANOTHER_SYNC}")
            else:
                wait_until(
                    lambda: SyncRun.objects.filter(status=SyncRun.Status.RUNNING).count() == 2,
                    timeout=60,
                    what="both runs to be recorded",
                )
                lock.execute("BEGIN IMMEDIATE")
                assert watcher.look() == "v0"
                for sync in syncs.values():
                    sync.wait_for(lambda line: "saving" in line, what="the write phase")
                time.sleep(0.3)  # both are now waiting for the write lock
                assert all(sync.running() for sync in syncs.values())
                assert watcher.look() == "v0"
                lock.execute("ROLLBACK")
                for sync in syncs.values():
                    assert sync.finish() == 0, sync.transcript()
                    assert succeeded(sync)
                runs = {r.pid: r for r in SyncRun.objects.all()}
                assert {runs[s.pid].status for s in syncs.values()} == {SyncRun.Status.SUCCESS}
                # Both replaced the table, one after the other, in an order the lock chose
                # (finished_at does not tell it: a run finishes after its ANALYZE, which may
                # wait for the other's whole write).
                committed = watcher.seen[1:]
                assert sorted(committed) == ["v1", "v2"], watcher.seen
    lock.close()

    assert watcher.reads > 10
    # Every state read is one whole master: the seeded one, then each committed replace.
    assert watcher.seen == ["v0", *committed]
    assert stored_tokens(exchanges=CASH_EXCHANGES) == masters[committed[-1]]


# --- 2d. Redis killed, restarted and frozen while lookups run -------------------------------------


@pytest.mark.reliability
@pytest.mark.django_db(transaction=True)
def test_lookups_never_fail_while_redis_is_killed_restarted_and_frozen(tmp_path):
    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    seed_instruments(master_rows(0, CASH))
    old, new = token_map(0, CASH), token_map(1, CASH)
    expect, stop = tmp_path / "expect.json", tmp_path / "stop"
    write_expectations(expect, old, new, sample=5_000)
    prefix = "relya-outage"
    env = child_env(REDIS_URL=redis_server.url, CACHE_KEY_PREFIX=prefix)
    extra = ["--clear-every", "20", "--cache-retry", "0.5"]

    try:
        with children() as started:
            probes = start_probes(2, expect, stop, started=started, env=env, extra=extra)
            assert redis_server.dbsize() > 0  # the probes use Redis

            redis_server.kill()
            wait_for_more_lookups(probes, more=200)
            # A sync while Redis is down: its announcement is lost, the row is not.
            with override_settings(
                CACHES=redis_cache_settings(redis_server.url, key_prefix=prefix)
            ):
                save_master_contract_to_db(master_rows(1, CASH), segments=CASH_SOURCES)
            committed = generation()
            for probe in probes:
                probe.wait_for(lambda line: line == f"GEN {committed}", timeout=30, what="GEN")
            wait_for_more_lookups(probes, more=200)

            redis_server.start()  # same port, empty
            wait_for_more_lookups(probes, more=200)
            wait_until(redis_server.dbsize, timeout=30, what="the probes to use Redis again")

            redis_server.freeze()
            wait_for_more_lookups(probes, more=200)
            redis_server.thaw()
            wait_for_more_lookups(probes, more=200)
            reports = stop_probes(probes, stop, committed=committed)
    finally:
        redis_server.kill()

    assert_clean(reports, committed=committed)
    for probe in probes:
        outages = [line for line in probe.err if "unavailable" in line]
        assert any("ConnectionError" in line for line in outages), outages  # killed
        assert any("TimeoutError" in line for line in outages), outages  # frozen
        assert sum("is back" in line for line in probe.err) >= 2, probe.err[-20:]
