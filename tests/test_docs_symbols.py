"""Every concrete symbol README.md and docs/*.md name resolves against what bin/demo synced.

bin/demo syncs the XTS test server's ``full`` dataset, generated relative to today
(Asia/Kolkata). This test builds that dataset in-process (no database, no network), parses it
as the sync does (``parse_master`` with ``today=today_ist()``, ``parse_index_list``,
``merge_parsed``) and checks the docs against the stored ``(exchange, symbol)`` pairs.

The convention (stated for writers at the top of docs/symbols.md):

- Concrete examples, checked: in code (fenced blocks and inline code spans),
  ``EXCHANGE:TEXT`` pairs (``NSE:SBIN``, ``--search NFO:NIFTY``: some stored symbol on that
  exchange starts with TEXT), JSON objects with ``"symbol"`` (and ``"exchange"``, when given),
  and ``lookup_token SYMBOL EXCHANGE ...`` command lines.
  A JSON object with ``"instrumenttype"`` (an ``/api/v1/expiry`` request) names an
  underlying: some stored symbol on that exchange starts with it.
- A dated contract (a future or option symbol, ``vocabulary.parse_symbol``) changes with
  today, so it may appear only as a format illustration: in a table row, under a heading that
  says "format", on a line that says "format example", or in a fenced block whose info string
  says ``format`` (```` ```json format ````). Anywhere else it fails, even when it happens to
  resolve today.
- Placeholders are never checked: any text with ``<...>`` or ``$`` in it
  (``NIFTY<DDMMMYY>FUT``, ``"$KEY"``), and the words of ``lookup_token SYMBOL EXCHANGE``.
- Format illustrations (table rows, "format" headings, "format example" lines, ``format``
  blocks) are not checked at all.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from jainam_prop.master_parser import merge_parsed, parse_index_list, parse_master
from jainam_prop.vocabulary import EXCHANGES, parse_symbol, today_ist
from xts_testserver import datasets

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_EXCHANGE = "|".join(sorted(EXCHANGES, key=len, reverse=True))
PAIR = re.compile(rf"(?<![\w<])({_EXCHANGE}):([A-Z0-9][A-Z0-9&_.\-]*)(?![\w<>])")
OBJECT = re.compile(r"\{[^{}]*\}")
JSON_FIELD = re.compile(r'"(symbol|exchange)"\s*:\s*"([^"]*)"')
LOOKUP = re.compile(r"lookup_token((?:\s+[^\s|;&`]+)+)")
DATED = re.compile(r"(?<![\w<])[A-Z][A-Z0-9&\-]*\d{2}[A-Z]{3}\d{2}[0-9.]*(?:FUT|CE|PE)(?![\w>])")
FENCE = re.compile(r"^\s*```")
INLINE = re.compile(r"`([^`]+)`")
HEADING = re.compile(r"^#{1,6}\s+(.*)")


@functools.lru_cache(maxsize=1)
def demo_symbols() -> frozenset[tuple[str, str]]:
    """The (exchange, symbol) pairs a sync of the ``full`` dataset stores today."""
    today = today_ist()
    parts = [
        parse_master(
            datasets.master_text("full", segment, anchor=today), segment=segment, today=today
        )
        for segment in datasets.SEGMENTS
    ]
    parts += [
        parse_index_list(datasets.index_entries("full", segment), segment=segment)
        for segment in datasets.INDEX_SEGMENTS.values()
    ]
    rows = merge_parsed(parts).rows
    return frozenset(zip(rows["exchange"], rows["symbol"], strict=True))


def code_lines(text: str) -> list[tuple[int, str, str, bool]]:
    """(line number, code text, heading, format context) for every piece of code in a page.

    A fenced block's lines come whole; other lines give their inline code spans. Format
    context: a table row, a heading that says "format", a line saying "format example", or a
    fenced block whose info string says ``format``.
    """
    pieces: list[tuple[int, str, str, bool]] = []
    heading, fenced, format_block = "", False, False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            format_block = fenced and "format" in line.strip().removeprefix("```").split()
            continue
        if not fenced and (match := HEADING.match(line)):
            heading = match.group(1)
        formatted = (
            "format" in heading.lower()
            or line.lstrip().startswith("|")
            or "format example" in line.lower()
            or format_block
        )
        if fenced:
            pieces.append((number, line, heading, formatted))
        else:
            pieces += [(number, span, heading, formatted) for span in INLINE.findall(line)]
    return pieces


def _known(symbol: str, exchange: str | None, known: frozenset[tuple[str, str]]) -> bool:
    if exchange is None:
        return any(symbol == stored for _, stored in known)
    return (exchange, symbol) in known


def problems(text: str, known: frozenset[tuple[str, str]]) -> list[str]:
    """What in ``text`` breaks the convention: one message per bad example."""
    found: list[str] = []
    pieces = code_lines(text)
    # JSON objects may span lines of one fenced block: join consecutive code lines.
    joined = "\n".join(code for _, code, _, formatted in pieces if not formatted)
    for number, code, _, formatted in pieces:
        if formatted:
            continue
        for dated in DATED.findall(code):
            if parse_symbol(dated) is not None:
                found.append(
                    f"line {number}: dated contract {dated} as a concrete example (it changes "
                    "with today: use NSE:SBIN / NSE_INDEX:NIFTY, a <DDMMMYY> placeholder, or "
                    "show --search / /api/v1/search)"
                )
        for exchange, prefix in PAIR.findall(code):
            if not any(e == exchange and s.startswith(prefix) for e, s in known):
                found.append(f"line {number}: {exchange}:{prefix} names no synced symbol")
        for match in LOOKUP.finditer(code):
            args: list[str] = []
            for arg in match.group(1).split():
                if arg.startswith("-"):
                    break
                args.append(arg)
            for symbol, exchange in zip(args[::2], args[1::2], strict=False):
                placeholder = exchange == "EXCHANGE" or any(c in symbol + exchange for c in "<$")
                if not placeholder and not _known(symbol, exchange, known):
                    found.append(f"line {number}: lookup_token {symbol} {exchange} not synced")
    for body in OBJECT.findall(joined):
        fields = dict(JSON_FIELD.findall(body))
        json_symbol = fields.get("symbol")
        if not json_symbol or "<" in json_symbol or "$" in json_symbol:
            continue
        json_exchange = fields.get("exchange")
        if json_exchange is not None and ("<" in json_exchange or json_exchange not in EXCHANGES):
            continue
        if "instrumenttype" in body:  # an expiry request names an underlying
            if not any(e == json_exchange and s.startswith(json_symbol) for e, s in known):
                found.append(f'JSON underlying "{json_symbol}" on {json_exchange} not synced')
        elif not _known(json_symbol, json_exchange, known):
            where = json_exchange or "any exchange"
            found.append(f'JSON "symbol": "{json_symbol}" on {where} not synced')
    return found


def test_the_demo_dataset_holds_the_everyday_examples():
    known = demo_symbols()
    assert {("NSE", "SBIN"), ("NSE_INDEX", "NIFTY"), ("BSE_INDEX", "SENSEX")} <= known
    assert any(e == "NFO" and s.startswith("NIFTY") and s.endswith("FUT") for e, s in known)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_symbol_resolves(page: Path):
    assert problems(page.read_text(encoding="utf-8"), demo_symbols()) == []


def test_the_check_catches_made_up_and_dated_symbols():
    known = demo_symbols()
    bad = "\n".join(
        [
            "# Orders",
            "```json",
            '{"symbol": "NOSUCHSCRIP", "exchange": "NSE",',
            ' "quantity": "1"}',
            "```",
            "Look at `NFO:ZZNOSUCH` and run `manage.py lookup_token ZZNOSUCH NSE`.",
            "Buy `NIFTY29DEC26FUT` now.",
        ]
    )
    found = problems(bad, known)
    assert len(found) == 4, found
    assert any("NOSUCHSCRIP" in p for p in found)
    assert any("NFO:ZZNOSUCH" in p for p in found)
    assert any("lookup_token ZZNOSUCH" in p for p in found)
    assert any("dated contract NIFTY29DEC26FUT" in p for p in found)


def test_format_illustrations_and_placeholders_pass():
    good = "\n".join(
        [
            "| future | `NAME + DDMMMYY + FUT` | `BANKNIFTY24APR24FUT` |",
            "## Symbol format",
            "`NIFTY28NOV2424000CE` is an option.",
            "## Orders",
            '`{"symbol": "NIFTY<DDMMMYY>FUT", "exchange": "NFO"}` and `NSE:SBIN`',
            "`SENSEX50<DDMMMYY>FUT` (format example: `FINNIFTY30DEC25FUT`)",
            "```json format",
            '{"symbol": "BEL30NOV26FUT", "exchange": "NFO"}',
            "```",
            '`{"symbol": "NIFTY", "exchange": "NFO", "instrumenttype": "futures"}`',
        ]
    )
    assert problems(good, demo_symbols()) == []
