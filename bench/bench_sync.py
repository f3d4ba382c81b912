"""Benchmark: the master sync (150,000+ instruments) from the XTS test server into the database.

Not a test: it prints a table. Run on PostgreSQL (the target) or any DATABASE_URL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench_sync.py
    .venv/bin/python bench/bench_sync.py --smoke     # small data, seconds (CI)

Each round (median over ``--rounds``, default 3) measures, on the same machine in one run:

- end to end, as whole processes (``manage.py sync_master_contract``: start-up, download from
  the test server over loopback, parse, compare, write), with each process's peak RSS:
  a first sync into an empty table; an unchanged re-sync; a realistic day (about 3% of the
  rows: yesterday's weekly expiry gone, a new weekly expiry listed, lot-size revisions of a
  few underlyings);
- the floor, in this process: the same rows, already converted, written with a raw psycopg
  ``COPY`` into the empty table (PostgreSQL; ``bulk_create`` elsewhere), rolled back;
- the parse alone (``parse_master`` of every segment) next to a plain ``pandas.read_csv`` of
  the same text.

Targets (PostgreSQL, full dataset): unchanged re-sync <= 2 s, realistic day <= 3 s, first
sync <= 3x the COPY floor, peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-key")

TARGETS = {"unchanged": 2.0, "day": 3.0, "first_vs_floor": 3.0, "rss_mb": 150.0}
F_TOKEN, F_LOT, F_EXPIRY = 1, 12, 16  # fields of an XTS master line
DAY_SHARE = 0.03  # rows a realistic day changes


# --- the test server ---------------------------------------------------------------------------


class Server:
    """``python -m xts_testserver`` as a child process, masters replaced through /_control."""

    def __init__(self, *, dataset: str, anchor: date) -> None:
        url_file = Path(tempfile.mkstemp(prefix="xts-url-")[1])
        url_file.unlink()
        command = [sys.executable, "-m", "xts_testserver", "--dataset", dataset]
        command += ["--anchor", anchor.isoformat(), "--port", "0", "--url-file", str(url_file)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        for _ in range(600):
            if url_file.exists():
                urls = dict(re.findall(r"^(\w+)=(\S+)$", url_file.read_text(), re.M))
                self.market_url, self.control_url = urls["market_url"], urls["control_url"]
                return
            time.sleep(0.05)
        self.process.kill()
        raise SystemExit("bench: the XTS test server did not start")

    def set_master(self, segment: str, text: str) -> None:
        body = json.dumps({"segment": segment, "text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 (the test server on loopback)
            f"{self.control_url}/dataset", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- masters: day 0 and a realistic next day ---------------------------------------------------


def _moved(lines: list[str], *, to: date, first_token: int) -> list[str]:
    """Copies of ``lines`` expiring on ``to`` (time of day kept), with fresh tokens."""
    result = []
    for i, line in enumerate(lines):
        fields = line.split("|")
        fields[F_TOKEN] = str(first_token + i)
        fields[F_EXPIRY] = to.isoformat() + fields[F_EXPIRY][10:]
        result.append("|".join(fields))
    return result


def build_days(text: str, *, today: date, total_rows: int) -> tuple[str, str, dict[str, int]]:
    """(day 0, day 1) of one F&O master and the changes day 1 brings.

    Day 0 is the master with contracts that end today: on an expiry day the master's own, on
    other days copies of the earliest small expiry group moved to today (one that ended
    yesterday would never be stored: the sync skips dead contracts). Day 1 drops them, as the
    exchange does once they expired, lists a new weekly expiry on an unused date, and revises
    the lot size of whole underlyings until about ``DAY_SHARE`` of ``total_rows`` change.
    """
    lines = [line for line in text.split("\n") if line]
    fields = [line.split("|") for line in lines]
    by_expiry: dict[str, list[int]] = {}
    for i, f in enumerate(fields):
        by_expiry.setdefault(f[F_EXPIRY][:10], []).append(i)
    small = [d for d in sorted(by_expiry) if len(by_expiry[d]) <= max(1, len(lines) // 20)]
    group_date = (small or sorted(by_expiry))[0]
    group = [lines[i] for i in by_expiry[group_date]]
    token = max(int(f[F_TOKEN]) for f in fields) + 1
    # On an expiry day the master already lists contracts ending today: day 1 drops those.
    # Otherwise day 0 gets copies of the group moved to today, which day 1 drops.
    ending = set(by_expiry.get(today.isoformat(), ()))
    expired = [] if ending else _moved(group, to=today, first_token=token)
    new_date = date.fromisoformat(group_date) + timedelta(days=7)
    while new_date.isoformat() in by_expiry:
        new_date += timedelta(days=7)
    listed = _moved(group, to=new_date, first_token=token + len(group))
    revise = max(0, int(total_rows * DAY_SHARE) - 2 * len(group))
    by_name: dict[str, list[int]] = {}
    for i, f in enumerate(fields):
        if f[5].endswith("STK") and i not in ending:  # FUTSTK / OPTSTK: stock contracts
            by_name.setdefault(f[3], []).append(i)
    revised: set[int] = set()
    for name in sorted(by_name):
        if len(revised) >= revise:
            break
        revised.update(by_name[name])
    day1 = []
    for i, f in enumerate(fields):
        if i in ending:
            continue
        if i in revised:
            f = list(f)
            f[F_LOT] = str(int(f[F_LOT]) + max(1, int(f[F_LOT]) // 10))
            day1.append("|".join(f))
        else:
            day1.append(lines[i])
    changes = {
        "removed": len(expired) + len(ending),
        "added": len(listed),
        "changed": len(revised),
    }
    return "\n".join(lines + expired), "\n".join(day1 + listed), changes


# --- measures ----------------------------------------------------------------------------------


# A small process that runs the sync and writes its peak RSS (KB) to a file. The sync is not
# started from this big process directly: Linux counts the image a child was spawned from in
# its peak RSS.
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def run_sync(market_url: str, *args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one ``manage.py sync_master_contract`` process."""
    env = {**os.environ, "JAINAM_MARKET_URL": market_url}
    with tempfile.NamedTemporaryFile("r") as rss_file:
        command = [sys.executable, "-c", LAUNCHER, rss_file.name]
        command += [sys.executable, "manage.py", "sync_master_contract", *args]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        peak_kb = int(rss_file.read() or 0)
    if result.returncode:
        raise SystemExit(
            f"bench: sync failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return wall, peak_kb / 1024, result.stdout


def totals(stdout: str) -> dict[str, int]:
    match = re.search(r"\(added (\d+), removed (\d+), changed (\d+)\)", stdout)
    if match is None:
        raise SystemExit(f"bench: no summary in the sync's output:\n{stdout}")
    return dict(zip(("added", "removed", "changed"), map(int, match.groups()), strict=True))


def empty_table() -> None:
    from jainam_prop.models import LookupGeneration, SymbolToken

    SymbolToken.objects.all().delete()
    LookupGeneration.objects.all().delete()
    settle()


def settle() -> None:
    """PostgreSQL: VACUUM away the previous measure's dead rows (as autovacuum does between
    two daily syncs), so that each measure starts from the same table state."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) jainam_prop_symboltoken")


def parse_all(texts: dict[str, str], indexes: dict[str, list[str]]):
    from jainam_prop.master_parser import merge_parsed, parse_index_list, parse_master

    parts = [parse_master(text, segment=segment) for segment, text in texts.items()]
    parts += [parse_index_list(entries, segment=s) for s, entries in indexes.items()]
    return merge_parsed(parts).rows


def read_csv_all(texts: dict[str, str]) -> None:
    import pandas as pd

    for text in texts.values():
        pd.read_csv(io.StringIO(text), sep="|", header=None, names=range(24), dtype=str)


def floor_seconds(rows) -> float:
    """The rows, already converted, written raw into the (empty) table and rolled back."""
    from django.db import connection, transaction

    from jainam_prop.models import SymbolToken
    from jainam_prop.services.sync.columns import db_rows

    names, values = db_rows(rows, broker="bench_floor")
    records = list(zip(*values, strict=True))
    settle()
    with transaction.atomic():
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            q = connection.ops.quote_name
            statement = (
                f"COPY {q(SymbolToken._meta.db_table)} ({', '.join(q(n) for n in names)}) "
                "FROM STDIN"
            )
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for record in records:
                    copy.write_row(record)
        else:
            objects = [SymbolToken(**dict(zip(names, r, strict=True))) for r in records]
            SymbolToken.objects.bulk_create(objects, batch_size=2000)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="sample data, one round (CI)")
    parser.add_argument("--rounds", type=int, default=None)
    options = parser.parse_args()
    # The smoke run uses the real sample lines moved to live dates: the sync skips dead contracts.
    dataset = "samples-live" if options.smoke else "full"
    rounds = options.rounds or (1 if options.smoke else 3)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.db import connection

    from jainam_prop.vocabulary import INDEX_SEGMENTS, MASTER_SEGMENTS, today_ist
    from xts_testserver import datasets

    today = today_ist()
    texts = {s: datasets.master_text(dataset, s, anchor=today) for s in MASTER_SEGMENTS}
    indexes = {s: datasets.index_entries(dataset, s) for s in INDEX_SEGMENTS}
    rows = parse_all(texts, indexes)
    day0, day1, expected = build_days(texts["NSEFO"], today=today, total_rows=len(rows))
    first_texts = {**texts, "NSEFO": day0}
    first_rows = parse_all(first_texts, indexes)
    del rows

    measures: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    seen: dict[str, dict[str, int]] = {}

    def record(name: str, seconds: float, peak: float | None = None) -> None:
        measures.setdefault(name, []).append(seconds)
        if peak is not None:
            rss[name] = max(rss.get(name, 0.0), peak)

    server = Server(dataset=dataset, anchor=today)
    try:
        for round_no in range(rounds):
            print(f"bench: round {round_no + 1}/{rounds}", file=sys.stderr)
            record("floor: raw COPY of the converted rows", floor_seconds(first_rows))
            record("parse alone (parse_master, every segment)", timed(parse_all, texts, indexes))
            record("plain pandas.read_csv of the same text", timed(read_csv_all, texts))
            server.set_master("NSEFO", day0)
            empty_table()
            wall, peak, _ = run_sync(server.market_url)
            record("first sync (empty table)", wall, peak)
            settle()
            wall, peak, out = run_sync(server.market_url)
            record("unchanged re-sync", wall, peak)
            seen["unchanged"] = totals(out)
            server.set_master("NSEFO", day1)
            settle()
            wall, peak, out = run_sync(server.market_url)
            record("realistic day", wall, peak)
            seen["day"] = totals(out)
    finally:
        server.stop()

    floor_name = "floor: raw COPY of the converted rows"
    if connection.vendor != "postgresql":
        floor_name_shown = "floor: raw bulk_create of the converted rows"
    else:
        floor_name_shown = floor_name
    floor = statistics.median(measures[floor_name])
    print(
        f"\nSync benchmark: {len(first_rows):,} instruments ({dataset}), backend "
        f"{connection.vendor}, {os.cpu_count()} cores, {rounds} round(s), median (min)\n"
    )
    print(f"| {'measure':<46} | {'median s':>8} | {'min s':>6} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 48}|{'-' * 10}|{'-' * 8}|{'-' * 13}|")
    for name, values in measures.items():
        shown = floor_name_shown if name == floor_name else name
        peak_shown = f"{rss[name]:.0f}" if name in rss else "-"
        print(
            f"| {shown:<46} | {statistics.median(values):>8.2f} | {min(values):>6.2f} | "
            f"{peak_shown:>11} |"
        )
    print(f"\nrealistic day: expected {expected}, the sync reported {seen['day']}")
    print(f"unchanged re-sync reported {seen['unchanged']}")
    if seen["unchanged"] != {"added": 0, "removed": 0, "changed": 0}:
        raise SystemExit("bench: the unchanged re-sync changed rows")
    if seen["day"] != expected:
        raise SystemExit("bench: the realistic day did not change what it should")

    first = statistics.median(measures["first sync (empty table)"])
    unchanged = statistics.median(measures["unchanged re-sync"])
    day = statistics.median(measures["realistic day"])
    peak = max(rss.values())
    checks = [
        (f"unchanged re-sync {unchanged:.2f} s", f"<= {TARGETS['unchanged']} s",
         unchanged <= TARGETS["unchanged"]),
        (f"realistic day {day:.2f} s", f"<= {TARGETS['day']} s", day <= TARGETS["day"]),
        (f"first sync {first / floor:.1f}x the floor", f"<= {TARGETS['first_vs_floor']}x",
         first / floor <= TARGETS["first_vs_floor"]),
        (f"peak RSS {peak:.0f} MB", f"<= {TARGETS['rss_mb']:.0f} MB", peak <= TARGETS["rss_mb"]),
    ]  # fmt: skip
    scope = "" if (connection.vendor == "postgresql" and dataset == "full") else " (informative:"
    scope += "" if not scope else " the targets are for PostgreSQL and the full dataset)"
    print(f"\ntargets{scope}:")
    for measured, target, ok in checks:
        print(f"- {measured} ({target}): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
