"""Parse time of the XTS master parser, per segment and in total, against a floor.

The floor is a plain ``pandas.read_csv(sep="|", header=None)`` of the same text (every field
a string, no parsing rules): what splitting the text alone costs. Each figure is the median of
``--rounds`` runs, all measured in the same process, segments interleaved. When the repository
history holds the previous parser (the single-module ``jainam_prop/master_parser.py``), it is
loaded from git and measured too ("old").

    .venv/bin/python bench/bench_parser.py            # the generated "full" master
    .venv/bin/python bench/bench_parser.py --smoke    # the small "samples" master (CI)
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jainam_prop.master_parser import parse_master  # noqa: E402
from jainam_prop.vocabulary import MASTER_SEGMENTS  # noqa: E402
from xts_testserver import datasets  # noqa: E402

OLD_PATH = "jainam_prop/master_parser.py"


def floor(text: str) -> pd.DataFrame:
    """Split the text with pandas' C reader, no rules (23 = the widest layout)."""
    return pd.read_csv(
        io.StringIO(text),
        sep="|",
        header=None,
        names=range(23),
        dtype=str,
        keep_default_na=False,
        quoting=3,
    )


def old_parser(ref: str | None) -> tuple[str, ModuleType] | None:
    """The previous single-module parser from git (``ref``, or the last commit holding it)."""
    try:
        if ref is None:
            deleted = subprocess.run(
                ["git", "log", "-1", "--format=%H", "--diff-filter=D", "--", OLD_PATH],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            if not deleted:
                return None
            ref = f"{deleted}^"
        source = subprocess.run(
            ["git", "show", f"{ref}:{OLD_PATH}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "old_master_parser.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_master_parser", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_master_parser"] = module
    spec.loader.exec_module(module)
    label = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return label or ref, module


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sample master, few rounds")
    parser.add_argument("--rounds", type=int, default=None, help="runs per figure (median)")
    parser.add_argument("--old", metavar="REF", help="git ref of the previous parser")
    parser.add_argument("--no-old", action="store_true", help="do not measure the old parser")
    args = parser.parse_args(argv)
    dataset = "samples" if args.smoke else "full"
    rounds = args.rounds or (3 if args.smoke else 5)
    old = None if args.no_old else old_parser(args.old)

    texts = {segment: datasets.master_text(dataset, segment) for segment in MASTER_SEGMENTS}
    header = f"{'segment':8} {'lines':>8} {'rows':>8} {'floor s':>8} {'new s':>8}"
    if old:
        header += f" {'old s':>8} {'old/new':>8}"
    print(f"dataset {dataset!r}, median of {rounds} rounds")
    if old:
        print(f"old = jainam_prop/master_parser.py at {old[0]}")
    elif not args.no_old:
        print("old parser not found in git history: not measured")
    print(header)
    parsers: dict[str, Callable[..., object]] = {
        "floor": lambda text, segment: floor(text),
        "new": parse_master,
    }
    if old:
        parsers["old"] = old[1].parse_master
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # rounds outermost: a busy moment hits every parser alike
        for segment, text in texts.items():
            for kind, parse in parsers.items():
                run = functools.partial(parse, text, segment=segment)
                times.setdefault((segment, kind), []).append(seconds(run))
    totals = dict.fromkeys(parsers, 0.0)
    total_lines = total_rows = 0
    for segment, text in texts.items():
        lines = text.count("\n") + 1 if text else 0
        rows = len(parse_master(text, segment=segment).rows)
        figures = {kind: statistics.median(times[segment, kind]) for kind in parsers}
        print(_line(segment, lines, rows, figures))
        for kind, value in figures.items():
            totals[kind] += value
        total_lines += lines
        total_rows += rows
    print(_line("total", total_lines, total_rows, totals))
    return 0


def _line(label: str, lines: int, rows: int, figures: dict[str, float]) -> str:
    line = f"{label:8} {lines:8d} {rows:8d} {figures['floor']:8.3f} {figures['new']:8.3f}"
    if "old" in figures:
        line += f" {figures['old']:8.3f} {figures['old'] / figures['new']:8.2f}"
    return line


if __name__ == "__main__":
    raise SystemExit(main())
