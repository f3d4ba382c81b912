"""Benchmark: token lookups on 150,000 instruments, per tier, against the raw floors.

Not a test: it prints a table. Run on PostgreSQL + Redis (the target):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lookups_bench \
    REDIS_URL=redis://127.0.0.1:6379/3 CACHE_KEY_PREFIX=lookups_bench \
    .venv/bin/python bench/bench_lookups.py

Uses the instruments already synced in that database; if the broker has none, creates 150,000
synthetic ones with ``bulk_create`` and bumps the generation as a sync would. Measures, in one
run on the same connections: p50 and p99 of ``get_token_from_symbol`` answered by the database
(cold: the first lookup of each symbol after a sync), by Redis, by process memory, and of
``get_tokens`` for 100 pairs answered by Redis; and the floors: a raw redis-py GET and MGET of
100 of the same keys, and the same indexed SELECT through the raw psycopg cursor.
Targets (issue 3): Redis path p50 <= 1.5x raw GET; database path p50 <= 2x raw SELECT; memory
path p50 < 5 us; batch of 100 <= 2x raw MGET.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# DEBUG stays off: Django would record every query and distort the timings.
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")

INSTRUMENTS = 150_000
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


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


def synthetic_rows(count: int, broker: str) -> list:
    """Realistic instruments: NFO/BFO/MCX/CDS options and futures, NSE/BSE equities."""
    from jainam_prop.models import SymbolToken

    rows: list[SymbolToken] = []
    layouts = [  # exchange, segment, share of rows, underlyings, lot, tick
        ("NFO", "NSEFO", 0.55, 180, 75, "0.05"),
        ("BFO", "BSEFO", 0.12, 20, 20, "0.05"),
        ("MCX", "MCXFO", 0.10, 40, 100, "1"),
        ("CDS", "NSECD", 0.08, 10, 1000, "0.0025"),
        ("NSE", "NSECM", 0.08, 0, 1, "0.05"),
        ("BSE", "BSECM", 0.07, 0, 1, "0.05"),
    ]
    for exchange, segment, share, underlyings, lot, tick in layouts:
        n = int(count * share) if exchange != "BSE" else count - len(rows)
        token = 10_000
        if not underlyings:  # cash: one row per equity
            for i in range(n):
                name = f"EQ{exchange}{i:05d}"
                rows.append(
                    SymbolToken(
                        broker=broker,
                        symbol=name,
                        exchange=exchange,
                        token=token + i,
                        brsymbol=f"{name}-EQ",
                        brexchange=segment,
                        name=name,
                        expiry=None,
                        strike=None,
                        lot_size=lot,
                        tick_size=Decimal(tick),
                        instrument_type="EQ",
                    )
                )
            continue
        expiries = [dt.date(2026, 8, 25) + dt.timedelta(days=7 * w) for w in range(12)]
        contracts = (
            (u, expiry, strike, kind)
            for strike in range(10_000, 10_000_000, 50)
            for u in range(underlyings)
            for expiry in expiries
            for kind in ("CE", "PE")
        )
        for made, (u, expiry, strike, kind) in enumerate(islice(contracts, n)):
            name = f"UND{exchange}{u:03d}"
            code = f"{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"
            symbol = f"{name}{code}{strike}{kind}"
            rows.append(
                SymbolToken(
                    broker=broker,
                    symbol=symbol,
                    exchange=exchange,
                    token=token + made,
                    brsymbol=symbol,
                    brexchange=segment,
                    name=name,
                    expiry=expiry,
                    strike=Decimal(strike),
                    lot_size=lot,
                    tick_size=Decimal(tick),
                    instrument_type=kind,
                )
            )
    return rows


def ensure_instruments(broker: str) -> int:
    from django.db import connection, transaction

    from jainam_prop.models import LookupGeneration, SymbolToken
    from jainam_prop.services.lookups import publish_generation

    count = SymbolToken.objects.filter(broker=broker).count()
    if count:
        return count
    print(f"bench: no instruments for {broker}; creating ~{INSTRUMENTS:,} synthetic rows")
    rows = synthetic_rows(INSTRUMENTS, broker)
    with transaction.atomic():
        LookupGeneration.objects.get_or_create(broker=broker)
        generation = LookupGeneration.objects.select_for_update().get(broker=broker)
        SymbolToken.objects.bulk_create(rows, batch_size=5000)
        generation.generation += 1
        generation.save()
        new = generation.generation
        transaction.on_commit(lambda: publish_generation(broker=broker, generation=new))
    with connection.cursor() as cursor:  # fresh statistics, as after a real sync
        cursor.execute(f"ANALYZE {SymbolToken._meta.db_table}")
    return len(rows)


def bump_generation(broker: str) -> None:
    """What a sync does to the caches (without rewriting the rows): every answer goes cold."""
    from django.db import transaction

    from jainam_prop.models import LookupGeneration
    from jainam_prop.services.lookups import publish_generation

    with transaction.atomic():
        generation = LookupGeneration.objects.select_for_update().get(broker=broker)
        generation.generation += 1
        generation.save()
        new = generation.generation
        transaction.on_commit(lambda: publish_generation(broker=broker, generation=new))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000, help="distinct symbols per tier")
    parser.add_argument("--broker", default="jainam_prop")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection

    from jainam_prop.models import SymbolToken
    from jainam_prop.services import lookups
    from jainam_prop.services.lookups import clear_process_memory, get_token_from_symbol, get_tokens

    if not settings.REDIS_URL or connection.vendor != "postgresql":
        print("bench: the targets are for PostgreSQL + Redis; set DATABASE_URL and REDIS_URL")
    call_command("migrate", verbosity=0)
    broker = args.broker
    stored = ensure_instruments(broker)
    rng = random.Random(7)
    everything = list(
        SymbolToken.objects.filter(broker=broker).values_list("symbol", "exchange", "token")
    )
    sample = rng.sample(everything, min(args.samples, len(everything)))
    pairs = [(s, e) for s, e, _ in sample]
    for symbol, exchange, token in sample[:50]:  # the service answers what the table holds
        assert get_token_from_symbol(symbol, exchange, broker=broker) == token

    # Floors on the same services: the keys the service writes, the same SELECT, measured
    # interleaved with the service (one call each, in turn) so both see the same machine load.
    cache = caches[lookups._config().cache_alias]
    client = None
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
    connection.ensure_connection()
    raw_cursor = connection.connection.cursor()
    sql = lookups._sql("by_symbol")
    if connection.vendor == "sqlite":
        sql = sql.replace("%s", "?")

    def lookup(pair):
        return lambda: get_token_from_symbol(*pair, broker=broker)

    def raw_select(pair):
        return lambda: (raw_cursor.execute(sql, (broker, pair[1], pair[0])), raw_cursor.fetchone())

    def forget():
        clear_process_memory(keep_generation=True)

    # 1. Database (cold): the first lookup of each symbol after a sync (service first, so the
    #    raw SELECT finds the row's pages already cached: the floor gets the advantage).
    bump_generation(broker)
    cold, floor_select = [], []
    for pair in pairs:
        cold.append(timed(lookup(pair)))
        floor_select.append(timed(raw_select(pair)))
    lookups.flush_cache_writes()  # the cold lookups' cache fills, written in the background
    generation = lookups.current_generation(broker=broker)
    keys = [cache.make_key(lookups._symbol_key(broker, generation, e, s)) for s, e in pairs]
    # 2. Redis: the same symbols, gone from process memory but cached in Redis.
    redis_path, floor_get = [], []
    for pair, key in zip(pairs, keys, strict=True):
        redis_path.append(timed(lookup(pair), before=forget))
        if client is not None:
            floor_get.append(timed(lambda key=key: client.get(key)))
    # 3. Process memory: the same symbols again, many times.
    for pair in pairs:
        get_token_from_symbol(*pair, broker=broker)
    memory = [timed(lookup(pair)) for pair in pairs * 20]
    # 4. Batch of 100 from Redis.
    batch, floor_mget = [], []
    for _ in range(5):
        for i in range(0, len(pairs) - 99, 100):
            chunk, chunk_keys = pairs[i : i + 100], keys[i : i + 100]
            batch.append(timed(lambda chunk=chunk: get_tokens(chunk, broker=broker), before=forget))
            if client is not None:
                floor_mget.append(timed(lambda chunk_keys=chunk_keys: client.mget(chunk_keys)))
    if client is not None:
        assert client.get(keys[0]) is not None, "the service's key is not in Redis"

    def row(name, samples, floor_name, floor, target):
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        if floor is None:
            return f"| {name} | {p50:.1f} | {p99:.1f} | {floor_name} | - | - | {target} |"
        f50 = statistics.median(floor)
        return (
            f"| {name} | {p50:.1f} | {p99:.1f} | {floor_name} | {f50:.1f} | "
            f"{p50 / f50:.2f}x | {target} |"
        )

    print()
    print(
        f"{stored:,} instruments; {connection.vendor} + "
        f"{type(cache).__module__.split('.')[0]}; {len(pairs):,} distinct symbols per tier"
    )
    print()
    print("| path | p50 us | p99 us | floor | floor p50 us | ratio | target |")
    print("|---|---|---|---|---|---|---|")
    print(row("database (cold)", cold, "raw indexed SELECT", floor_select, "<= 2x"))
    print(row("Redis", redis_path, "raw redis-py GET", floor_get or None, "<= 1.5x"))
    print(row("process memory", memory, "-", None, "p50 < 5 us"))
    print(row("batch of 100 (Redis)", batch, "raw MGET of 100", floor_mget or None, "<= 2x"))


if __name__ == "__main__":
    main()
