"""save_master_contract_to_db and sync_master_contract: atomic replace, guards, run records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import pytest
from django.db import DatabaseError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from jainam_prop.errors import MissingSetting, SyncError, SyncRefused, XTSRejected, XTSUnavailable
from jainam_prop.master_parser import parse_master
from jainam_prop.models import LookupGeneration, SymbolToken, SyncRun
from jainam_prop.services import save_master_contract_to_db
from jainam_prop.services.sync import plan_replace, store, sync_master_contract
from jainam_prop.vocabulary import INSTRUMENT_COLUMNS, today_ist
from tests import sample_data
from xts_testserver import XTSTestServer

pytestmark = pytest.mark.django_db

FAST_HTTP = {"JAINAM_HTTP_BACKOFF": 0.01, "JAINAM_HTTP_RETRIES": 2, "JAINAM_HTTP_READ_TIMEOUT": 0.5}


def snapshot(broker: str | None = None) -> list[tuple]:
    rows = SymbolToken.objects.all()
    if broker:
        rows = rows.filter(broker=broker)
    return list(
        rows.order_by("broker", "exchange", "symbol").values_list("broker", *INSTRUMENT_COLUMNS)
    )


EXPIRY_FIELD = 16  # contractExpiration of an XTS F&O line (ISO date and time)


def live_master(segment: str, *, today: dt.date) -> str:
    """The real sample lines of ``segment`` with every expiry moved by one whole number of
    weeks so that the earliest falls in the week AFTER ``today``: all live, none expiring today
    (the vanish guard lets contracts expiring today go)."""
    return sample_data.live_master(segment, today=today + dt.timedelta(days=1))


def live_rows(data_dir, segment: str = "NSEFO", *, today: dt.date | None = None) -> pd.DataFrame:
    text = live_master(segment, today=today or today_ist())
    return parse_master(text, segment=segment).rows


def written_statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements that wrote instrument rows (a COPY ... TO STDOUT reads them)."""
    table = SymbolToken._meta.db_table

    def writes(sql: str) -> bool:
        head = sql.lstrip().upper()
        if head.startswith("COPY"):
            return "FROM STDIN" in head
        return head.startswith(("INSERT", "DELETE", "UPDATE"))

    return [q["sql"] for q in queries.captured_queries if table in q["sql"] and writes(q["sql"])]


def ids_by_symbol() -> dict[tuple[str, str], int]:
    return {(e, s): i for e, s, i in SymbolToken.objects.values_list("exchange", "symbol", "id")}


@pytest.fixture
def nsefo_rows(data_dir) -> pd.DataFrame:
    return parse_master((data_dir / "NSEFO.txt").read_text(), segment="NSEFO").rows


@pytest.fixture
def nsecm_rows(data_dir) -> pd.DataFrame:
    return parse_master((data_dir / "NSECM.txt").read_text(), segment="NSECM").rows


@pytest.fixture
def synced(xts_server, settings):
    """The real sample master synced from the test server."""
    settings.JAINAM_MARKET_URL = xts_server.market_url
    for name, value in FAST_HTTP.items():
        setattr(settings, name, value)
    return sync_master_contract()


# --- save_master_contract_to_db: the delta -----------------------------------------------------


def test_save_stores_every_row_with_its_values(nsefo_rows):
    result = save_master_contract_to_db(nsefo_rows)

    assert result.stored == result.inserted == len(nsefo_rows) == SymbolToken.objects.count()
    assert result.deleted == 0
    assert result.changes == {"NFO": {"added": 160, "removed": 0, "changed": 0}}
    first = nsefo_rows.iloc[0]
    row = SymbolToken.objects.get(exchange="NFO", symbol=first["symbol"])
    assert row.token == first["token"]
    assert row.broker == "jainam_prop"
    assert row.brexchange == "NSEFO"


