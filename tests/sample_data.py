"""Real XTS sample lines (tests/data) with live dates, for tests that need contracts alive today.

The sample files hold real lines from dumps of 2024-2026: many of their contracts are dead by
now, and a sync or a lookup that skips or refuses dead contracts would see none of them. These
helpers move every ContractExpiration of one segment's sample by ONE whole number of weeks
(weekday and time of day kept, so weekly/monthly patterns survive) such that the earliest
expiry falls in the week starting on ``today``: every contract of the file is then live. Only
the expiry field moves; Description and DisplayName keep their original dates (the parser
does not read them for symbols). Cash, index and MCX spot lines are unchanged.

Compute expected symbols through the vocabulary, never by hand, so tests never rot::

    from tests.sample_data import live_master, expected_symbol, live_expiry
    from jainam_prop.vocabulary import today_ist

    today = today_ist()
    text = live_master("NSEFO", today=today)            # serve or parse this
    symbol = expected_symbol("NSEFO", 62, today=today)  # NIFTY<DDMMMYY>FUT of line 62
    expiry = live_expiry("NSEFO", 62, today=today)      # its shifted expiry date

The XTS test server serves the same text as its ``samples-live`` dataset
(``XTSTestServer(dataset="samples-live")``, anchor = today in Asia/Kolkata by default): both
use ``xts_testserver.datasets.shift_expiries`` and ``weeks_to_live``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from jainam_prop.vocabulary import derivative_symbol
from xts_testserver.datasets import earliest_expiry, shift_expiries, weeks_to_live

DATA = Path(__file__).parent / "data"

_OPTION_KINDS = {"3": "CE", "4": "PE"}


def sample_text(segment: str) -> str:
    """The sample master of ``segment`` as copied (tests/data/<SEGMENT>.txt)."""
    return (DATA / f"{segment}.txt").read_text(encoding="utf-8").rstrip("\n")


def shift_weeks(segment: str, *, today: date) -> int:
    """The whole weeks by which ``segment``'s sample expiries move (0 without expiries)."""
    return weeks_to_live(sample_text(segment), today=today)


def live_master(segment: str, *, today: date) -> str:
    """The sample master of ``segment`` with every contract live on ``today``."""
    text = sample_text(segment)
    return shift_expiries(text, weeks=weeks_to_live(text, today=today))


def live_lines(segment: str, *, today: date) -> list[str]:
    return live_master(segment, today=today).split("\n")


def live_line(segment: str, line_no: int, *, today: date) -> str:
    """Line ``line_no`` (1-based) of :func:`live_master`."""
    return live_lines(segment, today=today)[line_no - 1]


def live_expiry(segment: str, line_no: int, *, today: date) -> date | None:
    """The shifted expiry of sample line ``line_no`` (None for lines without one)."""
    fields = sample_text(segment).split("\n")[line_no - 1].split("|")
    if fields[2] not in ("1", "2", "4"):
        return None
    original = date.fromisoformat(fields[16][:10])
    return original + timedelta(weeks=shift_weeks(segment, today=today))


def earliest_live_expiry(segment: str, *, today: date) -> date | None:
    """The earliest expiry of :func:`live_master` (within ``today`` .. ``today`` + 6 days)."""
    return earliest_expiry(live_master(segment, today=today))


def expected_symbol(segment: str, line_no: int, *, today: date) -> str:
    """The OpenAlgo symbol the parser gives sample line ``line_no`` of :func:`live_master`.

    Futures ``NAME+DDMMMYY+FUT`` and options ``NAME+DDMMMYY+STRIKE+CE|PE`` through
    :func:`jainam_prop.vocabulary.derivative_symbol`; cash lines ``NAME`` (NSE series other
    than EQ: ``NAME-SERIES``). Raises ValueError for lines without an OpenAlgo form (spreads,
    MCX spot rows).
    """
    fields = sample_text(segment).split("\n")[line_no - 1].split("|")
    name, kind = fields[3].strip(), fields[2]
    if kind == "8":
        series = fields[5].strip().upper()
        if segment == "NSECM" and series != "EQ":
            return f"{name.upper()}-{series}"
        return name.upper()
    expiry = live_expiry(segment, line_no, today=today)
    if kind == "1" and expiry is not None:
        return derivative_symbol(name=name, expiry=expiry, strike=None, kind="FUT")
    if kind == "2" and expiry is not None:
        return derivative_symbol(
            name=name,
            expiry=expiry,
            strike=Decimal(fields[17]),
            kind=_OPTION_KINDS[fields[18]],
        )
    raise ValueError(f"{segment} sample line {line_no} has no OpenAlgo symbol (type {kind})")
