"""Benchmark: the admin's instrument pages on the full master (150,000+ instruments).

Not a test: it prints a table. Run on PostgreSQL (the target; the database is created if
missing):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/admin_bench \\
        .venv/bin/python bench/bench_admin.py

The instruments come from the real sync (``services.sync.sync_master_contract``) importing the
XTS test server's full generated master as files, so the rows, their spread over exchanges and
the indexes are the product's own. The table is filled once and reused (``--reload`` forces a
new sync). Each page is rendered server-side through Django's test ``Client`` as a staff user
holding only view permissions (the most queries: the permission lookups), first with an empty
cache ("cold": the filter choices are computed) and then ``--repeat`` times ("warm").
Target: every page under 150 ms server-side (the dashboard under 100 ms) with at most 8 SQL
queries. The EXPLAIN
(ANALYZE) plans of the search queries are printed after the table.

``--smoke`` (CI) syncs the small real-sample master with live dates instead, renders each page
twice and judges no target: it proves that every page and the bench itself still run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production-like: no DEBUG (cached templates, no query log); the key is for this process only.
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-admin-only")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/admin_bench")

TARGET_MS = 150.0
# The dashboard (the admin's index page) has its own, tighter target.
DASHBOARD_TARGET_MS = 100.0
QUERY_BUDGET = 8
MIN_INSTRUMENTS = 150_000
SMOKE_MIN_INSTRUMENTS = 300


def ensure_database() -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    if "postgresql" not in config["ENGINE"]:
        return
    conninfo: dict[str, Any] = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
            print(f"bench: created database {config['NAME']}")


def load_instruments(*, reload: bool, smoke: bool = False) -> None:
    from django.db import connection

    from jainam_prop.models import SymbolToken
    from jainam_prop.services.sync import sync_master_contract
    from xts_testserver import datasets
    from xts_testserver.generator import generate_masters

    least = SMOKE_MIN_INSTRUMENTS if smoke else MIN_INSTRUMENTS
    stored = SymbolToken.objects.count()
    if stored >= MIN_INSTRUMENTS and not reload and not smoke:
        print(f"bench: reusing {stored:,} stored instruments (--reload to sync again)")
        return
    masters = (
        {segment: datasets.master_text("samples-live", segment) for segment in datasets.SEGMENTS}
        if smoke
        else generate_masters()
    )
    with tempfile.TemporaryDirectory(prefix="admin-bench-") as tmp:
        files = []
        for segment, text in masters.items():
            path = Path(tmp) / f"{segment}.txt"
            path.write_text(text, encoding="utf-8")
            files.append(path)
        t0 = time.perf_counter()
        report = sync_master_contract(files=files, force=True)
    print(f"bench: {report.summary()} (wall {time.perf_counter() - t0:.1f}s)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jainam_prop_symboltoken")
    stored = SymbolToken.objects.count()
    if stored < least:
        raise SystemExit(f"bench: only {stored:,} instruments after the sync; need {least:,}")


def history(*, runs: int = 40) -> None:
    """At least ``runs`` sync runs, so that the dashboard draws a full 30-run chart."""
    from datetime import timedelta

    from django.utils import timezone

    from jainam_prop.models import SyncRun

    missing = runs - SyncRun.objects.count()
    now = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            started_at=now - timedelta(days=i + 1),
            finished_at=now - timedelta(days=i + 1) + timedelta(seconds=15 + i % 7),
            status=SyncRun.Status.REFUSED if i % 9 == 4 else SyncRun.Status.SUCCESS,
            source="bench",
            stored=160_000,
            error="Refusing to replace the instruments (bench)" if i % 9 == 4 else "",
        )
        for i in range(max(missing, 0))
    )


def users():
    from django.contrib.auth.models import Permission, User

    viewer, _ = User.objects.get_or_create(username="bench_viewer", defaults={"is_staff": True})
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_symboltoken", "view_syncrun", "view_apikey"])
    )
    root, _ = User.objects.get_or_create(
        username="bench_root", defaults={"is_staff": True, "is_superuser": True}
    )
    return viewer, root


def scenarios(*, smoke: bool = False) -> list[tuple[str, str, dict]]:
    from django.urls import reverse

    from jainam_prop.models import SymbolToken

    changelist = reverse("admin:jainam_prop_symboltoken_changelist")
    option = (
        SymbolToken.objects.filter(exchange="NFO", name="NIFTY", instrument_type="CE")
        .order_by("expiry", "symbol")
        .first()
    )
    if option is None:
        raise SystemExit("bench: no NIFTY option stored")
    prefix = option.symbol[: len("NIFTY") + 7]  # NIFTY + DDMMMYY: one expiry
    return [
        ("dashboard (admin index)", reverse("admin:index"), {}),
        ("list page", changelist, {}),
        ("dead contracts", changelist, {"contract": "dead"}),
        ("all contracts, dead included", changelist, {"contract": "all"}),
        (f"prefix search {prefix}", changelist, {"q": prefix}),
        ("prefix search NIFTY", changelist, {"q": "NIFTY"}),
        ("brsymbol search (lower case)", changelist, {"q": option.brsymbol[:9].lower()}),
        (f"token search {option.token}", changelist, {"q": str(option.token)}),
        ("exchange filter NFO", changelist, {"exchange": "NFO"}),
        ("exchange filter MCX", changelist, {"exchange": "MCX"}),
        ("exchange filter NSE_INDEX", changelist, {"exchange": "NSE_INDEX"}),
        ("instrument type PE", changelist, {"instrument_type": "PE"}),
        ("NFO + search BANKNIFTY", changelist, {"exchange": "NFO", "q": "BANKNIFTY"}),
        ("expiry this week", changelist, {"expiry_range": "week"}),
        ("sorted by token (descending)", changelist, {"o": "-3"}),
        ("no match (ZZZ)", changelist, {"q": "ZZZ"}),
        # The small smoke master has one page of NFO rows.
        ("NFO page 50", changelist, {"exchange": "NFO", "p": "1" if smoke else "50"}),
        (
            "detail page",
            reverse("admin:jainam_prop_symboltoken_change", args=[option.pk]),
            {},
        ),
        ("sync runs", reverse("admin:jainam_prop_syncrun_changelist"), {}),
        ("API keys", reverse("admin:jainam_prop_apikey_changelist"), {}),
    ]


def measure(client, url: str, params: dict, *, repeat: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        t0 = time.perf_counter()
        response = client.get(url, params)
        cold_ms = (time.perf_counter() - t0) * 1000
    # captured_queries reads the connection's log, which the next request clears: count now.
    cold_queries = len(captured.captured_queries)
    if response.status_code != 200:
        raise SystemExit(f"bench: {url} {params} answered {response.status_code}")
    with CaptureQueriesContext(connection) as warm_captured:
        client.get(url, params)
    warm_queries = len(warm_captured.captured_queries)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url, params)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    cl = response.context.get("cl") if response.context else None
    return {
        "cold_ms": cold_ms,
        "median_ms": statistics.median(times),
        "p90_ms": times[max(0, int(len(times) * 0.9) - 1)],
        "max_ms": times[-1],
        "cold_queries": cold_queries,
        "warm_queries": warm_queries,
        "rows": "" if cl is None else str(cl.result_count),
    }


def explain(term: str) -> str:
    from jainam_prop.admin import SymbolTokenAdmin, instrument_search
    from jainam_prop.models import SymbolToken

    queryset = instrument_search(
        SymbolToken.objects.order_by(*SymbolTokenAdmin.search_ordering), term
    )
    return queryset[: SymbolTokenAdmin.list_per_page].explain(analyze=True, buffers=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="warm renders per page")
    parser.add_argument("--reload", action="store_true", help="sync the full master again")
    parser.add_argument(
        "--smoke", action="store_true", help="small sample master, 2 renders, no targets (CI)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 2

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from jainam_prop.models import SymbolToken

    setup_test_environment()  # lets the test Client in (ALLOWED_HOSTS), keeps templates' context
    call_command("migrate", verbosity=0)
    load_instruments(reload=args.reload, smoke=args.smoke)
    history()
    viewer, _ = users()
    client = Client()
    client.force_login(viewer)

    total = SymbolToken.objects.count()
    cache_name = os.environ.get("REDIS_URL") or "in-process"
    print(
        f"bench: {connection.vendor} ({connection.settings_dict['NAME']}), {total:,} instruments, "
        f"cache {cache_name}, staff viewer, {args.repeat} warm runs"
    )
    header = (
        f"{'page':<34} {'cold ms':>8} {'median':>8} {'p90':>8} {'max':>8} "
        f"{'q cold':>6} {'q warm':>6} {'rows':>9}  ok"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    terms = []
    for name, url, params in scenarios(smoke=args.smoke):
        result = measure(client, url, params, repeat=args.repeat)
        target = DASHBOARD_TARGET_MS if url == reverse("admin:index") else TARGET_MS
        ok = result["p90_ms"] < target and result["cold_queries"] <= QUERY_BUDGET
        failures += not ok
        if "q" in params:
            terms.append(params["q"])
        print(
            f"{name:<34} {result['cold_ms']:>8.1f} {result['median_ms']:>8.1f} "
            f"{result['p90_ms']:>8.1f} {result['max_ms']:>8.1f} {result['cold_queries']:>6} "
            f"{result['warm_queries']:>6} {result['rows']:>9}  {'yes' if ok else 'NO'}"
        )
    print(
        f"\ntarget: p90 < {TARGET_MS:.0f} ms (dashboard < {DASHBOARD_TARGET_MS:.0f} ms) and "
        f"<= {QUERY_BUDGET} queries per page"
    )
    for term in terms[:3]:
        print(f"\nEXPLAIN ANALYZE of the page query for search {term!r}:")
        print(explain(term))
    if args.smoke:
        print(f"\nbench: smoke run on {total:,} instruments: targets not judged")
        return
    if failures:
        raise SystemExit(f"bench: {failures} page(s) missed the target")


if __name__ == "__main__":
    main()