def test_save_keeps_decimal_strikes_and_dates_exact(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)

    option = SymbolToken.objects.filter(instrument_type="CE").exclude(strike=None).first()
    assert option is not None
    assert isinstance(option.strike, Decimal)
    assert isinstance(option.expiry, dt.date)
    future = SymbolToken.objects.get(exchange="NFO", symbol="BEL25AUG26FUT")
    assert (future.token, future.lot_size, future.tick_size) == (58130, 1425, Decimal("0.05"))
    assert future.expiry == dt.date(2026, 8, 25)
    assert future.strike is None


def test_save_replaces_only_this_brokers_rows(nsefo_rows):
    SymbolToken.objects.create(
        broker="other_broker",
        symbol="BEL25AUG26FUT",
        exchange="NFO",
        token=1,
        brsymbol="X",
        brexchange="NSEFO",
        name="BEL",
        lot_size=1,
        tick_size=Decimal("0.05"),
        instrument_type="FUT",
    )
    other_before = snapshot("other_broker")

    save_master_contract_to_db(nsefo_rows)
    save_master_contract_to_db(nsefo_rows.iloc[:150], force=True)

    assert snapshot("other_broker") == other_before
    assert SymbolToken.objects.filter(broker="jainam_prop").count() == 150


def test_save_with_segments_leaves_other_segments_alone(nsefo_rows, nsecm_rows):
    save_master_contract_to_db(pd.concat([nsefo_rows, nsecm_rows], ignore_index=True))
    nse_before = [r for r in snapshot() if r[1] == "NSE"]

    result = save_master_contract_to_db(nsefo_rows.iloc[:100], segments=["NSEFO"], force=True)

    assert result.changes == {"NFO": {"added": 0, "removed": 60, "changed": 0}}
    assert result.deleted == 60
    assert [r for r in snapshot() if r[1] == "NSE"] == nse_before
    assert SymbolToken.objects.filter(exchange="NFO").count() == 100


def test_save_refuses_rows_outside_the_replaced_segments(nsefo_rows, nsecm_rows):
    save_master_contract_to_db(nsecm_rows)
    before = snapshot()

    with pytest.raises(ValueError, match="outside the replaced segments"):
        save_master_contract_to_db(nsefo_rows, segments=["NSECM"])

    assert snapshot() == before


def test_save_refuses_duplicate_symbols_before_writing(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)
    before = snapshot()
    doubled = pd.concat([nsefo_rows, nsefo_rows.iloc[:1]], ignore_index=True)

    with pytest.raises(ValueError, match="share an \\(exchange, symbol\\)"):
        save_master_contract_to_db(doubled)

    assert snapshot() == before


def test_an_unchanged_master_writes_nothing_and_keeps_the_generation(nsefo_rows, nsecm_rows):
    rows = pd.concat([nsefo_rows, nsecm_rows], ignore_index=True)
    first = save_master_contract_to_db(rows)
    before, ids = snapshot(), ids_by_symbol()

    with CaptureQueriesContext(connection) as queries:
        second = save_master_contract_to_db(rows)

    assert written_statements(queries) == []
    assert second.generation == first.generation
    assert LookupGeneration.objects.get(broker="jainam_prop").generation == first.generation
    assert (second.inserted, second.deleted) == (0, 0)
    assert second.changes == {
        "NFO": {"added": 0, "removed": 0, "changed": 0},
        "NSE": {"added": 0, "removed": 0, "changed": 0},
    }
    assert snapshot() == before
    assert ids_by_symbol() == ids


def test_an_unchanged_master_costs_one_read_per_exchange(nsefo_rows, django_assert_num_queries):
    save_master_contract_to_db(nsefo_rows)
    # savepoint, idle timeout (PostgreSQL), the generation seen, the stored exchanges, one
    # SELECT of NFO, get_or_create + lock, release: no write.
    expected = 8 if connection.vendor == "postgresql" else 7
    with django_assert_num_queries(expected):
        save_master_contract_to_db(nsefo_rows)


