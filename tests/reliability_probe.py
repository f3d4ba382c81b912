"""Child process of tests/test_reliability_sync.py: looks instruments up in a loop, like a
gunicorn worker would, and checks every answer as it goes.

Usage: python tests/reliability_probe.py EXPECT_JSON STOP_FILE [--seed N] [--clear-every N]
                                   [--cache-retry SECONDS] [--pause SECONDS] [--max-seconds N]

EXPECT_JSON holds ``{"entries": [[symbol, exchange, old_token, new_token], ...]}``: every
answer for a symbol must be its old or its new token (never not-found, never an error, never
another token). Entries whose token does not change are also looked up by token (the answer
must be their symbol) and by prefix search (a database read on every call).

Output (stdout, one line each): ``READY``, then ``COUNT <lookups>`` every 100 lookups and
``GEN <generation>`` whenever the generation this process uses changes. When STOP_FILE appears
it holds the generation the parent committed last: the probe waits (at most 15 s) until it uses
that generation, checks that every entry now answers its new token, prints one ``REPORT
<json>`` line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from jainam_prop.services import (  # noqa: E402
    current_generation,
    get_symbol_from_token,
    get_token_from_symbol,
    get_tokens,
    search_instruments,
)
from jainam_prop.services.lookups import clear_process_memory  # noqa: E402

BATCH = 50
MAX_RECORDED = 20


class Tally:
    def __init__(self) -> None:
        self.lookups = 0
        self.old = 0
        self.new = 0
        self.problems: list[str] = []
        self.problem_count = 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_RECORDED:
            self.problems.append(text)

    def answer(self, what: str, got: object, old: int, new: int) -> None:
        if got == old:
            self.old += 1
        elif got == new:
            self.new += 1
        else:
            self.problem(f"{what}: got {got!r}, expected {old} or {new}")


def one_round(entries: list[list], fixed: list[list], rng: random.Random, tally: Tally) -> None:
    """One lookup of each kind, on random entries."""
    symbol, exchange, old, new = rng.choice(entries)
    kind = rng.randrange(50)  # searches (the last kind) always read the database: 1 in 50
    try:
        if kind < 30:
            tally.answer(f"{exchange}:{symbol}", get_token_from_symbol(symbol, exchange), old, new)
        elif kind < 40 and fixed:
            symbol, exchange, token, _ = rng.choice(fixed)
            got = get_symbol_from_token(token, exchange)
            if got != symbol:
                tally.problem(f"token {exchange}:{token}: got {got!r}, expected {symbol}")
        elif kind < 49:
            picks = [rng.choice(entries) for _ in range(BATCH)]
            batch = get_tokens([(s, e) for s, e, _, _ in picks])
            if batch.missing:
                tally.problem(f"batch: missing {batch.missing[:3]}")
            for s, e, o, n in picks:
                if (s, e) in batch:
                    tally.answer(f"batch {e}:{s}", batch[(s, e)], o, n)
        else:
            found = search_instruments(symbol, exchange=exchange, limit=1)
            if not found or found[0].symbol != symbol:
                tally.problem(f"search {exchange}:{symbol}: got {found!r}")
            else:
                tally.answer(f"search {exchange}:{symbol}", found[0].token, old, new)
    except Exception as exc:  # every failure is reported to the parent, which fails the test
        tally.problem(f"{exchange}:{symbol} kind {kind}: {type(exc).__name__}: {exc}")
    tally.lookups += 1


def final_check(entries: list[list], generation: int, tally: Tally) -> dict:
    deadline = time.monotonic() + 15
    while current_generation(broker=settings.JAINAM_BROKER) < generation:
        if time.monotonic() > deadline:
            return {
                "final_generation": current_generation(broker=settings.JAINAM_BROKER),
                "final_wrong": ["generation"],
            }
        time.sleep(0.05)
    wrong: list[str] = []
    for start in range(0, len(entries), 500):
        chunk = entries[start : start + 500]
        batch = get_tokens([(s, e) for s, e, _, _ in chunk])
        wrong.extend(
            f"{e}:{s} -> {batch.get((s, e))} (new {n})"
            for s, e, _, n in chunk
            if batch.get((s, e)) != n
        )
    return {
        "final_generation": current_generation(broker=settings.JAINAM_BROKER),
        "final_wrong": wrong[:MAX_RECORDED],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("expect", type=Path)
    parser.add_argument("stop", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clear-every", type=int, default=0)
    parser.add_argument("--cache-retry", type=float, default=None)
    parser.add_argument("--pause", type=float, default=0.002, help="sleep after each lookup")
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()
    if args.cache_retry is not None:
        settings.JAINAM_LOOKUP_CACHE_RETRY = args.cache_retry

    entries = json.loads(args.expect.read_text())["entries"]
    fixed = [entry for entry in entries if entry[2] == entry[3]]
    rng = random.Random(args.seed)
    tally = Tally()
    deadline = time.monotonic() + args.max_seconds
    generation = current_generation(broker=settings.JAINAM_BROKER)
    print("READY", flush=True)
    print(f"GEN {generation}", flush=True)
    while not args.stop.exists():
        if time.monotonic() > deadline:
            tally.problem("the parent never asked the probe to stop")
            break
        one_round(entries, fixed, rng, tally)
        if args.clear_every and tally.lookups % args.clear_every == 0:
            clear_process_memory(keep_generation=True)
        if tally.lookups % 100 == 0:
            print(f"COUNT {tally.lookups}", flush=True)
        time.sleep(args.pause)  # leave most of the CPU to the sync on a small machine
        seen = current_generation(broker=settings.JAINAM_BROKER)
        if seen != generation:
            generation = seen
            print(f"GEN {generation}", flush=True)

    committed = int(args.stop.read_text() or 0)
    report = {
        "lookups": tally.lookups,
        "old": tally.old,
        "new": tally.new,
        "problem_count": tally.problem_count,
        "problems": tally.problems,
        **final_check(entries, committed, tally),
    }
    print("REPORT " + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
