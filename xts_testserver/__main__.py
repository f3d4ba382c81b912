"""Run the XTS test server as a process.

    python -m xts_testserver --dataset full --host 127.0.0.1 --port 0 [--variant N] [--url-file F]

Datasets: ``samples`` (real lines as copied), ``samples-live`` (the same with live expiries),
``full`` (generated, relative to today in Asia/Kolkata or ``--anchor``) and ``full-expired``
(``full`` plus contracts that expired before the anchor, for a sync to skip).

Prints ``market_url=...``, ``interactive_url=...`` and ``control_url=...`` lines on stdout once it
is listening (and writes the same lines to ``--url-file``), then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from xts_testserver import datasets, generator
from xts_testserver.server import XTSTestServer


def _key_pair(text: str) -> tuple[str, str]:
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise argparse.ArgumentTypeError("expected KEY:SECRET")
    return key, secret


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xts_testserver", description="Serve the XTS API for tests and demos."
    )
    parser.add_argument("--dataset", choices=datasets.DATASETS, default="samples")
    parser.add_argument("--variant", type=int, default=0, help="N > 0 changes a few tokens")
    parser.add_argument(
        "--anchor",
        type=date.fromisoformat,
        default=generator.ANCHOR,
        help="trading day the full and samples-live expiries are relative to (ISO date;"
        " default: today in Asia/Kolkata)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--url-file", type=Path, help="also write the URL lines to this file")
    parser.add_argument("--data-dir", type=Path, help="directory of the sample master files")
    parser.add_argument(
        "--market-credentials",
        type=_key_pair,
        metavar="KEY:SECRET",
        help="require this market-data key pair and a token on master calls",
    )
    parser.add_argument(
        "--interactive-credentials",
        type=_key_pair,
        metavar="KEY:SECRET",
        help="require this interactive key pair",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    server = XTSTestServer(
        dataset=args.dataset,
        variant=args.variant,
        anchor=args.anchor,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        market_credentials=args.market_credentials,
        interactive_credentials=args.interactive_credentials,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    try:
        lines = (
            f"market_url={server.market_url}\n"
            f"interactive_url={server.interactive_url}\n"
            f"control_url={server.control_url}\n"
        )
        if args.url_file:
            partial = args.url_file.with_name(args.url_file.name + ".partial")
            partial.write_text(lines, encoding="utf-8")
            os.replace(partial, args.url_file)
        sys.stdout.write(lines)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