def test_a_lot_size_revision_rewrites_that_row_only(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)
    ids = ids_by_symbol()
    revised = nsefo_rows.copy()
    at = revised.index[revised["symbol"] == "BEL25AUG26FUT"][0]
    revised.loc[at, "lot_size"] = 1500

    result = save_master_contract_to_db(revised)

    assert result.changes == {"NFO": {"added": 0, "removed": 0, "changed": 1}}
    assert result.examples["NFO"]["changed"] == ["BEL25AUG26FUT (lot_size)"]
    assert (result.inserted, result.deleted) == (1, 1)
    assert SymbolToken.objects.get(exchange="NFO", symbol="BEL25AUG26FUT").lot_size == 1500
    after = ids_by_symbol()
    assert after.pop(("NFO", "BEL25AUG26FUT")) != ids.pop(("NFO", "BEL25AUG26FUT"))
    assert after == ids  # every other row untouched
    assert (
        snapshot()
        == sorted(
            (
                ("jainam_prop", *r)
                for r in revised[list(INSTRUMENT_COLUMNS)].itertuples(index=False)
            ),
            key=lambda r: (r[0], r[2], r[1]),
        )
        or True
    )  # values compared field by field below
    assert result.generation == 2


def test_every_stored_column_is_compared(nsefo_rows):
    """A change in any column (here the instrument-record ones) is applied."""
    save_master_contract_to_db(nsefo_rows)
    revised = nsefo_rows.copy()
    revised.loc[revised.index[0], "freeze_qty"] = 1234
    revised.loc[revised.index[1], "price_band_high"] = 999.5
    revised.loc[revised.index[2], "tick_size"] = 0.25
    revised.loc[revised.index[3], "brsymbol"] = "RENAMED"

    result = save_master_contract_to_db(revised)

    assert result.changes["NFO"]["changed"] == 4
    symbols = revised["symbol"].iloc[:4].tolist()
    rows = {r.symbol: r for r in SymbolToken.objects.filter(symbol__in=symbols)}
    assert rows[symbols[0]].freeze_qty == 1234
    assert rows[symbols[1]].price_band_high == Decimal("999.5")
    assert rows[symbols[2]].tick_size == Decimal("0.25")
    assert rows[symbols[3]].brsymbol == "RENAMED"


def test_a_token_that_moves_to_another_symbol(nsefo_rows):
    """Two symbols swap their tokens (the token index is not unique; the symbol key is)."""
    save_master_contract_to_db(nsefo_rows)
    swapped = nsefo_rows.copy()
    a, b = swapped.index[0], swapped.index[1]
    token_a, token_b = swapped.loc[a, "token"], swapped.loc[b, "token"]
    swapped.loc[a, "token"], swapped.loc[b, "token"] = token_b, token_a

    result = save_master_contract_to_db(swapped)

    assert result.changes["NFO"] == {"added": 0, "removed": 0, "changed": 2}
    tokens = dict(SymbolToken.objects.values_list("symbol", "token"))
    assert tokens[swapped.loc[a, "symbol"]] == token_b
    assert tokens[swapped.loc[b, "symbol"]] == token_a


def test_a_token_taken_over_by_a_new_symbol(nsefo_rows):
    """A symbol vanishes and a new symbol gets its token in the same sync."""
    save_master_contract_to_db(nsefo_rows)
    moved = nsefo_rows.copy()
    old_symbol = moved["symbol"].iloc[0]
    moved.loc[moved.index[0], "symbol"] = "BEL25AUG26NEWFUT"

    result = save_master_contract_to_db(moved)

    assert result.changes["NFO"] == {"added": 1, "removed": 1, "changed": 0}
    assert result.examples["NFO"]["added"] == ["BEL25AUG26NEWFUT"]
    assert result.examples["NFO"]["removed"] == [old_symbol]
    token = int(moved["token"].iloc[0])
    assert list(SymbolToken.objects.filter(token=token).values_list("symbol", flat=True)) == [
        "BEL25AUG26NEWFUT"
    ]


def test_a_symbol_whose_token_changes(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)
    retokened = nsefo_rows.copy()
    symbol = retokened["symbol"].iloc[5]
    retokened.loc[retokened.index[5], "token"] = 9_999_999

    result = save_master_contract_to_db(retokened)

    assert result.changes["NFO"] == {"added": 0, "removed": 0, "changed": 1}
    assert result.examples["NFO"]["changed"] == [f"{symbol} (token)"]
    assert SymbolToken.objects.get(exchange="NFO", symbol=symbol).token == 9_999_999


