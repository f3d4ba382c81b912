"""Child process of the cross-process coherence test in test_lookups.py.

Usage: python tests/lookup_probe.py SYMBOL EXCHANGE NEW_TOKEN MAX_SECONDS

Looks SYMBOL up in a loop (through the configured tiers, like a gunicorn worker would) and
prints one line per lookup: ``<time.time() before the lookup> <token|NOTFOUND|ERROR ...>``.
Prints ``READY`` first. Stops 1.5 s after it first sees NEW_TOKEN, or after MAX_SECONDS.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from jainam_prop.errors import SymbolNotFound  # noqa: E402
from jainam_prop.services import get_token_from_symbol  # noqa: E402


def main() -> int:
    symbol, exchange, new_token, max_seconds = sys.argv[1:5]
    deadline = time.time() + float(max_seconds)
    stop_at = None
    print("READY", flush=True)
    while time.time() < deadline and (stop_at is None or time.time() < stop_at):
        started = time.time()
        try:
            answer = str(get_token_from_symbol(symbol, exchange))
        except SymbolNotFound:
            answer = "NOTFOUND"
        except Exception as exc:  # reported to the parent, which fails the test
            answer = f"ERROR {type(exc).__name__}: {exc}"
        print(f"{started:.6f} {answer}", flush=True)
        if answer == new_token and stop_at is None:
            stop_at = time.time() + 1.5
        time.sleep(0.002)
    return 0


if __name__ == "__main__":
    sys.exit(main())
