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
from django.db.models import F

from jainam_prop import vocabulary
from jainam_prop.errors import SymbolNotFound, TokenNotFound
from jainam_prop.models import LookupGeneration, SymbolToken
from jainam_prop.services import (
    Instrument,
    TokenBatch,
    current_generation,
    get_instrument,
    get_instrument_by_token,
    get_instruments_by_tokens,
    get_symbol_from_token,
    get_token_from_symbol,
    get_tokens,
    live_contracts_near,
    publish_generation,
    search_instruments,
)
from jainam_prop.services.lookups import (
    cache as lookup_cache,
)
from jainam_prop.services.lookups import (
    clear_process_memory,
    db,
    generation,
    process_memory_stats,
)
from tests.fixtures_lookups import (
    NIFTY_CE_TOKEN,
    PrivateRedis,
    child_database_url,
    free_port,
    moved,
    option_chain_lines,
    redis_cache_settings,
    save_samples,
    stored,
)

pytestmark = pytest.mark.django_db

LOGGER = "jainam_prop.services.lookups"
OUTAGE_LOGGER = "jainam_prop.cache_outage"
BROKER = "jainam_prop"
EXCHANGES = vocabulary.EXCHANGES


def shared_cache() -> bool:
    """Whether this run's cache is shared between processes (Redis) or per process."""
    return not isinstance(caches["default"], LocMemCache)


def today() -> dt.date:
    return vocabulary.today_ist()


class Samples:
    """What the sample lines became once parsed and saved (symbols move with today)."""

    def __init__(self) -> None:
        self.ce = stored(NIFTY_CE_TOKEN, "NFO").symbol  # NIFTY<expiry>21300CE
        expiry = stored(NIFTY_CE_TOKEN, "NFO").expiry
        assert expiry is not None
        self.expiry = expiry
        self.code = vocabulary.expiry_code(self.expiry)
        self.fut = stored(58072, "NFO").symbol  # the NIFTY future of the NSEFO sample
        self.sensex_pe = stored(1125434, "BFO").symbol
        self.pairs = [
            (self.ce, "NFO"),
            ("SAH-BE", "NSE"),
            ("TNTELE-BE", "NSE"),
            ("TTKPRESTIG", "BSE"),
            (self.fut, "NFO"),
            (self.sensex_pe, "BFO"),
            ("NIFTY", "NSE_INDEX"),
        ]

    def option(self, strike: int, kind: str) -> str:
        return f"NIFTY{self.code}{strike}{kind}"


@pytest.fixture
def synced(make_instruments) -> Samples:
    make_instruments()
    return Samples()


@pytest.fixture
def sync_instruments(django_capture_on_commit_callbacks):
    """A sync through the real write path, with its on-commit callbacks run (tests are in a
    transaction that never commits): the generation is published as after a real commit."""

    def sync(**options):
        with django_capture_on_commit_callbacks(execute=True):
            return save_samples(**options).generation

    return sync


def token_changed(token: int, new_token: int):
    """A line rewrite for ``sample_master(replace=...)``: ``token`` becomes ``new_token``."""

    def rewrite(line: str) -> str:
        fields = line.split("|")
        if fields[1] == str(token):
            fields[1] = str(new_token)
            fields[7] = fields[7][:-8] + f"{new_token:08d}"
        return "|".join(fields)

    return rewrite


# --- answers ----------------------------------------------------------------------------------


def test_token_of_an_option(synced):
    assert synced.ce == f"NIFTY{synced.code}21300CE"
    assert get_token_from_symbol(synced.ce, "NFO") == NIFTY_CE_TOKEN


def test_token_on_each_kind_of_exchange(synced):
    for symbol, exchange, token in [
        ("SAH-BE", "NSE", 13690),
        ("TTKPRESTIG", "BSE", 517506),
        (synced.fut, "NFO", 58072),
        (synced.sensex_pe, "BFO", 1125434),
        ("NIFTY", "NSE_INDEX", 26000),
    ]:
        assert get_token_from_symbol(symbol, exchange) == token


def test_symbol_and_exchange_are_trimmed_and_upper_cased(synced):
    assert get_token_from_symbol(f"  {synced.ce.lower()}\t", " nfo ") == NIFTY_CE_TOKEN
    assert get_instrument("sah-be", "Nse").symbol == "SAH-BE"