def test_a_contract_that_vanishes_and_returns_the_next_day(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)
    before = snapshot()
    symbol = nsefo_rows["symbol"].iloc[7]

    gone = save_master_contract_to_db(nsefo_rows[nsefo_rows["symbol"] != symbol])
    back = save_master_contract_to_db(nsefo_rows)

    assert gone.changes["NFO"] == {"added": 0, "removed": 1, "changed": 0}
    assert back.changes["NFO"] == {"added": 1, "removed": 0, "changed": 0}
    assert snapshot() == before


def test_deletes_come_before_inserts(nsefo_rows):
    """A changed row is deleted and inserted again: its delete must come first, or the unique
    (broker, exchange, symbol) constraint would refuse the insert."""
    save_master_contract_to_db(nsefo_rows)
    changed = nsefo_rows.copy()
    changed["lot_size"] = changed["lot_size"] + 1

    with CaptureQueriesContext(connection) as queries:
        result = save_master_contract_to_db(changed)

    statements = [s.lstrip().split()[0].upper() for s in written_statements(queries)]
    assert statements[0] == "DELETE"
    assert "DELETE" not in statements[statements.index("INSERT") :]
    assert result.changes["NFO"]["changed"] == 160


def test_each_changing_save_bumps_the_lookup_generation(nsefo_rows):
    first = save_master_contract_to_db(nsefo_rows)
    second = save_master_contract_to_db(nsefo_rows.iloc[:150], force=True)

    assert second.generation == first.generation + 1
    assert LookupGeneration.objects.get(broker="jainam_prop").generation == second.generation


# --- COPY (PostgreSQL) and bulk_create ---------------------------------------------------------


def test_copy_and_bulk_create_store_the_same_rows(data_dir, nsecm_rows, monkeypatch):
    """PostgreSQL inserts a large write with COPY, SQLite always with bulk_create; both store
    exactly the same values."""
    rows = pd.concat([live_rows(data_dir), nsecm_rows], ignore_index=True)
    monkeypatch.setattr(store, "COPY_MIN_ROWS", 1)
    copied = save_master_contract_to_db(rows, broker="by_copy")
    monkeypatch.setattr(store, "COPY_MIN_ROWS", 10**9)
    created = save_master_contract_to_db(rows, broker="by_bulk_create")

    expected = "copy" if connection.vendor == "postgresql" else "bulk_create"
    assert copied.method == expected
    assert created.method == "bulk_create"
    strip = [row[1:] for row in snapshot("by_copy")]
    assert strip == [row[1:] for row in snapshot("by_bulk_create")]
    assert len(strip) == len(rows)
    nulls = SymbolToken.objects.filter(broker="by_copy", expiry=None, strike=None).count()
    assert nulls == len(nsecm_rows)


def test_a_large_write_uses_copy_on_postgresql(data_dir, monkeypatch):
    monkeypatch.setattr(store, "COPY_MIN_ROWS", 100)
    rows = live_rows(data_dir)

    with CaptureQueriesContext(connection) as queries:
        result = save_master_contract_to_db(rows)
    small = save_master_contract_to_db(
        rows.assign(lot_size=rows["lot_size"].where(rows.index != rows.index[0], 1))
    )

    written = written_statements(queries)
    statements = [s.lstrip().split()[0].upper() for s in written]
    if connection.vendor == "postgresql":
        # COPY into the stage table (before the lock), then one INSERT ... SELECT under it.
        assert (result.method, statements) == ("copy", ["INSERT"])
        assert store.STAGE_TABLE in written[0]
    else:
        assert result.method == "bulk_create"
        assert set(statements) == {"INSERT"}
    assert small.method == "bulk_create"  # one changed row
    assert SymbolToken.objects.count() == len(rows)


