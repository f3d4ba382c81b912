"""Token lookups: answers, errors, query counts, coherence after syncs, and cache outages.

Runs on both backends: the embedded default (SQLite + LocMemCache) and PostgreSQL + Redis.
Outage tests point the cache at a closed port or at a private redis-server they stop and start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from jainam_prop.errors import SymbolNotFound, TokenNotFound
from jainam_prop.master_parser import EXCHANGES
from jainam_prop.models import LookupGeneration, SymbolToken
from jainam_prop.services import (
    Instrument,
    TokenBatch,
    current_generation,
    get_instrument,
    get_instrument_by_token,
    get_symbol_from_token,
    get_token_from_symbol,
    get_tokens,
    lookups,
    publish_generation,
    search_instruments,
)
from jainam_prop.services.lookups import (
    clear_process_memory,
    flush_cache_writes,
    process_memory_stats,
)
from tests.fixtures_lookups import (
    SAMPLE_ROWS,
    PrivateRedis,
    child_database_url,
    free_port,
    option_chain,
    redis_cache_settings,
    simulate_sync,
)

pytestmark = pytest.mark.django_db

LOGGER = "jainam_prop.services.lookups"
BROKER = "jainam_prop"


def shared_cache() -> bool:
    """Whether this run's cache is shared between processes (Redis) or per process."""
    return not isinstance(caches["default"], LocMemCache)


def with_token(symbol: str, token: int) -> list[dict]:
    return [{**row, "token": token} if row["symbol"] == symbol else row for row in SAMPLE_ROWS]


@pytest.fixture
def synced(make_instruments):
    return make_instruments()