def test_instrument_is_the_whole_immutable_record(synced):
    instrument = get_instrument(synced.ce, "NFO")
    assert instrument == Instrument(
        symbol=synced.ce,
        exchange="NFO",
        token=NIFTY_CE_TOKEN,
        brsymbol="NIFTY26OCT21300CE",
        brexchange="NSEFO",
        name="NIFTY",
        expiry=synced.expiry,
        strike=Decimal("21300"),
        lot_size=65,
        tick_size=Decimal("0.05"),
        instrument_type="CE",
        freeze_qty=stored(NIFTY_CE_TOKEN, "NFO").freeze_qty,
        price_band_low=stored(NIFTY_CE_TOKEN, "NFO").price_band_low,
        price_band_high=stored(NIFTY_CE_TOKEN, "NFO").price_band_high,
        multiplier=stored(NIFTY_CE_TOKEN, "NFO").multiplier,
        isin=stored(NIFTY_CE_TOKEN, "NFO").isin,
        underlying_token=stored(NIFTY_CE_TOKEN, "NFO").underlying_token,
        broker=BROKER,
    )
    assert str(instrument.strike) == "21300"
    assert str(instrument.tick_size) == "0.05"
    with pytest.raises(dataclasses.FrozenInstanceError):
        instrument.token = 1


def test_instrument_carries_every_instrument_column_and_the_broker(synced):
    fields = [f.name for f in dataclasses.fields(Instrument)]
    assert fields == [*vocabulary.INSTRUMENT_COLUMNS, "broker"]
    row = stored("SAH-BE", "NSE")
    instrument = get_instrument("SAH-BE", "NSE")
    for column in vocabulary.INSTRUMENT_COLUMNS:
        assert getattr(instrument, column) == getattr(row, column), column


def test_instrument_to_dict_is_json(synced):
    data = get_instrument(synced.ce, "NFO").to_dict()
    row = stored(NIFTY_CE_TOKEN, "NFO")

    def number(value):
        return None if value is None else float(value)

    assert json.loads(json.dumps(data)) == {
        "symbol": synced.ce,
        "exchange": "NFO",
        "token": NIFTY_CE_TOKEN,
        "brsymbol": "NIFTY26OCT21300CE",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": synced.expiry.isoformat(),
        "strike": 21300.0,
        "lot_size": 65,
        "tick_size": 0.05,
        "instrument_type": "CE",
        "freeze_qty": row.freeze_qty,
        "price_band_low": number(row.price_band_low),
        "price_band_high": number(row.price_band_high),
        "multiplier": row.multiplier,
        "isin": row.isin,
        "underlying_token": row.underlying_token,
        "broker": BROKER,
    }
    equity = get_instrument("SAH-BE", "NSE").to_dict()
    assert equity["expiry"] is None
    assert equity["strike"] is None


def test_is_dead_compares_the_expiry_with_the_day_given(synced):
    option = get_instrument(synced.ce, "NFO")
    assert not option.is_dead(today=option.expiry)
    assert option.is_dead(today=option.expiry + dt.timedelta(days=1))
    assert not get_instrument("SAH-BE", "NSE").is_dead(today=dt.date(2999, 1, 1))


def test_same_answer_from_every_tier(synced, lookup_clock):
    from_database = get_instrument(synced.sensex_pe, "BFO")
    from_memory = get_instrument(synced.sensex_pe, "BFO")
    clear_process_memory(keep_generation=True)
    from_cache = get_instrument(synced.sensex_pe, "BFO")
    assert from_database == from_memory == from_cache
    assert from_cache.strike == Decimal("78100")
    assert from_cache.expiry == stored(1125434, "BFO").expiry


def test_rows_of_another_broker_are_not_visible(make_instruments):
    make_instruments(broker="other_xts")
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("SAH-BE", "NSE")
    assert get_token_from_symbol("SAH-BE", "NSE", broker="other_xts") == 13690


# --- errors and suggestions -------------------------------------------------------------------


def test_not_found_names_symbol_exchange_broker_and_nearest_strikes(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(synced.option(21350, "CE").lower(), "NFO")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.symbol, error.exchange, error.broker) == (
        synced.option(21350, "CE"),
        "NFO",
        BROKER,
    )
    # Same underlying, expiry and option type first, by distance to 21350 (then by symbol).
    assert error.suggestions == (
        synced.option(21300, "CE"),
        synced.option(21400, "CE"),
        synced.option(21200, "CE"),
    )
    message = str(error)
    for part in (synced.option(21350, "CE"), "NFO", BROKER, "Did you mean", synced.ce):
        assert part in message


def test_not_found_future_suggests_the_nearest_live_futures(synced):
    asked = stored(58072, "NFO").expiry + dt.timedelta(days=30)
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(f"NIFTY{vocabulary.expiry_code(asked)}FUT", "NFO")
    assert caught.value.suggestions == (synced.fut,)