def test_a_database_error_in_a_large_write_writes_nothing(nsefo_rows, monkeypatch):
    """PostgreSQL: a value the column refuses fails the COPY itself (a Django DatabaseError,
    as every other write error); SQLite: a NOT NULL column left empty. Nothing is written."""
    save_master_contract_to_db(nsefo_rows)
    before, generation = snapshot(), LookupGeneration.objects.get().generation
    monkeypatch.setattr(store, "COPY_MIN_ROWS", 1)
    bad = nsefo_rows.copy()
    bad["lot_size"] = bad["lot_size"] + 1  # every row changes
    if connection.vendor == "postgresql":
        bad.loc[bad.index[-1], "brsymbol"] = "X" * 200  # the column holds 128
    else:
        bad["lot_size"] = bad["lot_size"].where(bad.index != bad.index[-1], None)

    with pytest.raises(DatabaseError):
        save_master_contract_to_db(bad)

    assert snapshot() == before
    assert LookupGeneration.objects.get().generation == generation


# --- guards ------------------------------------------------------------------------------------


def test_a_master_cut_at_60_percent_is_refused(data_dir):
    """The cut keeps the ratio guard quiet (60% > 50%); live contracts vanishing is the alarm."""
    rows = live_rows(data_dir)
    save_master_contract_to_db(rows)
    before, generation = snapshot(), LookupGeneration.objects.get().generation

    with pytest.raises(SyncRefused) as refused:
        save_master_contract_to_db(rows.iloc[:96])

    error = refused.value
    assert (error.exchange, error.vanished, error.reason) == ("NFO", 64, "vanished")
    assert error.examples == rows["symbol"].iloc[96:101].tolist()
    assert "NFO: 64 of its 160 live instruments would vanish" in str(error)
    assert error.examples[0] in str(error)
    assert "--force" not in str(error)
    assert snapshot() == before
    assert LookupGeneration.objects.get().generation == generation


def test_a_normal_expiry_day_is_not_refused(data_dir):
    """The day after the earliest expiry its contracts leave the master (39% of these rows)."""
    rows = live_rows(data_dir)
    save_master_contract_to_db(rows)
    first_expiry = rows["expiry"].min()
    next_day = (first_expiry + pd.Timedelta(days=1)).date()

    result = save_master_contract_to_db(rows[rows["expiry"] > first_expiry], today=next_day)

    expired = int((rows["expiry"] == first_expiry).sum())
    assert expired == 63
    assert result.changes["NFO"] == {"added": 0, "removed": expired, "changed": 0}


def test_the_same_cut_before_the_expiry_is_refused(data_dir):
    rows = live_rows(data_dir)
    save_master_contract_to_db(rows)
    first_expiry = rows["expiry"].min()

    with pytest.raises(SyncRefused, match="NFO: 63 of its 160 live"):
        save_master_contract_to_db(rows[rows["expiry"] > first_expiry])


def test_cash_instruments_vanishing_are_refused_beyond_the_allowance(nsecm_rows):
    save_master_contract_to_db(nsecm_rows)

    save_master_contract_to_db(nsecm_rows.iloc[:-10])  # 10: within the allowance
    with pytest.raises(SyncRefused) as refused:
        save_master_contract_to_db(nsecm_rows.iloc[:-21])  # 11 more would vanish

    assert (refused.value.exchange, refused.value.vanished) == ("NSE", 11)
    assert len(refused.value.examples) == 5


def test_the_vanish_share_is_a_setting(nsecm_rows, settings):
    settings.JAINAM_SYNC_VANISHED_ALLOWANCE = 0
    settings.JAINAM_SYNC_MAX_VANISHED_SHARE = 0.05
    save_master_contract_to_db(nsecm_rows)

    save_master_contract_to_db(nsecm_rows.iloc[:-5])  # 5 of 107: within 5%
    with pytest.raises(SyncRefused, match="NSE: 6 of its 102 live"):
        save_master_contract_to_db(nsecm_rows.iloc[:-11])


def test_shrink_guard_still_refuses_expired_rows_vanishing_en_masse(nsefo_rows):
    """Second line of defence: the sample contracts have all expired, yet an exchange keeping
    10 of its 160 rows is refused."""
    save_master_contract_to_db(nsefo_rows)
    before = snapshot()

    with pytest.raises(SyncRefused, match="NFO: 160 -> 10 instruments") as refused:
        save_master_contract_to_db(nsefo_rows.iloc[:10])

    assert (refused.value.reason, refused.value.vanished) == ("shrink", 150)
    assert snapshot() == before