@pytest.fixture
def sync_instruments(django_capture_on_commit_callbacks):
    """A sync as the contract does it, with its on-commit callbacks run (tests are in a
    transaction that never commits)."""

    def sync(rows, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return simulate_sync(rows, **kwargs)

    return sync


# --- answers ----------------------------------------------------------------------------------


def test_token_of_an_option(synced):
    assert get_token_from_symbol("NIFTY27OCT2621300CE", "NFO") == 51278


@pytest.mark.parametrize(
    ("symbol", "exchange", "token"),
    [
        ("SAH", "NSE", 13690),
        ("TTKPRESTIG", "BSE", 517506),
        ("NIFTY25AUG26FUT", "NFO", 58072),
        ("SENSEX12JUL2478100PE", "BFO", 1125434),
        ("NIFTY", "NSE_INDEX", 26000),
    ],
)
def test_token_on_each_kind_of_exchange(synced, symbol, exchange, token):
    assert get_token_from_symbol(symbol, exchange) == token


def test_symbol_and_exchange_are_trimmed_and_upper_cased(synced):
    assert get_token_from_symbol("  nifty27oct2621300ce\t", " nfo ") == 51278
    assert get_instrument("sah", "Nse").symbol == "SAH"


def test_instrument_is_the_whole_immutable_record(synced):
    instrument = get_instrument("NIFTY27OCT2621300CE", "NFO")
    assert instrument == Instrument(
        symbol="NIFTY27OCT2621300CE",
        exchange="NFO",
        token=51278,
        brsymbol="NIFTY26OCT21300CE",
        brexchange="NSEFO",
        name="NIFTY",
        expiry=dt.date(2026, 10, 27),
        strike=Decimal("21300"),
        lot_size=65,
        tick_size=Decimal("0.05"),
        instrument_type="CE",
        broker=BROKER,
    )
    assert str(instrument.strike) == "21300"
    assert str(instrument.tick_size) == "0.05"
    with pytest.raises(dataclasses.FrozenInstanceError):
        instrument.token = 1  # type: ignore[misc]


def test_instrument_to_dict_is_json(synced):
    data = get_instrument("NIFTY27OCT2621300CE", "NFO").to_dict()
    assert json.loads(json.dumps(data)) == {
        "symbol": "NIFTY27OCT2621300CE",
        "exchange": "NFO",
        "token": 51278,
        "brsymbol": "NIFTY26OCT21300CE",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": "2026-10-27",
        "strike": 21300.0,
        "lot_size": 65,
        "tick_size": 0.05,
        "instrument_type": "CE",
        "broker": BROKER,
    }
    equity = get_instrument("SAH", "NSE").to_dict()
    assert equity["expiry"] is None
    assert equity["strike"] is None


def test_same_answer_from_every_tier(synced, lookup_clock):
    from_database = get_instrument("SENSEX12JUL2478100PE", "BFO")
    from_memory = get_instrument("SENSEX12JUL2478100PE", "BFO")
    flush_cache_writes()
    clear_process_memory(keep_generation=True)
    from_cache = get_instrument("SENSEX12JUL2478100PE", "BFO")
    assert from_database == from_memory == from_cache
    assert from_cache.strike == Decimal("78100")
    assert from_cache.expiry == dt.date(2024, 7, 12)


def test_rows_of_another_broker_are_not_visible(make_instruments):
    make_instruments(broker="other_xts")
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("SAH", "NSE")
    assert get_token_from_symbol("SAH", "NSE", broker="other_xts") == 13690


# --- errors -----------------------------------------------------------------------------------


def test_not_found_names_symbol_exchange_broker_and_nearest_strikes(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("nifty27oct2621350ce", "NFO")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.symbol, error.exchange, error.broker) == ("NIFTY27OCT2621350CE", "NFO", BROKER)
    # Same underlying, expiry and option type first, by distance to 21350 (then by symbol).
    assert error.suggestions == (
        "NIFTY27OCT2621300CE",
        "NIFTY27OCT2621400CE",
        "NIFTY27OCT2621200CE",
    )
    message = str(error)
    for part in ("NIFTY27OCT2621350CE", "NFO", BROKER, "Did you mean", "NIFTY27OCT2621300CE"):
        assert part in message


def test_not_found_future_suggests_the_nearest_expiry(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("NIFTY29SEP26FUT", "NFO")
    assert caught.value.suggestions[0] == "NIFTY25AUG26FUT"


def test_not_found_suggests_the_same_symbol_on_another_exchange(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("SAH", "BSE")
    assert caught.value.suggestions == ("SAH on NSE",)


def test_not_found_suggests_close_spellings(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("TNTELLE", "NSE")
    assert caught.value.suggestions == ("TNTELE",)


def test_not_found_without_close_matches_says_what_to_check(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("QQQQQQ", "NSE")
    assert caught.value.suggestions == ()
    assert "sync_master_contract" in str(caught.value)


def test_unknown_exchange_lists_the_valid_ones(synced):
    for call in (
        lambda: get_token_from_symbol("SAH", "NSX"),
        lambda: get_symbol_from_token(13690, "NSECM"),
        lambda: get_tokens([("SAH", "NSE"), ("SAH", "XX")]),
        lambda: search_instruments("SA", exchange="CM"),
    ):
        with pytest.raises(ValueError, match="Unknown exchange") as caught:
            call()
        assert not isinstance(caught.value, SymbolNotFound)
        for exchange in EXCHANGES:
            assert exchange in str(caught.value)


@pytest.mark.parametrize("symbol", ["SAH\x00", "S\x07AH", "SAH\ud800"])
def test_control_characters_are_rejected_before_any_query(
    synced, symbol, django_assert_num_queries
):
    """PostgreSQL cannot even compare text with NUL: such input is a clear ValueError."""
    with django_assert_num_queries(0), pytest.raises(ValueError, match="non-printable"):
        get_token_from_symbol(symbol, "NSE")
    with pytest.raises(ValueError, match="non-printable"):
        get_tokens([("SAH", "NSE"), (symbol, "NSE")])


@pytest.mark.parametrize("symbol", ["", "   ", None, 42])
def test_empty_or_non_text_symbol_is_rejected(synced, symbol):
    with pytest.raises(ValueError, match="symbol"):
        get_token_from_symbol(symbol, "NSE")


def test_odd_symbols_are_answered_without_cache_key_warnings(synced):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        for odd in ("NIFTY 50", "É" * 10, "X" * 300):
            with pytest.raises(SymbolNotFound):
                get_token_from_symbol(odd, "NSE_INDEX")
            with pytest.raises(SymbolNotFound):  # the cached not-found answer
                get_token_from_symbol(odd, "NSE_INDEX")


# --- reverse ----------------------------------------------------------------------------------


def test_reverse_lookup(synced):
    assert get_symbol_from_token(51278, "NFO") == "NIFTY27OCT2621300CE"
    assert get_symbol_from_token("26000", " nse_index ") == "NIFTY"
    assert get_instrument_by_token(517506, "BSE").brsymbol == "TTKPRESTIG-A"


def test_reverse_lookup_is_per_exchange(synced):
    with pytest.raises(TokenNotFound) as caught:
        get_symbol_from_token(51278, "BFO")
    assert isinstance(caught.value, ValueError)
    for part in ("51278", "BFO", BROKER):
        assert part in str(caught.value)


@pytest.mark.parametrize("token", [0, -5, True, 1.5, "12a", None])
def test_reverse_lookup_rejects_a_bad_token(synced, token):
    with pytest.raises(ValueError, match="positive integer"):
        get_symbol_from_token(token, "NSE")


# --- batch ------------------------------------------------------------------------------------


def test_batch_reports_missing_pairs(synced, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    batch = get_tokens(
        [
            ("NIFTY27OCT2621300CE", "NFO"),
            ("sah", "nse"),
            ("NOPE", "NSE"),
            ("SAH", "NSE"),  # a duplicate, answered once
            ("SAH", "BSE"),
            ("NIFTY", "NSE_INDEX"),
        ]
    )
    assert isinstance(batch, TokenBatch)
    assert batch == {
        ("NIFTY27OCT2621300CE", "NFO"): 51278,
        ("SAH", "NSE"): 13690,
        ("NIFTY", "NSE_INDEX"): 26000,
    }
    assert batch.missing == [("NOPE", "NSE"), ("SAH", "BSE")]
    warning = [r for r in caplog.records if r.levelno == logging.WARNING][-1].getMessage()
    assert "NSE:NOPE" in warning
    assert "BSE:SAH" in warning


def test_batch_answers_match_single_lookups_from_every_tier(synced, lookup_clock):
    pairs = [(row["symbol"], row["exchange"]) for row in SAMPLE_ROWS] + [("NOPE", "NFO")]
    cold = get_tokens(pairs)
    warm = get_tokens(pairs)
    flush_cache_writes()
    clear_process_memory(keep_generation=True)
    cached = get_tokens(pairs)
    assert cold == warm == cached
    assert cold.missing == warm.missing == cached.missing == [("NOPE", "NFO")]
    for (symbol, exchange), token in cold.items():
        assert get_token_from_symbol(symbol, exchange) == token


def test_batch_rejects_a_malformed_pair(synced):
    with pytest.raises(ValueError, match="pairs"):
        get_tokens(["SAH"])


def test_empty_batch(synced):
    batch = get_tokens([])
    assert batch == {}
    assert batch.missing == []


# --- query counts -----------------------------------------------------------------------------


def test_cached_lookups_run_no_sql(synced, lookup_clock, django_assert_num_queries):
    get_token_from_symbol("NIFTY27OCT2621300CE", "NFO")
    get_symbol_from_token(13690, "NSE")
    with django_assert_num_queries(0):
        for _ in range(100):
            assert get_token_from_symbol("NIFTY27OCT2621300CE", "NFO") == 51278
            assert get_instrument(" nifty27oct2621300ce", "nfo").token == 51278
            assert get_symbol_from_token(13690, "NSE") == "SAH"
            # a forward lookup also taught memory the reverse answer, and vice versa
            assert get_symbol_from_token(51278, "NFO") == "NIFTY27OCT2621300CE"
            assert get_token_from_symbol("SAH", "NSE") == 13690


def test_shared_cache_hit_runs_no_sql(synced, lookup_clock, django_assert_num_queries):
    get_token_from_symbol("SAH", "NSE")
    get_symbol_from_token(517506, "BSE")
    flush_cache_writes()  # cache fills are written in the background when the cache is shared
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_token_from_symbol("SAH", "NSE") == 13690
        assert get_symbol_from_token(517506, "BSE") == "TTKPRESTIG"


def test_cold_lookup_runs_one_select(synced, lookup_clock, django_assert_num_queries):
    current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        assert get_token_from_symbol("SAH", "NSE") == 13690
    with django_assert_num_queries(1):
        assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"


def test_not_found_is_cached_for_the_generation(synced, lookup_clock, django_assert_num_queries):
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("NIFTY27OCT2621350CE", "NFO")
    with django_assert_num_queries(0), pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("NIFTY27OCT2621350CE", "NFO")
    assert caught.value.suggestions[0] == "NIFTY27OCT2621300CE"
    flush_cache_writes()
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0), pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("NIFTY27OCT2621350CE", "NFO")
    assert caught.value.suggestions[0] == "NIFTY27OCT2621300CE"


def test_batch_of_100_runs_at_most_one_query(
    make_instruments, lookup_clock, django_assert_num_queries
):
    make_instruments(option_chain(100))
    pairs = [(row["symbol"], "NFO") for row in option_chain(100)]
    current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        cold = get_tokens(pairs)
    assert len(cold) == 100
    assert cold.missing == []
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == cold
    flush_cache_writes()
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == cold
    # Misses in the cache, found or not, still cost one query together.
    clear_process_memory(keep_generation=True)
    caches["default"].clear()
    with django_assert_num_queries(1):
        mixed = get_tokens([*pairs[:50], ("NIFTY27OCT2699999CE", "NFO"), ("SAH", "NSE")])
    assert len(mixed) == 50
    assert mixed.missing == [("NIFTY27OCT2699999CE", "NFO"), ("SAH", "NSE")]


def test_generation_is_rechecked_once_per_interval(
    synced, lookup_clock, settings, django_assert_num_queries
):
    # Keep the generation key alive in Redis for the whole test (its real TTL is 0.5 s).
    settings.JAINAM_LOOKUP_GENERATION_TTL = 60
    get_token_from_symbol("SAH", "NSE")
    lookup_clock.advance(0.49)
    with django_assert_num_queries(0):
        get_token_from_symbol("SAH", "NSE")
    lookup_clock.advance(0.02)
    # Per-process cache: the generation comes from its database row. Redis: from the cache.
    with django_assert_num_queries(0 if shared_cache() else 1):
        for _ in range(10):
            get_token_from_symbol("SAH", "NSE")


# --- coherence --------------------------------------------------------------------------------


def test_sync_in_this_process_is_seen_at_once(synced, lookup_clock, sync_instruments):
    assert get_token_from_symbol("SAH", "NSE") == 13690
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("NEWLISTING", "NSE")
    new_rows = [*with_token("SAH", 13691), {**SAMPLE_ROWS[7], "symbol": "NEWLISTING", "token": 1}]
    generation = sync_instruments(new_rows)
    assert current_generation(broker=BROKER) == generation
    assert get_token_from_symbol("SAH", "NSE") == 13691
    assert get_token_from_symbol("NEWLISTING", "NSE") == 1


def test_sync_of_another_process_is_seen_within_the_interval(synced, lookup_clock):
    # Another process committed a sync and its publish never reached the cache (or the cache
    # is per process): the generation row in the database is the truth.
    assert get_token_from_symbol("SAH", "NSE") == 13690
    LookupGeneration.objects.filter(broker=BROKER).update(generation=2)
    SymbolToken.objects.filter(symbol="SAH").update(token=13692)
    caches["default"].delete(lookups._generation_key(BROKER))  # expired, never republished
    lookup_clock.advance(0.5)
    assert get_token_from_symbol("SAH", "NSE") == 13692
    assert current_generation(broker=BROKER) == 2


def test_publish_generation_reaches_the_other_processes_cache(
    synced, lookup_clock, settings, django_assert_num_queries
):
    settings.JAINAM_LOOKUP_GENERATION_TTL = 60
    publish_generation(broker=BROKER, generation=7)
    assert current_generation(broker=BROKER) == 7
    clear_process_memory()  # as a fresh process
    # Redis: the published generation is read from the cache. Per process: from the database.
    with django_assert_num_queries(0 if shared_cache() else 1):
        generation = current_generation(broker=BROKER)
    assert generation == (7 if shared_cache() else 1)


def test_memory_is_bounded(make_instruments, lookup_clock, settings):
    settings.JAINAM_LOOKUP_MEMORY_MAX = 20
    make_instruments(option_chain(60))
    for row in option_chain(60):
        assert get_token_from_symbol(row["symbol"], "NFO") == row["token"]
    stats = process_memory_stats(broker=BROKER)
    assert 0 < stats["symbols"] <= 20
    assert 0 < stats["tokens"] <= 20
    # Evicted answers come back from the cache or the database, still right.
    for row in option_chain(60):
        assert get_token_from_symbol(row["symbol"], "NFO") == row["token"]


@pytest.mark.django_db(transaction=True)
def test_threads_never_see_a_wrong_or_missing_token_while_syncs_commit(make_instruments):
    make_instruments()
    tokens = (13690, 13695)
    answers: list[object] = []
    stop = threading.Event()

    def look_up() -> None:
        try:
            while not stop.is_set():
                answers.append(get_token_from_symbol("SAH", "NSE"))
                answers.append(get_tokens([("SAH", "NSE"), ("TNTELE", "NSE")])[("SAH", "NSE")])
        except Exception as exc:  # collected and asserted below
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=look_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(6):
            simulate_sync(with_token("SAH", tokens[i % 2]))
            time.sleep(0.05)  # let the readers run between syncs (no timing is asserted)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert answers
    assert set(answers) <= set(tokens)
    assert get_token_from_symbol("SAH", "NSE") == tokens[1]


@pytest.mark.django_db(transaction=True)
def test_other_process_sees_a_sync_within_one_second(make_instruments):
    make_instruments()
    symbol, old_token, new_token = "NIFTY27OCT2621300CE", 51278, 61278
    probe = Path(__file__).parent / "lookup_probe.py"
    child = subprocess.Popen(
        [sys.executable, str(probe), symbol, "NFO", str(new_token), "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DATABASE_URL": child_database_url()},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while sum(line.endswith(f" {old_token}\n") for line in lines[-200:]) < 100:
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, f"the probe never answered: {lines[-5:]}"
            time.sleep(0.05)

        committed: list[float] = []
        simulate_sync(
            with_token(symbol, new_token), on_committed=lambda: committed.append(time.time())
        )
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    reader.join(timeout=10)
    observations = [line.split(maxsplit=1) for line in lines if line != "READY\n"]
    seen = [(float(at), answer.strip()) for at, answer in observations]
    assert {answer for _, answer in seen} <= {str(old_token), str(new_token)}, "not-found or error"
    assert committed
    late = [(at, answer) for at, answer in seen if at > committed[0] + 1.0]
    assert late, "the probe stopped before one second after the commit"
    stale = [(at - committed[0], answer) for at, answer in late if answer != str(new_token)]
    assert not stale, f"old token seen more than 1 s after the commit: {stale[:3]}"


# --- cache outage -----------------------------------------------------------------------------


def outage_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and "unavailable" in r.getMessage()
    ]


def test_unreachable_cache_falls_back_to_the_database_and_logs_once_per_interval(
    synced, settings, lookup_clock, caplog, tmp_path
):
    port = free_port()
    settings.CACHES = redis_cache_settings(f"redis://127.0.0.1:{port}/0")
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(20):
        clear_process_memory(keep_generation=True)
        assert get_token_from_symbol("SAH", "NSE") == 13690
        assert get_symbol_from_token(9884, "NSE") == "TNTELE"
        batch = get_tokens([("SAH", "NSE"), ("NOPE", "NFO")])
        assert batch == {("SAH", "NSE"): 13690}
        assert batch.missing == [("NOPE", "NFO")]
        with pytest.raises(SymbolNotFound):
            get_token_from_symbol("NOPE", "NFO")
    publish_generation(broker=BROKER, generation=1)  # never raises either
    assert len(outage_warnings(caplog)) == 1
    assert "Redis" in outage_warnings(caplog)[0].getMessage()

    lookup_clock.advance(5.0)  # the retry interval: one more attempt, one more warning
    clear_process_memory(keep_generation=True)
    assert get_token_from_symbol("SAH", "NSE") == 13690
    assert len(outage_warnings(caplog)) == 2

    # Redis comes up on that port: lookups return to the cache by themselves.
    server = PrivateRedis(tmp_path, port=port)
    server.start()
    try:
        lookup_clock.advance(5.0)
        clear_process_memory(keep_generation=True)
        assert get_token_from_symbol("SAH", "NSE") == 13690
        flush_cache_writes()
        assert server.dbsize() > 0
        assert any("is back" in r.getMessage() for r in caplog.records)
        assert len(outage_warnings(caplog)) == 2
    finally:
        server.stop()


def test_redis_stopped_mid_run(
    synced,
    settings,
    private_redis,
    lookup_clock,
    caplog,
    sync_instruments,
    django_assert_num_queries,
):
    settings.CACHES = redis_cache_settings(private_redis.url)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    pairs = [(row["symbol"], row["exchange"]) for row in SAMPLE_ROWS]
    expected = {(row["symbol"], row["exchange"]): row["token"] for row in SAMPLE_ROWS}
    assert get_tokens(pairs) == expected
    flush_cache_writes()
    assert private_redis.dbsize() >= len(pairs)
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == expected

    private_redis.stop()
    clear_process_memory(keep_generation=True)
    assert get_tokens(pairs) == expected
    for (symbol, exchange), token in expected.items():
        assert get_token_from_symbol(symbol, exchange) == token
        assert get_symbol_from_token(token, exchange) == symbol

    # A sync while Redis is down: its publish is lost, lookups still follow the database.
    sync_instruments(with_token("SAH", 13699))
    assert get_token_from_symbol("SAH", "NSE") == 13699
    lookup_clock.advance(0.5)
    assert get_token_from_symbol("SAH", "NSE") == 13699
    assert len(outage_warnings(caplog)) == 1

    private_redis.start()  # same port, empty
    lookup_clock.advance(5.0)
    clear_process_memory(keep_generation=True)
    assert get_token_from_symbol("SAH", "NSE") == 13699
    flush_cache_writes()
    assert private_redis.dbsize() >= 2  # the generation and the answer
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_token_from_symbol("SAH", "NSE") == 13699


def test_cached_values_are_readable_through_the_django_cache_api(synced, lookup_clock):
    get_token_from_symbol("NIFTY27OCT2621300CE", "NFO")
    flush_cache_writes()
    generation = current_generation(broker=BROKER)
    key = lookups._symbol_key(BROKER, generation, "NFO", "NIFTY27OCT2621300CE")
    assert caches["default"].get(key) == (
        "NIFTY27OCT2621300CE",
        "NFO",
        51278,
        "NIFTY26OCT21300CE",
        "NSEFO",
        "NIFTY",
        dt.date(2026, 10, 27).toordinal(),
        "21300",
        65,
        "0.05",
        "CE",
    )


def test_answers_written_through_the_django_cache_api_are_served(
    synced, lookup_clock, django_assert_num_queries
):
    generation = current_generation(broker=BROKER)
    record = ("SAH", "NSE", 99990, "SAH-EQ", "NSECM", "SAH", None, None, 1, "0.01", "EQ")
    caches["default"].set(lookups._symbol_key(BROKER, generation, "NSE", "SAH"), record)
    with django_assert_num_queries(0):
        instrument = get_instrument("SAH", "NSE")
    assert (instrument.token, instrument.brsymbol, instrument.tick_size) == (
        99990,
        "SAH-EQ",
        Decimal("0.01"),
    )


def test_redis_with_another_serializer_is_used_through_the_django_cache_api(
    synced, settings, private_redis, lookup_clock, django_assert_num_queries
):
    config = redis_cache_settings(private_redis.url)
    config["default"]["OPTIONS"]["SERIALIZER"] = "django_redis.serializers.json.JSONSerializer"
    settings.CACHES = config
    pairs = [(row["symbol"], row["exchange"]) for row in SAMPLE_ROWS] + [("NOPE", "NSE")]
    batch = get_tokens(pairs)
    instrument = get_instrument("NIFTY27OCT2621300CE", "NFO")
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("NIFTY27OCT2621350CE", "NFO")
    assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"
    flush_cache_writes()
    assert private_redis.dbsize() > len(pairs)
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == batch
        assert get_tokens(pairs).missing == [("NOPE", "NSE")]
        assert get_instrument("NIFTY27OCT2621300CE", "NFO") == instrument
        with pytest.raises(SymbolNotFound) as caught:
            get_token_from_symbol("NIFTY27OCT2621350CE", "NFO")
        assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"
    assert caught.value.suggestions[0] == "NIFTY27OCT2621300CE"


@pytest.mark.parametrize("value", [0, -1, "1", True])
def test_bad_timing_settings_are_refused(synced, settings, value):
    settings.JAINAM_LOOKUP_GENERATION_TTL = value
    with pytest.raises(ImproperlyConfigured, match="JAINAM_LOOKUP_GENERATION_TTL"):
        get_token_from_symbol("SAH", "NSE")


# --- search -----------------------------------------------------------------------------------


def test_search_is_a_case_insensitive_prefix_match_ordered_by_symbol(synced):
    found = search_instruments(" nifty27oct26213")
    assert [(i.symbol, i.exchange) for i in found] == [
        ("NIFTY27OCT2621300CE", "NFO"),
        ("NIFTY27OCT2621300PE", "NFO"),
    ]
    assert found[0] == get_instrument("NIFTY27OCT2621300CE", "NFO")


def test_search_on_one_exchange_with_a_limit(synced):
    assert [(i.symbol, i.exchange) for i in search_instruments("NIFTY")] == [
        ("NIFTY", "NSE_INDEX"),
        ("NIFTY25AUG26FUT", "NFO"),
        ("NIFTY27OCT2621200CE", "NFO"),
        ("NIFTY27OCT2621300CE", "NFO"),
        ("NIFTY27OCT2621300PE", "NFO"),
        ("NIFTY27OCT2621400CE", "NFO"),
        ("NIFTY27OCT2621500CE", "NFO"),
    ]
    on_index = search_instruments("NIFTY", exchange="nse_index")
    assert [(i.symbol, i.token) for i in on_index] == [("NIFTY", 26000)]
    limited = search_instruments("NIFTY", exchange="NFO", limit=2)
    assert [i.symbol for i in limited] == ["NIFTY25AUG26FUT", "NIFTY27OCT2621200CE"]


def test_search_escapes_like_wildcards(synced):
    assert search_instruments("%") == []
    assert search_instruments("_AH") == []


@pytest.mark.parametrize("limit", [0, 501, "10", True])
def test_search_rejects_a_bad_limit(synced, limit):
    with pytest.raises(ValueError, match="limit"):
        search_instruments("NIFTY", limit=limit)


def test_search_rejects_an_empty_query(synced):
    with pytest.raises(ValueError, match="empty"):
        search_instruments("  ")


# --- logging ----------------------------------------------------------------------------------


def test_lookups_log_at_debug_and_misses_at_warning(synced, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    get_token_from_symbol("SAH", "NSE")
    get_token_from_symbol("SAH", "NSE")
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("NSE:SAH -> 13690 (database)" in m for m in debug)
    assert any("NSE:SAH -> 13690 (memory)" in m for m in debug)
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("NOPE", "NFO")
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NOPE" in m and "NFO" in m for m in warning)