def test_not_found_suggests_the_same_symbol_on_another_exchange(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("TTKPRESTIG", "NSE")
    assert caught.value.suggestions == ("TTKPRESTIG on BSE",)


def test_not_found_suggests_close_spellings(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("TNTELLE-BE", "NSE")
    assert caught.value.suggestions == ("TNTELE-BE",)


def test_not_found_without_close_matches_says_what_to_check(synced):
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol("QQQQQQ", "NSE")
    assert caught.value.suggestions == ()
    assert "sync_master_contract" in str(caught.value)


def dead_line(line: str) -> str:
    """A sample line moved so that it expired yesterday."""
    fields = line.split("|")
    expiry = dt.date.fromisoformat(fields[16][:10])
    return moved(line, days=(today() - dt.timedelta(days=1) - expiry).days)


@pytest.fixture
def with_dead_contracts(make_instruments) -> Samples:
    """The samples plus a NIFTY option and future that expired yesterday, as the sync stores
    them until the next master drops them."""
    from tests.fixtures_lookups import live_lines

    nfo = live_lines("NSEFO", today=today())
    ce = next(line for line in nfo if line.split("|")[1] == str(NIFTY_CE_TOKEN))
    fut = next(line for line in nfo if line.split("|")[1] == "58072")
    from tests.fixtures_lookups import option_line

    dead = [
        dead_line(option_line(ce, strike=21350, kind="CE", token=900_001)),
        dead_line(fut.replace("|58072|", "|900002|").replace("0058072|", "0900002|")),
    ]
    make_instruments(extra_nfo=dead)
    return Samples()


def test_suggestions_and_searches_never_offer_a_dead_contract(with_dead_contracts):
    samples = with_dead_contracts
    dead_ce = stored(900_001, "NFO")
    dead_fut = stored(900_002, "NFO")
    assert dead_ce.expiry < today()
    assert dead_fut.expiry < today()
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(samples.option(21350, "CE"), "NFO")
    assert dead_ce.symbol not in caught.value.suggestions
    assert caught.value.suggestions[0] == samples.ce
    with pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(dead_fut.symbol[:-4] + "XFUT", "NFO")
    assert dead_fut.symbol not in caught.value.suggestions
    assert all(
        found.expiry is None or found.expiry >= today() for found in search_instruments("NIFTY")
    )
    assert dead_ce.symbol not in [i.symbol for i in search_instruments(dead_ce.symbol)]
    # A dead contract is still an instrument of the last sync: looked up, it is answered.
    assert get_instrument(dead_ce.symbol, "NFO").is_dead(today=today())


def test_suggestions_cost_a_few_small_queries(synced, django_assert_max_num_queries):
    current_generation(broker=BROKER)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for symbol in (synced.option(21350, "CE"), "TNTELLE-BE", "QQQQQQ", "TTKPRESTIG"):
        exchange = "NSE" if not symbol.startswith("NIFTY") else "NFO"
        with (
            django_assert_max_num_queries(6),
            CaptureQueriesContext(connection) as queries,
            pytest.raises(SymbolNotFound),
        ):
            get_token_from_symbol(symbol, exchange)
        for query in queries.captured_queries[1:]:  # each suggestion query reads few rows
            assert "LIMIT" in query["sql"], query["sql"]


def test_unknown_exchange_lists_the_valid_ones(synced):
    for call in (
        lambda: get_token_from_symbol("SAH-BE", "NSX"),
        lambda: get_symbol_from_token(13690, "NSECM"),
        lambda: get_tokens([("SAH-BE", "NSE"), ("SAH-BE", "XX")]),
        lambda: get_instruments_by_tokens([(13690, "NSE"), (13690, "XX")]),
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
        get_tokens([("SAH-BE", "NSE"), (symbol, "NSE")])


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
    assert get_symbol_from_token(NIFTY_CE_TOKEN, "NFO") == synced.ce
    assert get_symbol_from_token("26000", " nse_index ") == "NIFTY"
    assert get_instrument_by_token(517506, "BSE").brsymbol == "TTKPRESTIG-A"


def test_reverse_lookup_is_per_exchange(synced):
    with pytest.raises(TokenNotFound) as caught:
        get_symbol_from_token(NIFTY_CE_TOKEN, "BFO")
    assert isinstance(caught.value, ValueError)
    for part in (str(NIFTY_CE_TOKEN), "BFO", BROKER):
        assert part in str(caught.value)


@pytest.mark.parametrize("token", [0, -5, True, 1.5, "12a", None])
def test_reverse_lookup_rejects_a_bad_token(synced, token):
    with pytest.raises(ValueError, match="positive integer"):
        get_symbol_from_token(token, "NSE")


def test_batch_reverse_lookup_answers_instruments_of_the_pairs_found(synced):
    found = get_instruments_by_tokens(
        [(NIFTY_CE_TOKEN, "NFO"), ("13690", "nse"), (13690, "BSE"), (999_999, "NFO")]
    )
    assert list(found) == [(NIFTY_CE_TOKEN, "NFO"), (13690, "NSE")]
    assert found[(NIFTY_CE_TOKEN, "NFO")] == get_instrument(synced.ce, "NFO")
    assert found[(13690, "NSE")].symbol == "SAH-BE"
    with pytest.raises(ValueError, match="pairs"):
        get_instruments_by_tokens([13690])


def test_batch_reverse_lookup_of_500_pairs_runs_one_query(
    make_instruments, lookup_clock, django_assert_num_queries
):
    make_instruments(extra_nfo=option_chain_lines(500, today=today()))
    pairs = [(700_000 + i, "NFO") for i in range(500)]
    current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        cold = get_instruments_by_tokens(pairs)
    assert sorted(cold) == sorted(pairs)
    with django_assert_num_queries(0):
        assert get_instruments_by_tokens(pairs) == cold
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_instruments_by_tokens(pairs) == cold
    assert get_symbol_from_token(700_001, "NFO") == cold[(700_001, "NFO")].symbol


# --- live contracts near ----------------------------------------------------------------------


def test_live_contracts_near_a_dead_option_are_the_nearest_strikes_of_the_nearest_expiry(
    with_dead_contracts,
):
    samples = with_dead_contracts
    dead = stored(900_001, "NFO")
    near = live_contracts_near(
        name="NIFTY",
        exchange="NFO",
        kind="CE",
        expiry=dead.expiry,
        today=today(),
        strike=Decimal(21350),
    )
    options = SymbolToken.objects.filter(
        name="NIFTY", exchange="NFO", instrument_type__in=["CE", "PE"], expiry__gte=today()
    )
    nearest = min(options.values_list("expiry", flat=True))
    at_nearest = options.filter(expiry=nearest)
    assert [i.expiry for i in near] == [nearest] * min(3, at_nearest.count())
    assert not any(i.is_dead(today=today()) for i in near)
    kinds = [i.instrument_type for i in near]
    assert kinds == sorted(kinds)  # CE (the kind asked) before PE
    # Asked at the expiry of the sample strikes: the nearest strikes of the same kind.
    at_expiry = live_contracts_near(
        name="NIFTY",
        exchange="NFO",
        kind="CE",
        expiry=samples.expiry,
        today=today(),
        strike=Decimal(21350),
    )
    assert [i.symbol for i in at_expiry] == [
        samples.option(21300, "CE"),
        samples.option(21400, "CE"),
        samples.option(21200, "CE"),
    ]


def test_live_contracts_near_a_future_are_live_futures_by_distance(with_dead_contracts):
    dead = stored(900_002, "NFO")
    near = live_contracts_near(
        name="nifty", exchange="nfo", kind="FUT", expiry=dead.expiry, today=today()
    )
    assert [i.symbol for i in near] == [with_dead_contracts.fut]
    assert near[0].instrument_type == "FUT"
    assert (
        live_contracts_near(name="NOPE", exchange="NFO", kind="FUT", expiry=None, today=today())
        == []
    )
    with pytest.raises(ValueError, match="kind"):
        live_contracts_near(name="NIFTY", exchange="NFO", kind="EQ", expiry=None, today=today())


# --- batch ------------------------------------------------------------------------------------


def test_batch_reports_missing_pairs(synced, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    batch = get_tokens(
        [
            (synced.ce, "NFO"),
            ("sah-be", "nse"),
            ("NOPE", "NSE"),
            ("SAH-BE", "NSE"),  # a duplicate, answered once
            ("SAH-BE", "BSE"),
            ("NIFTY", "NSE_INDEX"),
        ]
    )
    assert isinstance(batch, TokenBatch)
    assert batch == {
        (synced.ce, "NFO"): NIFTY_CE_TOKEN,
        ("SAH-BE", "NSE"): 13690,
        ("NIFTY", "NSE_INDEX"): 26000,
    }
    assert batch.missing == [("NOPE", "NSE"), ("SAH-BE", "BSE")]
    warning = [r for r in caplog.records if r.levelno == logging.WARNING][-1].getMessage()
    assert "NSE:NOPE" in warning
    assert "BSE:SAH-BE" in warning


def test_batch_answers_match_single_lookups_from_every_tier(synced, lookup_clock):
    pairs = [*synced.pairs, ("NOPE", "NFO")]
    cold = get_tokens(pairs)
    warm = get_tokens(pairs)
    clear_process_memory(keep_generation=True)
    cached = get_tokens(pairs)
    assert cold == warm == cached
    assert cold.missing == warm.missing == cached.missing == [("NOPE", "NFO")]
    for (symbol, exchange), token in cold.items():
        assert get_token_from_symbol(symbol, exchange) == token


def test_batch_rejects_a_malformed_pair(synced):
    with pytest.raises(ValueError, match="pairs"):
        get_tokens(["SAH-BE"])


def test_empty_batch(synced):
    batch = get_tokens([])
    assert batch == {}
    assert batch.missing == []
    assert get_instruments_by_tokens([]) == {}


# --- query counts -----------------------------------------------------------------------------


def test_cached_lookups_run_no_sql(synced, lookup_clock, django_assert_num_queries):
    get_token_from_symbol(synced.ce, "NFO")
    get_symbol_from_token(13690, "NSE")
    with django_assert_num_queries(0):
        for _ in range(100):
            assert get_token_from_symbol(synced.ce, "NFO") == NIFTY_CE_TOKEN
            assert get_instrument(f" {synced.ce.lower()}", "nfo").token == NIFTY_CE_TOKEN
            assert get_symbol_from_token(13690, "NSE") == "SAH-BE"
            # a forward lookup also taught memory the reverse answer, and vice versa
            assert get_symbol_from_token(NIFTY_CE_TOKEN, "NFO") == synced.ce
            assert get_token_from_symbol("SAH-BE", "NSE") == 13690


def test_shared_cache_hit_runs_no_sql(synced, lookup_clock, django_assert_num_queries):
    get_token_from_symbol("SAH-BE", "NSE")
    get_symbol_from_token(517506, "BSE")
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_token_from_symbol("SAH-BE", "NSE") == 13690
        assert get_symbol_from_token(517506, "BSE") == "TTKPRESTIG"


def test_cold_lookup_runs_one_select(synced, lookup_clock, django_assert_num_queries):
    current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        assert get_token_from_symbol("SAH-BE", "NSE") == 13690
    with django_assert_num_queries(1):
        assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"


def test_not_found_is_cached_for_the_generation(synced, lookup_clock, django_assert_num_queries):
    unknown = synced.option(21350, "CE")
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol(unknown, "NFO")
    with django_assert_num_queries(0), pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(unknown, "NFO")
    assert caught.value.suggestions[0] == synced.ce
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0), pytest.raises(SymbolNotFound) as caught:
        get_token_from_symbol(unknown, "NFO")
    assert caught.value.suggestions[0] == synced.ce


def test_batch_of_100_runs_at_most_one_query(
    make_instruments, lookup_clock, django_assert_num_queries
):
    make_instruments(extra_nfo=option_chain_lines(100, today=today()))
    pairs = [
        (row, "NFO")
        for row in SymbolToken.objects.filter(exchange="NFO", token__range=(700_000, 700_999))
        .order_by("token")
        .values_list("symbol", flat=True)
    ]
    assert len(pairs) == 100
    current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        cold = get_tokens(pairs)
    assert len(cold) == 100
    assert cold.missing == []
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == cold
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == cold
    # Misses in the cache, found or not, still cost one query together.
    clear_process_memory(keep_generation=True)
    caches["default"].clear()
    if shared_cache():  # the generation is read again (one query) once its key is gone
        current_generation(broker=BROKER)
    with django_assert_num_queries(1):
        mixed = get_tokens([*pairs[:50], ("NIFTY01JAN3099999CE", "NFO"), ("SAH-BE", "BSE")])
    assert len(mixed) == 50
    assert mixed.missing == [("NIFTY01JAN3099999CE", "NFO"), ("SAH-BE", "BSE")]


def test_generation_is_rechecked_once_per_interval(
    synced, lookup_clock, settings, django_assert_num_queries
):
    # Keep the generation's freshness mark alive in Redis for the whole test (really 0.5 s).
    settings.JAINAM_LOOKUP_GENERATION_TTL = 60
    get_token_from_symbol("SAH-BE", "NSE")
    lookup_clock.advance(0.49)
    with django_assert_num_queries(0):
        get_token_from_symbol("SAH-BE", "NSE")
    lookup_clock.advance(0.02)
    # Per-process cache: the generation comes from its database row. Redis: from the cache.
    with django_assert_num_queries(0 if shared_cache() else 1):
        for _ in range(10):
            get_token_from_symbol("SAH-BE", "NSE")


# --- coherence --------------------------------------------------------------------------------


def test_sync_in_this_process_is_seen_at_once(synced, lookup_clock, sync_instruments):
    assert get_token_from_symbol("SAH-BE", "NSE") == 13690
    new_listing = option_chain_lines(1, today=today(), first_token=1)
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol(f"NIFTY{synced.code}40000CE", "NFO")
    generation_now = sync_instruments(
        extra={"NSEFO": new_listing}, replace={"NSECM": token_changed(13690, 13691)}
    )
    assert current_generation(broker=BROKER) == generation_now
    assert get_token_from_symbol("SAH-BE", "NSE") == 13691
    assert get_token_from_symbol(f"NIFTY{synced.code}40000CE", "NFO") == 1


def freshness_mark() -> str:
    return lookup_cache.key(BROKER, "generation", "checked")


def test_sync_of_another_process_is_seen_within_the_interval(synced, lookup_clock):
    # Another process committed a sync and its publish never reached the cache (or the cache
    # is per process): the generation row in the database is the truth.
    assert get_token_from_symbol("SAH-BE", "NSE") == 13690
    LookupGeneration.objects.filter(broker=BROKER).update(generation=F("generation") + 1)
    SymbolToken.objects.filter(symbol="SAH-BE").update(token=13692)
    caches["default"].delete(freshness_mark())  # expired, never renewed by a publish
    lookup_clock.advance(0.5)
    assert get_token_from_symbol("SAH-BE", "NSE") == 13692
    assert current_generation(broker=BROKER) == LookupGeneration.objects.get().generation


def test_publish_generation_reaches_the_other_processes_cache(
    synced, lookup_clock, settings, django_assert_num_queries
):
    settings.JAINAM_LOOKUP_GENERATION_TTL = 60
    publish_generation(broker=BROKER, generation=7)
    assert current_generation(broker=BROKER) == 7
    clear_process_memory()  # as a fresh process
    # Redis: the published generation is read from the cache. Per process: from the database.
    with django_assert_num_queries(0 if shared_cache() else 1):
        seen = current_generation(broker=BROKER)
    assert seen == (7 if shared_cache() else 1)


def test_the_generation_never_goes_back(synced, lookup_clock):
    publish_generation(broker=BROKER, generation=9)
    publish_generation(broker=BROKER, generation=8)  # a late, older announcement
    assert current_generation(broker=BROKER) == 9
    lookup_clock.advance(5)  # the row (1) is older than what this process has seen
    assert current_generation(broker=BROKER) == 9
    # The shared key is only ever raised (the compare-and-set, or the plain fallback).
    assert generation.raise_shared(BROKER, 12, fresh_for=60) == 12
    assert generation.raise_shared(BROKER, 10, fresh_for=60) == 12
    assert caches["default"].get(lookup_cache.key(BROKER, "generation")) == 12


@pytest.mark.parametrize("per_process", [False, True], ids=["run cache", "own cache"])
def test_a_process_stalled_across_a_commit_never_serves_old_tokens_a_second_later(
    synced, lookup_clock, settings, sync_instruments, monkeypatch, per_process
):
    """A process reads the generation row, then stalls (a GC pause, a descheduled VM) while a
    sync commits and publishes, and wakes three seconds later: it must neither put the old
    generation back into the shared cache nor serve the old token. Deterministic: the stall is
    a step injected right after the row is read, and time is the lookups' clock."""
    if per_process:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert get_token_from_symbol("SAH-BE", "NSE") == 13690
    real_read = db.committed_generation
    stalls: list[float] = []

    def read_then_stall(broker: str) -> int:
        value = real_read(broker)  # the old generation: the sync has not committed yet
        if not stalls:
            sync_instruments(replace={"NSECM": token_changed(13690, 13691)})  # commit + publish
            stalls.append(lookup_clock())
            lookup_clock.advance(3.0)  # the stall lasts three seconds
            caches["default"].delete(freshness_mark())  # and outlives the publish's mark
        return value

    monkeypatch.setattr(db, "committed_generation", read_then_stall)
    caches["default"].delete(freshness_mark())  # the mark expired: the next check reads the row
    lookup_clock.advance(0.5)

    def answered() -> tuple[float, int]:  # (when the answer came, the answer)
        token = get_token_from_symbol("SAH-BE", "NSE")
        return lookup_clock(), token

    answers = [answered()]  # the stalled lookup
    assert stalls, "the generation was not read from the row"
    committed_at = stalls[0]
    for _ in range(3):  # this process again, then "other" ones starting from the shared cache
        answers.append(answered())
        clear_process_memory()
        lookup_clock.advance(0.5)
    late = [(at - committed_at, answer) for at, answer in answers if at > committed_at + 1.0]
    assert len(late) == len(answers)
    assert all(answer == 13691 for _, answer in late), late
    if shared_cache():  # the shared generation was never lowered
        shared = caches["default"].get(lookup_cache.key(BROKER, "generation"))
        assert shared == current_generation(broker=BROKER)
        assert shared == LookupGeneration.objects.get(broker=BROKER).generation


def test_memory_is_bounded(make_instruments, lookup_clock, settings):
    settings.JAINAM_LOOKUP_MEMORY_MAX = 20
    make_instruments(extra_nfo=option_chain_lines(60, today=today()))
    rows = list(
        SymbolToken.objects.filter(exchange="NFO", token__range=(700_000, 700_999)).values_list(
            "symbol", "token"
        )
    )
    for symbol, token in rows:
        assert get_token_from_symbol(symbol, "NFO") == token
    stats = process_memory_stats(broker=BROKER)
    assert 0 < stats["symbols"] <= 20
    assert 0 < stats["tokens"] <= 20
    # Evicted answers come back from the cache or the database, still right.
    for symbol, token in rows:
        assert get_token_from_symbol(symbol, "NFO") == token


def commit_sync(**options) -> int:
    """A sync in a test that really commits (transaction=True tests)."""
    return save_samples(**options).generation


@pytest.mark.django_db(transaction=True)
def test_threads_never_see_a_wrong_or_missing_token_while_syncs_commit(make_instruments):
    make_instruments()
    tokens = (13690, 13695)
    answers: list[object] = []
    stop = threading.Event()

    def look_up() -> None:
        try:
            while not stop.is_set():
                answers.append(get_token_from_symbol("SAH-BE", "NSE"))
                batch = get_tokens([("SAH-BE", "NSE"), ("TNTELE-BE", "NSE")])
                answers.append(batch[("SAH-BE", "NSE")])
        except Exception as exc:  # collected and asserted below
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=look_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(6):
            new = tokens[i % 2]
            commit_sync(replace={"NSECM": token_changed(13690, new)} if new != 13690 else None)
            time.sleep(0.05)  # let the readers run between syncs (no timing is asserted)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert answers
    assert set(answers) <= set(tokens)
    assert get_token_from_symbol("SAH-BE", "NSE") == tokens[1]


@pytest.mark.django_db(transaction=True)
def test_other_process_sees_a_sync_within_one_second(make_instruments):
    make_instruments()
    symbol = stored(NIFTY_CE_TOKEN, "NFO").symbol
    old_token, new_token = NIFTY_CE_TOKEN, 61278
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

        from django.db import transaction

        committed: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(time.time()))
            commit_sync(replace={"NSEFO": token_changed(old_token, new_token)})
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


def outage_lines(caplog, level=logging.WARNING, text="unavailable") -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == OUTAGE_LOGGER and r.levelno == level and text in r.getMessage()
    ]


def test_unreachable_cache_falls_back_to_the_database_and_logs_once_per_outage(
    synced, settings, lookup_clock, caplog, tmp_path
):
    port = free_port()
    settings.CACHES = redis_cache_settings(f"redis://127.0.0.1:{port}/0")
    caplog.set_level(logging.INFO, logger=OUTAGE_LOGGER)
    for _ in range(20):
        clear_process_memory(keep_generation=True)
        assert get_token_from_symbol("SAH-BE", "NSE") == 13690
        assert get_symbol_from_token(9884, "NSE") == "TNTELE-BE"
        batch = get_tokens([("SAH-BE", "NSE"), ("NOPE", "NFO")])
        assert batch == {("SAH-BE", "NSE"): 13690}
        assert batch.missing == [("NOPE", "NFO")]
        assert list(get_instruments_by_tokens([(13690, "NSE")])) == [(13690, "NSE")]
        with pytest.raises(SymbolNotFound):
            get_token_from_symbol("NOPE", "NFO")
    publish_generation(broker=BROKER, generation=1)  # never raises either
    assert len(outage_lines(caplog)) == 1
    assert "Redis" in outage_lines(caplog)[0].getMessage()

    lookup_clock.advance(5.0)  # the retry interval: one more attempt, still the same outage
    clear_process_memory(keep_generation=True)
    assert get_token_from_symbol("SAH-BE", "NSE") == 13690
    assert len(outage_lines(caplog)) == 1

    # Redis comes up on that port: lookups return to the cache by themselves.
    server = PrivateRedis(tmp_path, port=port)
    server.start()
    try:
        lookup_clock.advance(5.0)
        clear_process_memory(keep_generation=True)
        assert get_token_from_symbol("SAH-BE", "NSE") == 13690
        assert server.dbsize() > 0
        assert len(outage_lines(caplog, logging.INFO, "is back")) == 1
        assert len(outage_lines(caplog)) == 1
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
    caplog.set_level(logging.WARNING, logger=OUTAGE_LOGGER)
    pairs = synced.pairs
    expected = {pair: stored(*pair).token for pair in pairs}
    assert get_tokens(pairs) == expected
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
    sync_instruments(replace={"NSECM": token_changed(13690, 13699)})
    assert get_token_from_symbol("SAH-BE", "NSE") == 13699
    lookup_clock.advance(0.5)
    assert get_token_from_symbol("SAH-BE", "NSE") == 13699
    assert len(outage_lines(caplog)) == 1

    private_redis.start()  # same port, empty
    lookup_clock.advance(5.0)
    clear_process_memory(keep_generation=True)
    assert get_token_from_symbol("SAH-BE", "NSE") == 13699
    assert private_redis.dbsize() >= 2  # the generation and the answer
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_token_from_symbol("SAH-BE", "NSE") == 13699


def test_cached_values_are_readable_through_the_django_cache_api(synced, lookup_clock):
    get_token_from_symbol(synced.ce, "NFO")
    gen = current_generation(broker=BROKER)
    key = lookup_cache.key(BROKER, gen, "s", synced.ce, "NFO")
    row = stored(NIFTY_CE_TOKEN, "NFO")
    value = caches["default"].get(key)
    assert value[:11] == (
        synced.ce,
        "NFO",
        NIFTY_CE_TOKEN,
        "NIFTY26OCT21300CE",
        "NSEFO",
        "NIFTY",
        synced.expiry.toordinal(),
        "21300",
        65,
        "0.05",
        "CE",
    )
    assert value[11] == row.freeze_qty
    assert value[14] == row.multiplier


def test_answers_written_through_the_django_cache_api_are_served(
    synced, lookup_clock, django_assert_num_queries
):
    gen = current_generation(broker=BROKER)
    record = (
        "SAH-BE",
        "NSE",
        99990,
        "SAH-EQ",
        "NSECM",
        "SAH",
        None,
        None,
        1,
        "0.01",
        "EQ",
        None,
        None,
        None,
        1,
        None,
        None,
    )
    caches["default"].set(lookup_cache.key(BROKER, gen, "s", "SAH-BE", "NSE"), record)
    with django_assert_num_queries(0):
        instrument = get_instrument("SAH-BE", "NSE")
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
    pairs = [*synced.pairs, ("NOPE", "NSE")]
    batch = get_tokens(pairs)
    instrument = get_instrument(synced.ce, "NFO")
    unknown = synced.option(21350, "CE")
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol(unknown, "NFO")
    assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"
    assert private_redis.dbsize() > len(pairs)
    clear_process_memory(keep_generation=True)
    with django_assert_num_queries(0):
        assert get_tokens(pairs) == batch
        assert get_tokens(pairs).missing == [("NOPE", "NSE")]
        assert get_instrument(synced.ce, "NFO") == instrument
        with pytest.raises(SymbolNotFound) as caught:
            get_token_from_symbol(unknown, "NFO")
        assert get_symbol_from_token(26000, "NSE_INDEX") == "NIFTY"
    assert caught.value.suggestions[0] == synced.ce


@pytest.mark.parametrize("value", [0, -1, "1", True])
def test_bad_timing_settings_are_refused(synced, settings, value):
    settings.JAINAM_LOOKUP_GENERATION_TTL = value
    with pytest.raises(ImproperlyConfigured, match="JAINAM_LOOKUP_GENERATION_TTL"):
        get_token_from_symbol("SAH-BE", "NSE")


# --- search -----------------------------------------------------------------------------------


def test_search_is_a_case_insensitive_prefix_match_ordered_by_symbol(synced):
    found = search_instruments(f" nifty{synced.code.lower()}213")
    assert [(i.symbol, i.exchange) for i in found] == [
        (synced.option(21300, "CE"), "NFO"),
        (synced.option(21300, "PE"), "NFO"),
    ]
    assert found[0] == get_instrument(synced.ce, "NFO")


def test_search_on_one_exchange_with_a_limit(synced):
    symbols = [(i.symbol, i.exchange) for i in search_instruments("NIFTY")]
    assert symbols == sorted(symbols)
    assert ("NIFTY", "NSE_INDEX") in symbols
    assert (synced.fut, "NFO") in symbols
    on_index = search_instruments("NIFTY", exchange="nse_index", limit=1)
    assert [(i.symbol, i.token) for i in on_index] == [("NIFTY", 26000)]
    limited = search_instruments("NIFTY", exchange="NFO", limit=2)
    assert [i.symbol for i in limited] == [s for s, e in symbols if e == "NFO"][:2]


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
    get_token_from_symbol("SAH-BE", "NSE")
    get_token_from_symbol("SAH-BE", "NSE")
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("NSE:SAH-BE -> 13690 (database)" in m for m in debug)
    assert any("NSE:SAH-BE -> 13690 (memory)" in m for m in debug)
    with pytest.raises(SymbolNotFound):
        get_token_from_symbol("NOPE", "NFO")
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NOPE" in m and "NFO" in m for m in warning)