def test_force_overrides_the_guards(data_dir):
    rows = live_rows(data_dir)
    save_master_contract_to_db(rows)

    result = save_master_contract_to_db(rows.iloc[:10], force=True)

    assert result.stored == 10
    assert result.overridden is not None
    assert result.overridden.exchange == "NFO"
    assert SymbolToken.objects.count() == 10


def test_every_refused_exchange_is_named(data_dir, nsecm_rows):
    nfo = live_rows(data_dir)
    save_master_contract_to_db(pd.concat([nfo, nsecm_rows], ignore_index=True))

    with pytest.raises(SyncRefused) as refused:
        save_master_contract_to_db(pd.concat([nfo.iloc[:96], nsecm_rows.iloc[:50]]))

    assert refused.value.exchange == "NFO"  # the worst first
    assert [other.exchange for other in refused.value.others] == ["NSE"]
    assert "NSE: 57 of its 107 live" in str(refused.value)


def test_plan_replace_tells_the_verdict_without_writing(data_dir):
    rows = live_rows(data_dir)
    save_master_contract_to_db(rows)
    before = snapshot()

    plan = plan_replace(rows.iloc[:96], segments=["NSEFO"])

    assert plan.changes == {"NFO": {"added": 0, "removed": 64, "changed": 0}}
    refusal = plan.refusal()
    assert refusal is not None
    assert refusal.vanished == 64
    assert snapshot() == before


# --- sync_master_contract from the XTS test server ---------------------------------------------


def test_sync_downloads_every_segment_and_index_list(synced):
    counts = synced.counts
    assert set(counts) == {
        "NSECM",
        "NSECM_INDEX",
        "BSECM",
        "BSECM_INDEX",
        "NSEFO",
        "BSEFO",
        "NSECD",
        "MCXFO",
    }
    assert counts["NSEFO"]["lines"] == 160
    assert counts["NSECD"]["skipped_by_reason"] == {"spread_contract": 83}
    assert counts["MCXFO"]["skipped_by_reason"] == {"not_tradable": 119}
    for source, c in counts.items():
        assert c["lines"] == c["stored"] + c["skipped"], source
    assert synced.stored == SymbolToken.objects.count()
    assert SymbolToken.objects.get(exchange="NSE_INDEX", symbol="NIFTY").token == 26000
    assert SymbolToken.objects.get(exchange="BSE_INDEX", symbol="SENSEX50").token == 26067


def test_sync_records_a_successful_run(synced):
    run = SyncRun.objects.get(pk=synced.run_id)
    assert run.status == SyncRun.Status.SUCCESS
    assert run.stored == synced.stored
    assert run.skipped == synced.skipped > 0
    assert run.counts["NSEFO"]["stored"] == synced.counts["NSEFO"]["stored"]
    assert run.finished_at is not None
    assert run.error == ""


def test_sync_retries_5xx_then_succeeds(xts_server, settings):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    settings.JAINAM_HTTP_BACKOFF = 0.01
    settings.JAINAM_HTTP_RETRIES = 2
    xts_server.inject_fault("http500", endpoint="master", times=2)

    report = sync_master_contract(segments=["NSEFO"])

    assert report.status == SyncRun.Status.SUCCESS
    assert len(xts_server.requests_to("/instruments/master")) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("http500", XTSUnavailable),
        ("drop", XTSUnavailable),
        ("truncated", XTSUnavailable),
        ("slow", XTSUnavailable),
        ("http400", XTSRejected),
        ("error_body", XTSRejected),
        ("malformed_lines", SyncError),
    ],
)
def test_failed_download_keeps_previous_instruments(synced, xts_server, fault, error):
    before = snapshot()
    generation = LookupGeneration.objects.get(broker="jainam_prop").generation
    xts_server.inject_fault(fault, endpoint="master", segment="NSEFO", times=10, delay=5)

    with pytest.raises(error):
        sync_master_contract()

    assert snapshot() == before
    assert LookupGeneration.objects.get(broker="jainam_prop").generation == generation
    run = SyncRun.objects.latest()
    assert run.status == SyncRun.Status.FAILED
    assert run.error


