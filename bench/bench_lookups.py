"""Benchmark: token lookups per tier, against raw floors measured in the same run.

Not a test: it prints a table. The target is PostgreSQL + Redis with the full generated master
(about 160,000 instruments from the XTS test server's generator, expiries relative to today):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lookups_bench \\
    REDIS_URL=redis://127.0.0.1:6379/3 CACHE_KEY_PREFIX=lookups_bench \\
    .venv/bin/python bench/bench_lookups.py

``--smoke`` (CI) uses one small segment and a few hundred samples: it checks that every path
runs and answers right in a few seconds, on any backend; its figures mean little.

The instruments are parsed by the master parser and saved by ``save_master_contract_to_db``
under their own broker (``--broker``; ``bench``, or ``bench_smoke`` with ``--smoke``), so no
other broker's rows are touched; a later run reuses them when the master is unchanged. Each
path is measured interleaved with its floor (one call each, in turn), so both see the same
machine load:

- database (cold): ``get_token_from_symbol`` of a symbol right after a new generation, vs the
  same indexed SELECT through a raw psycopg cursor;
- unknown symbol: a symbol that does not exist (its suggestions included), cold;
- Redis: the same symbols gone from process memory but cached, vs a raw redis-py GET of the
  service's own key (``lookups.cache.key``);
- process memory: the same symbols again;
- batch of 100 (Redis): ``get_tokens`` of 100 cached pairs vs a raw MGET of their keys.

A second table gives what Django's cache API (django-redis) alone costs over the raw commands
(``cache.get``, ``cache.get_many`` of the same keys): the part of each ratio the service cannot
remove while it reads the cache through that API.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# DEBUG stays off: Django would record every query and distort the timings.
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")

FULL_SEGMENTS = ("NSECM", "BSECM", "NSEFO", "BSEFO", "NSECD", "MCXFO")
SMOKE_SEGMENTS = ("BSEFO",)


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], object], *, before: Callable[[], object] | None = None) -> float:
    """Microseconds of one call (``before`` runs untimed)."""
    if before is not None:
        before()
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000


def generated_master(segments: Sequence[str], today):
    """The parser's rows for the test server's generated master, anchored on today."""
    from jainam_prop.master_parser import merge_parsed, parse_index_list, parse_master
    from jainam_prop.vocabulary import INDEX_SEGMENTS
    from xts_testserver import generator

    parts = []
    for segment in segments:
        parts.append(
            parse_master(generator.generate_master(segment, anchor=today), segment=segment)
        )
        if segment in INDEX_SEGMENTS:
            parts.append(parse_index_list(generator.index_list(segment), segment=segment))
    return merge_parsed(parts).rows


def ensure_instruments(rows, *, broker: str) -> int:
    from jainam_prop.models import SymbolToken
    from jainam_prop.services import save_master_contract_to_db

    stored = SymbolToken.objects.filter(broker=broker)
    if stored.count() == len(rows) and stored.filter(symbol=rows["symbol"].iloc[-1]).exists():
        return len(rows)
    print(f"bench: saving {len(rows):,} instruments for broker {broker}")
    save_master_contract_to_db(rows, broker=broker, force=True)
    return len(rows)


def new_generation(broker: str) -> None:
    """What a sync does to the caches (without rewriting the rows): every answer goes cold."""
    from django.db import transaction

    from jainam_prop.models import LookupGeneration
    from jainam_prop.services import current_generation, publish_generation

    # Past what lookups know too: the generation never goes back (see docs/lookups.md).
    known = current_generation(broker=broker)
    with transaction.atomic():
        row, _ = LookupGeneration.objects.select_for_update().get_or_create(broker=broker)
        new = max(row.generation, known) + 1
        LookupGeneration.objects.filter(broker=broker).update(generation=new)
        transaction.on_commit(lambda: publish_generation(broker=broker, generation=new))


def unknown_symbols(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Symbols that do not exist but look like real ones: an option at an unlisted strike, a
    future at another expiry, an equity misspelt."""
    from jainam_prop import vocabulary

    unknown = []
    for symbol, exchange in pairs:
        parsed = vocabulary.parse_symbol(symbol)
        if parsed is None:
            unknown.append((symbol[:-1] + ("Q" if symbol[-1] != "Q" else "X"), exchange))
        elif parsed.kind == "FUT":
            later = parsed.expiry.replace(day=1) if parsed.expiry.day != 1 else parsed.expiry
            unknown.append((f"{parsed.name}{vocabulary.expiry_code(later)}FUT", exchange))
        else:
            assert parsed.strike is not None  # an option
            code, strike = vocabulary.expiry_code(parsed.expiry), parsed.strike + 1
            unknown.append(
                (f"{parsed.name}{code}{vocabulary.strike_text(strike)}{parsed.kind}", exchange)
            )
    return unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small data, a few seconds (CI)")
    parser.add_argument("--samples", type=int, default=None, help="distinct symbols per tier")
    parser.add_argument(
        "--broker", default=None, help="broker of the bench rows (default bench, bench_smoke)"
    )
    args = parser.parse_args()
    samples = args.samples or (200 if args.smoke else 3000)

    import django

    django.setup()
    import logging

    logging.getLogger("jainam_prop").setLevel(logging.ERROR)  # no log line per miss
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection

    from jainam_prop import vocabulary
    from jainam_prop.errors import SymbolNotFound
    from jainam_prop.models import SymbolToken
    from jainam_prop.services import current_generation, get_token_from_symbol, get_tokens
    from jainam_prop.services.lookups import cache as lookup_cache
    from jainam_prop.services.lookups import clear_process_memory

    if not settings.REDIS_URL or connection.vendor != "postgresql":
        print("bench: the targets are for PostgreSQL + Redis; set DATABASE_URL and REDIS_URL")
    call_command("migrate", verbosity=0)
    broker = args.broker or ("bench_smoke" if args.smoke else "bench")
    rows = generated_master(SMOKE_SEGMENTS if args.smoke else FULL_SEGMENTS, vocabulary.today_ist())
    stored = ensure_instruments(rows, broker=broker)
    rng = random.Random(7)
    everything = list(
        SymbolToken.objects.filter(broker=broker).values_list("symbol", "exchange", "token")
    )
    sample = rng.sample(everything, min(samples, len(everything)))
    pairs = [(s, e) for s, e, _ in sample]
    known = {(s, e) for s, e, _ in everything}
    unknown = [pair for pair in unknown_symbols(pairs) if pair not in known]

    # Floors on the same services: the keys the service writes, the same SELECT.
    cache = caches["default"]
    client = None
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
    connection.ensure_connection()
    raw_cursor = connection.connection.cursor()
    q = connection.ops.quote_name
    columns = ", ".join(q(column) for column in vocabulary.INSTRUMENT_COLUMNS)  # what it reads
    placeholder = "?" if connection.vendor == "sqlite" else "%s"
    sql = (
        f"SELECT {columns} FROM {q(SymbolToken._meta.db_table)} WHERE {q('broker')} = "
        f"{placeholder} AND {q('exchange')} = {placeholder} AND {q('symbol')} = {placeholder}"
    )

    def lookup(pair):
        return lambda: get_token_from_symbol(*pair, broker=broker)

    def lookup_unknown(pair):
        def call():
            try:
                get_token_from_symbol(*pair, broker=broker)
            except SymbolNotFound:
                return
            raise AssertionError(f"{pair} exists")

        return call

    def raw_select(pair):
        return lambda: (raw_cursor.execute(sql, (broker, pair[1], pair[0])), raw_cursor.fetchone())

    def forget():
        clear_process_memory(keep_generation=True)

    for symbol, exchange, token in sample[:50]:  # the service answers what the table holds
        assert get_token_from_symbol(symbol, exchange, broker=broker) == token

    # 1. Database (cold): the first lookup of each symbol after a new generation (service
    #    first, so the raw SELECT finds the row's pages already cached: the floor gets the
    #    advantage). Unknown symbols likewise, with their suggestions.
    new_generation(broker)
    cold, floor_select, missed = [], [], []
    for pair in pairs:
        cold.append(timed(lookup(pair)))
        floor_select.append(timed(raw_select(pair)))
    for pair in unknown:
        missed.append(timed(lookup_unknown(pair)))
    generation = current_generation(broker=broker)
    keys = [cache.make_key(lookup_cache.key(broker, generation, "s", s, e)) for s, e in pairs]
    # 2. Redis: the same symbols, gone from process memory but cached in Redis.
    redis_path, floor_get, api_get = [], [], []
    names = [lookup_cache.key(broker, generation, "s", s, e) for s, e in pairs]
    for pair, key, name in zip(pairs, keys, names, strict=True):
        redis_path.append(timed(lookup(pair), before=forget))
        if client is not None:
            floor_get.append(timed(partial(client.get, key)))
            api_get.append(timed(partial(cache.get, name)))
    # 3. Process memory: the same symbols again, many times.
    for pair in pairs:
        get_token_from_symbol(*pair, broker=broker)
    memory = [timed(lookup(pair)) for pair in pairs * 20]
    # 4. Batch of 100 from Redis.
    batch, floor_mget, api_mget = [], [], []
    for _ in range(5):
        for i in range(0, len(pairs) - 99, 100):
            chunk, chunk_keys = pairs[i : i + 100], keys[i : i + 100]
            batch.append(timed(partial(get_tokens, chunk, broker=broker), before=forget))
            if client is not None:
                floor_mget.append(timed(partial(client.mget, chunk_keys)))
                api_mget.append(timed(partial(cache.get_many, names[i : i + 100])))
    if client is not None:
        assert client.get(keys[0]) is not None, "the service's key is not in Redis"

    def row(name, samples, floor_name, floor, target, *, ratio=None, p50_limit=None):
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        if not floor:
            met = "-" if p50_limit is None else ("yes" if p50 <= p50_limit else "NO")
            return f"| {name} | {p50:.1f} | {p99:.1f} | {floor_name} | - | - | {target} | {met} |"
        f50 = statistics.median(floor)
        met = "yes" if p50 / f50 <= ratio else "NO"
        return (
            f"| {name} | {p50:.1f} | {p99:.1f} | {floor_name} | {f50:.1f} | "
            f"{p50 / f50:.2f}x | {target} | {met} |"
        )

    print()
    print(
        f"{stored:,} instruments; {connection.vendor} + "
        f"{type(cache).__module__.split('.')[0]}; {len(pairs):,} distinct symbols per tier, "
        f"{len(unknown):,} unknown ones"
    )
    print()
    print("| path | p50 us | p99 us | floor | floor p50 us | ratio | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    print(row("database (cold)", cold, "raw indexed SELECT", floor_select, "<= 2x", ratio=2))
    print(row("unknown symbol + suggestions", missed, "-", None, "<= 5000 us", p50_limit=5000))
    print(row("Redis", redis_path, "raw redis-py GET", floor_get, "<= 1.5x", ratio=1.5))
    print(row("process memory", memory, "-", None, "<= 5 us", p50_limit=5))
    print(row("batch of 100 (Redis)", batch, "raw MGET of 100", floor_mget, "<= 2x", ratio=2))
    if client is not None:  # what Django's cache API itself costs over the raw commands
        print()
        print("| Django cache API alone | p50 us | p99 us | floor | floor p50 us | ratio |")
        print("|---|---|---|---|---|---|")
        for name, samples, floor_name, floor in (
            ("cache.get", api_get, "raw redis-py GET", floor_get),
            ("cache.get_many of 100", api_mget, "raw MGET of 100", floor_mget),
        ):
            p50, f50 = statistics.median(samples), statistics.median(floor)
            print(
                f"| {name} | {p50:.1f} | {percentile(samples, 0.99):.1f} | {floor_name} | "
                f"{f50:.1f} | {p50 / f50:.2f}x |"
            )


if __name__ == "__main__":
    main()
