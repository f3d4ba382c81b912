"""save_master_contract_to_db and sync_master_contract: atomic replace, guards, run records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pandas as pd
import pytest
from django.test import override_settings

from jainam_prop.errors import MissingSetting, SyncError, SyncRefused, XTSRejected, XTSUnavailable
from jainam_prop.master_parser import INSTRUMENT_COLUMNS, parse_master
from jainam_prop.models import LookupGeneration, SymbolToken, SyncRun
from jainam_prop.services import save_master_contract_to_db
from jainam_prop.services.sync import sync_master_contract
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


# --- save_master_contract_to_db ----------------------------------------------------------------


def test_save_stores_every_row_with_its_values(nsefo_rows):
    result = save_master_contract_to_db(nsefo_rows)

    assert result.stored == len(nsefo_rows) == SymbolToken.objects.count()
    assert result.deleted == 0
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
    save_master_contract_to_db(nsefo_rows)

    assert snapshot("other_broker") == other_before
    assert SymbolToken.objects.filter(broker="jainam_prop").count() == len(nsefo_rows)


def test_save_with_segments_leaves_other_segments_alone(nsefo_rows, nsecm_rows):
    save_master_contract_to_db(pd.concat([nsefo_rows, nsecm_rows], ignore_index=True))
    nse_before = snapshot()
    nse_before = [r for r in nse_before if r[1] == "NSE"]

    result = save_master_contract_to_db(nsefo_rows.iloc[:100], segments=["NSEFO"], force=True)

    assert result.deleted == len(nsefo_rows)
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


def test_shrink_guard_refuses_and_keeps_rows(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)
    before = snapshot()

    with pytest.raises(SyncRefused, match="NFO: 160 -> 10"):
        save_master_contract_to_db(nsefo_rows.iloc[:10])

    assert snapshot() == before


def test_shrink_guard_yields_to_force(nsefo_rows):
    save_master_contract_to_db(nsefo_rows)

    result = save_master_contract_to_db(nsefo_rows.iloc[:10], force=True)

    assert result.stored == 10
    assert SymbolToken.objects.count() == 10


def test_shrink_guard_checks_each_segment_not_just_the_total(nsefo_rows, nsecm_rows):
    save_master_contract_to_db(pd.concat([nsefo_rows, nsecm_rows], ignore_index=True))
    # NSE emptied while NFO stays: the total keeps 60%, but NSE would vanish.
    with pytest.raises(SyncRefused, match="NSE: 107 -> 0"):
        save_master_contract_to_db(nsefo_rows)


def test_each_save_bumps_the_lookup_generation(nsefo_rows):
    first = save_master_contract_to_db(nsefo_rows)
    second = save_master_contract_to_db(nsefo_rows)

    assert second.generation == first.generation + 1
    assert LookupGeneration.objects.get(broker="jainam_prop").generation == second.generation


def test_save_runs_a_bounded_number_of_queries(nsefo_rows, django_assert_max_num_queries):
    save_master_contract_to_db(nsefo_rows)
    # lock (get_or_create + select), count, delete, one insert per 2000/1000 rows, bump,
    # savepoints: independent of the row count for this size (SQLite's 999 parameters take 52
    # rows of 19 columns per insert: 4 inserts for the 160 rows).
    with django_assert_max_num_queries(13):
        save_master_contract_to_db(nsefo_rows)


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