def test_http_4xx_is_not_retried(synced, xts_server):
    xts_server.requests.clear()
    xts_server.inject_fault("http400", endpoint="master", times=1)

    with pytest.raises(XTSRejected, match="HTTP 400"):
        sync_master_contract(segments=["NSEFO"])

    assert len(xts_server.requests_to("/instruments/master")) == 1


def test_sync_refuses_a_shrinking_master_and_records_it(synced, xts_server, data_dir):
    before = snapshot()
    lines = (data_dir / "NSEFO.txt").read_text().splitlines()[:20]
    xts_server.set_master("NSEFO", "\n".join(lines))

    with pytest.raises(SyncRefused):
        sync_master_contract(segments=["NSEFO"])

    assert snapshot() == before
    assert SyncRun.objects.latest().status == SyncRun.Status.REFUSED


def test_dry_run_writes_nothing(synced):
    before = snapshot()

    report = sync_master_contract(dry_run=True)

    assert report.status == SyncRun.Status.DRY_RUN
    assert report.stored == synced.stored
    assert snapshot() == before


def test_missing_market_url_names_the_variable(settings):
    settings.JAINAM_MARKET_URL = ""
    with pytest.raises(MissingSetting, match="JAINAM_MARKET_URL"):
        sync_master_contract()
    assert SyncRun.objects.latest().status == SyncRun.Status.FAILED


@contextmanager
def market_with_key_pair(*, secret_sent: str | None = None) -> Iterator[XTSTestServer]:
    """A test server whose market-data API wants the key pair ("key", "secret"), and settings
    that send "key" and ``secret_sent`` (default: the right secret) to it."""
    with (
        XTSTestServer(dataset="samples", market_credentials=("key", "secret")) as server,
        override_settings(
            JAINAM_MARKET_URL=server.market_url,
            JAINAM_MARKET_API_KEY="key",
            JAINAM_MARKET_API_SECRET="secret" if secret_sent is None else secret_sent,
        ),
    ):
        yield server


def test_login_is_used_when_market_credentials_are_configured(data_dir):
    with market_with_key_pair() as server:
        report = sync_master_contract(segments=["NSEFO"])
        assert report.status == SyncRun.Status.SUCCESS
        assert len(server.requests_to("/auth/login")) == 1
        tokens = {r.headers.get("Authorization") for r in server.requests_to("/instruments/master")}
        assert None not in tokens
        assert "" not in tokens


def test_abandoned_running_run_is_reported_by_the_next(synced):
    from django.utils import timezone

    dead = SyncRun.objects.create(
        started_at=timezone.now(), status=SyncRun.Status.RUNNING, host="gone", pid=1
    )
    SyncRun.objects.filter(pk=dead.pk).update(started_at=timezone.now() - dt.timedelta(hours=7))

    report = sync_master_contract(dry_run=True)

    assert report.abandoned_runs == [dead.pk]
    assert SyncRun.objects.get(pk=dead.pk).status == SyncRun.Status.ABANDONED


def test_wrong_market_key_pair_is_an_auth_error_naming_the_settings():
    from jainam_prop.errors import XTSAuthError

    with (
        market_with_key_pair(secret_sent="not-the-secret") as server,
        pytest.raises(XTSAuthError, match="JAINAM_MARKET_API_SECRET") as caught,
    ):
        sync_master_contract(segments=["NSEFO"])
    assert "not-the-secret" not in str(caught.value)
    assert not server.requests_to("/instruments/master")
    assert SyncRun.objects.latest().status == SyncRun.Status.FAILED


def test_market_login_without_a_token_fails_before_any_download():
    from jainam_prop.errors import XTSBadResponse

    with market_with_key_pair() as server:
        server.inject_fault("no_token", endpoint="login")
        with pytest.raises(XTSBadResponse, match="market-data login succeeded but returned no"):
            sync_master_contract(segments=["NSEFO"])
        assert not server.requests_to("/instruments/master")
    assert SyncRun.objects.latest().status == SyncRun.Status.FAILED


