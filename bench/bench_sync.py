"""Benchmark: full master sync (150,000+ instruments) from the XTS test server into the database.

Not a test: it prints a table. Run on PostgreSQL (the target) or any DATABASE_URL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench_sync.py

It measures, in one run on the same machine:
- end to end: ``manage.py sync_master_contract`` as a child process (download from the test
  server over loopback, parse, write), its phases and its peak RSS; once into an empty table
  (first sync) and once replacing the rows (the daily case);
- the floors: a raw psycopg COPY of the same prepared rows (PostgreSQL only) and a raw
  ``bulk_create`` of the same prepared model instances, each in a transaction rolled back.
Targets (issue 2): end to end within 1.5x of the bulk_create floor, under 10 s, peak RSS under
300 MB.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")


def start_test_server(dataset: str) -> tuple[subprocess.Popen, str]:
    url_file = Path(tempfile.mkstemp(prefix="xts-url-")[1])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xts_testserver",
            "--dataset",
            dataset,
            "--port",
            "0",
            "--url-file",
            str(url_file),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(300):
        text = url_file.read_text() if url_file.exists() else ""
        match = re.search(r"^market_url=(\S+)", text, re.M)
        if match:
            return proc, match.group(1)
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("bench: the XTS test server did not start")


def run_sync(market_url: str) -> dict:
    env = {**os.environ, "JAINAM_MARKET_URL": market_url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_master_contract", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if result.returncode:
        raise SystemExit(f"bench: sync failed:\n{result.stderr}")
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    phases = dict(re.findall(r"(download|parse|write) ([\d.]+)s", result.stdout))
    stored = int(re.search(r"stored (\d+) instruments", result.stdout).group(1))
    return {
        "wall": wall,
        "phases": {k: float(v) for k, v in phases.items()},
        "stored": stored,
        # RUSAGE_CHILDREN is the max over children so far; runs are ordered so it is exact
        # for the first and an upper bound for later ones.
        "rss_mb": max(rss_kb, before) / 1024,
    }


def floors(market_url: str) -> dict:
    import django

    django.setup()
    from django.db import connection, transaction

    from jainam_prop.models import SymbolToken
    from jainam_prop.services.sync import (
        _bulk_insert,
        _download,
        _model_batches,
        _parse_as_they_come,
    )

    os.environ["JAINAM_MARKET_URL"] = market_url
    from django.conf import settings

    settings.JAINAM_MARKET_URL = market_url
    from jainam_prop.master_parser import MASTER_SEGMENTS

    payloads = _download(segments=list(MASTER_SEGMENTS), notify=lambda m: None)
    rows = _parse_as_they_come(payloads)[0].rows
    objects = [o for batch in _model_batches(rows, broker="bench_floor", size=5000) for o in batch]
    result = {"rows": len(objects)}

    with transaction.atomic():
        t0 = time.perf_counter()
        SymbolToken.objects.bulk_create(objects, batch_size=2000)
        result["bulk_create"] = time.perf_counter() - t0
        transaction.set_rollback(True)

    with transaction.atomic():
        t0 = time.perf_counter()
        _bulk_insert(rows, broker="bench_floor")
        result["our_insert"] = time.perf_counter() - t0
        transaction.set_rollback(True)

    if connection.vendor == "postgresql":
        columns = [
            "broker",
            "symbol",
            "exchange",
            "token",
            "brsymbol",
            "brexchange",
            "name",
            "expiry",
            "strike",
            "lot_size",
            "tick_size",
            "instrument_type",
        ]
        records = [tuple(getattr(o, c) for c in columns) for o in objects]
        with transaction.atomic():
            connection.ensure_connection()
            raw = connection.connection
            t0 = time.perf_counter()
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY jainam_prop_symboltoken ({', '.join(columns)}) FROM STDIN"
                ) as copy,
            ):
                for record in records:
                    copy.write_row(record)
            result["copy"] = time.perf_counter() - t0
            transaction.set_rollback(True)
    return result


def main() -> None:
    dataset = os.environ.get("BENCH_DATASET", "full")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    server, market_url = start_test_server(dataset)
    try:
        first = run_sync(market_url)
        replace = run_sync(market_url)
        floor = floors(market_url)
    finally:
        server.terminate()
        server.wait(timeout=10)

    from django.db import connection

    print(
        f"\nSync benchmark: {first['stored']:,} instruments, backend {connection.vendor}, "
        f"{os.cpu_count()} cores\n"
    )
    print(f"| {'measure':<44} | {'seconds':>8} | {'vs bulk_create floor':>20} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 22}|")
    base = floor["bulk_create"]

    def line(name: str, seconds: float) -> None:
        print(f"| {name:<44} | {seconds:>8.2f} | {seconds / base:>19.2f}x |")

    if "copy" in floor:
        line("floor: raw psycopg COPY (prepared rows)", floor["copy"])
    line("floor: raw bulk_create (prepared instances)", base)
    line("our insert (frame -> instances -> bulk_create)", floor["our_insert"])
    for label, run in (("first sync (empty table)", first), ("daily sync (replace)", replace)):
        line(f"end to end, {label}", run["wall"])
        for phase, seconds in run["phases"].items():
            line(f"  phase {phase}", seconds)
    print(f"\npeak RSS of the sync process: {first['rss_mb']:.0f} MB (target < 300 MB)")
    print(
        f"targets: end to end <= 1.5x floor and < 10 s: daily sync "
        f"{replace['wall'] / base:.2f}x, {replace['wall']:.1f} s"
    )


if __name__ == "__main__":
    main()