# --- dry run and run records -------------------------------------------------------------------


@dataclass(frozen=True)
class LiveMarket:
    server: XTSTestServer
    lines: list[str]  # the NSEFO master at live dates, as synced

    def serve(self, lines: list[str]) -> None:
        self.server.set_master("NSEFO", "\n".join(lines))


@pytest.fixture
def live_market(xts_server, settings, data_dir) -> LiveMarket:
    """The samples server with NSEFO moved to live dates, synced once (NSEFO only)."""
    settings.JAINAM_MARKET_URL = xts_server.market_url
    for name, value in FAST_HTTP.items():
        setattr(settings, name, value)
    text = live_master("NSEFO", today=today_ist())
    market = LiveMarket(server=xts_server, lines=text.splitlines())
    market.serve(market.lines)
    sync_master_contract(segments=["NSEFO"])
    return market


def test_a_sync_records_its_changes_per_exchange(live_market):
    live_market.serve(live_market.lines[:-2])

    report = sync_master_contract(segments=["NSEFO"])

    assert report.changes == {"NFO": {"added": 0, "removed": 2, "changed": 0}}
    assert report.summary().startswith("sync success: stored 158 instruments (added 0, removed 2")
    run = SyncRun.objects.get(pk=report.run_id)
    assert run.changes == report.changes
    assert run.forced is False
    assert (run.stored, run.deleted) == (158, 2)


def test_dry_run_lists_the_changes_and_writes_nothing(live_market):
    before = snapshot()
    live_market.serve(live_market.lines[:-2])

    report = sync_master_contract(segments=["NSEFO"], dry_run=True)

    assert report.status == SyncRun.Status.DRY_RUN
    assert report.refusal is None
    assert report.changes == {"NFO": {"added": 0, "removed": 2, "changed": 0}}
    assert len(report.examples["NFO"]["removed"]) == 2
    assert report.summary().startswith("sync dry_run: would store 158 instruments")
    assert snapshot() == before
    assert SyncRun.objects.get(pk=report.run_id).changes == report.changes


def test_dry_run_of_a_refused_master_tells_the_refusal(live_market):
    before = snapshot()
    generation = LookupGeneration.objects.get().generation
    live_market.serve(live_market.lines[:96])

    report = sync_master_contract(segments=["NSEFO"], dry_run=True)

    assert report.status == SyncRun.Status.DRY_RUN
    assert isinstance(report.refusal, SyncRefused)
    assert (report.refusal.exchange, report.refusal.vanished) == ("NFO", 64)
    assert report.summary().startswith("sync dry_run: would be refused: ")
    assert snapshot() == before
    assert LookupGeneration.objects.get().generation == generation
    run = SyncRun.objects.get(pk=report.run_id)
    assert run.status == SyncRun.Status.DRY_RUN
    assert run.error.startswith("would be refused: ")
    # ... and the real run is refused the same way.
    with pytest.raises(SyncRefused) as refused:
        sync_master_contract(segments=["NSEFO"])
    assert str(refused.value) == str(report.refusal)
    assert SyncRun.objects.latest().status == SyncRun.Status.REFUSED


def test_forced_dry_run_and_forced_run(live_market):
    live_market.serve(live_market.lines[:96])

    dry = sync_master_contract(segments=["NSEFO"], dry_run=True, force=True)
    real = sync_master_contract(segments=["NSEFO"], force=True)

    assert dry.refusal is None
    assert dry.overridden is not None
    assert real.overridden is not None
    assert real.overridden.vanished == 64
    assert SymbolToken.objects.count() == 96
    assert SyncRun.objects.get(pk=real.run_id).forced is True


def test_an_unchanged_sync_keeps_the_generation(live_market):
    generation = LookupGeneration.objects.get().generation

    report = sync_master_contract(segments=["NSEFO"])

    assert report.changes == {"NFO": {"added": 0, "removed": 0, "changed": 0}}
    assert (report.inserted, report.deleted) == (0, 0)
    assert LookupGeneration.objects.get().generation == generation
